//! One SVG chart per workload, drawn with plotters: throughput, p99 latency and server
//! CPU per request against the workload's level, one line per subject. CPU per request
//! is there because on a small machine the load generator often sets the throughput.

use anyhow::{anyhow, Result};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::results::comparison::CompareWorkload;
use crate::results::comparison::Comparison;
use crate::results::figures::Figures;

const SIZE: (u32, u32) = (1620, 460);
/// Width of the legend column on the right.
const LEGEND_WIDTH: u32 = 170;

/// A line: a subject's median at each level it has figures for (x is the level's
/// index, so 0 idle connections and 10,000 share one readable axis).
struct Line {
    /// The subject's place in the report, which picks its colour.
    index: usize,
    points: Vec<(f64, f64)>,
}

/// One panel of a chart: a figure against the workload's level.
struct Panel {
    title: &'static str,
    y_name: &'static str,
    figure: fn(&Figures) -> f64,
    /// Latencies span orders of magnitude: a logarithmic axis keeps them all readable.
    log_y: bool,
}

/// The chart of `workload` as SVG text.
pub fn svg(report: &Comparison, workload: &str, levels: &[usize]) -> Result<String> {
    let x_name = [
        CompareWorkload::Echo,
        CompareWorkload::Http,
        CompareWorkload::HttpClose,
        CompareWorkload::Hold,
        CompareWorkload::Idle,
    ]
    .into_iter()
    .find(|w| w.name() == workload)
    .map_or("level", CompareWorkload::level_name);
    let panels = [
        Panel {
            title: "throughput",
            y_name: "requests/s",
            figure: |f| f.throughput_per_s,
            log_y: false,
        },
        Panel {
            title: "p99 latency",
            y_name: "p99 (ms)",
            figure: |f| f.p99_us / 1000.0,
            log_y: true,
        },
        Panel {
            title: "server CPU per request",
            y_name: "CPU (us/request)",
            figure: |f| f.cpu_us_per_req.unwrap_or(f64::NAN),
            log_y: false,
        },
    ];
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let (plots, legend_area) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
        let areas = plots.split_evenly((1, panels.len()));
        for (area, p) in areas.iter().zip(panels) {
            let caption = format!("{workload}: {}", p.title);
            panel(
                area,
                &caption,
                p.y_name,
                x_name,
                levels,
                &lines(report, workload, levels, p.figure),
                p.log_y,
            )?;
        }
        legend(&legend_area, &report.subjects)?;
        root.present().map_err(plot_err)?;
    }
    Ok(text)
}

fn lines(
    report: &Comparison,
    workload: &str,
    levels: &[usize],
    value: fn(&Figures) -> f64,
) -> Vec<Line> {
    report
        .subjects
        .iter()
        .enumerate()
        .map(|(index, subject)| Line {
            index,
            points: levels
                .iter()
                .enumerate()
                .filter_map(|(i, &level)| {
                    report
                        .cells
                        .iter()
                        .find(|c| {
                            &c.subject == subject && c.workload == workload && c.level == level
                        })
                        .and_then(|c| c.figures)
                        .map(|f| (i as f64, value(&f.median)))
                        .filter(|&(_, v)| v.is_finite() && v > 0.0)
                })
                .collect(),
        })
        .filter(|line| !line.points.is_empty())
        .collect()
}

fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    caption: &str,
    y_name: &str,
    x_name: &str,
    levels: &[usize],
    lines: &[Line],
    log_y: bool,
) -> Result<()> {
    let max = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
        .max(1e-3);
    let min = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .fold(f64::INFINITY, f64::min)
        .min(max);
    let x_range = -0.25..(levels.len().max(1) as f64 - 0.75);
    let label_x = |x: &f64| -> String {
        let i = x.round();
        if (x - i).abs() < 0.01 && i >= 0.0 {
            levels
                .get(i as usize)
                .map_or_else(String::new, |l| l.to_string())
        } else {
            String::new()
        }
    };
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64);
    if log_y {
        let chart = builder
            .build_cartesian_2d(x_range, ((min / 2.0).max(1e-3)..max * 2.0).log_scale())
            .map_err(plot_err)?;
        draw(chart, x_name, y_name, levels.len(), &label_x, lines)
    } else {
        let chart = builder
            .build_cartesian_2d(x_range, 0.0..max * 1.1)
            .map_err(plot_err)?;
        draw(chart, x_name, y_name, levels.len(), &label_x, lines)
    }
}

/// The axes, grid and lines of a panel, whatever its y scale.
fn draw<'a, Y>(
    mut chart: ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
    x_name: &str,
    y_name: &str,
    levels: usize,
    label_x: &dyn Fn(&f64) -> String,
    lines: &[Line],
) -> Result<()>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_labels(levels * 4 + 1)
        .x_label_formatter(label_x)
        .y_label_formatter(&|v| human(*v))
        .light_line_style(WHITE)
        .x_desc(x_name)
        .y_desc(y_name)
        .draw()
        .map_err(plot_err)?;
    draw_lines(&mut chart, lines)
}

fn draw_lines<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    lines: &[Line],
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for line in lines {
        let color = Palette99::pick(line.index).to_rgba();
        chart
            .draw_series(LineSeries::new(line.points.clone(), color.stroke_width(2)))
            .map_err(plot_err)?;
        chart
            .draw_series(
                line.points
                    .iter()
                    .map(|&p| Circle::new(p, 3, color.filled())),
            )
            .map_err(plot_err)?;
    }
    Ok(())
}

/// The legend, in a column of its own so it never hides a line.
fn legend(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    subjects: &[String],
) -> Result<()> {
    let font = ("sans-serif", 12).into_font().color(&BLACK);
    for (i, subject) in subjects.iter().enumerate() {
        let y = 40 + 18 * i as i32;
        let color = Palette99::pick(i).to_rgba();
        area.draw(&PathElement::new(
            vec![(6, y), (28, y)],
            color.stroke_width(3),
        ))
        .map_err(plot_err)?;
        area.draw(&Text::new(subject.clone(), (34, y - 6), font.clone()))
            .map_err(plot_err)?;
    }
    Ok(())
}

/// Axis numbers a person reads: 120k, 1.5M, 0.25, 3.
fn human(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(&format!("{:.2}", v / 1e6)))
    } else if a >= 1e3 {
        format!("{}k", trim(&format!("{:.1}", v / 1e3)))
    } else if a >= 1.0 || a == 0.0 {
        trim(&format!("{v:.1}"))
    } else {
        trim(&format!("{v:.3}"))
    }
}

fn trim(text: &str) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text.to_string()
    }
}

fn plot_err<E: std::fmt::Debug>(err: E) -> anyhow::Error {
    anyhow!("drawing a chart: {err:?}")
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn axis_numbers_are_short() {
        assert_eq!(human(140_000.0), "140k");
        assert_eq!(human(1_500_000.0), "1.5M");
        assert_eq!(human(12_500.0), "12.5k");
        assert_eq!(human(3.0), "3");
        assert_eq!(human(0.7000000000001), "0.7");
        assert_eq!(human(0.0), "0");
    }
}
