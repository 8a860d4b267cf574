//! One SVG chart per workload, drawn with plotters: throughput (left) and p99 latency
//! (right) against the workload's level, one line per subject.

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use crate::compare::plan::Workload;
use crate::compare::results::Report;

const SIZE: (u32, u32) = (1100, 460);

/// A line: a subject's median at each level it has figures for (x is the level's
/// index, so 0 idle connections and 10,000 share one readable axis).
struct Line {
    label: String,
    points: Vec<(f64, f64)>,
}

/// The chart of `workload` as SVG text.
pub fn svg(report: &Report, workload: &str, levels: &[usize]) -> Result<String> {
    let throughput = lines(report, workload, levels, |f| f.throughput_per_s);
    let p99 = lines(report, workload, levels, |f| f.p99_us / 1000.0);
    let x_name = [Workload::Echo, Workload::Http, Workload::HttpClose, Workload::Hold, Workload::Idle]
        .into_iter()
        .find(|w| w.name() == workload)
        .map_or("level", Workload::level_name);
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let (left, right) = root.split_horizontally(SIZE.0 / 2);
        panel(&left, &format!("{workload}: throughput"), "requests/s", x_name, levels, &throughput, false)?;
        panel(&right, &format!("{workload}: p99 latency"), "p99 (ms)", x_name, levels, &p99, true)?;
        root.present().map_err(plot_err)?;
    }
    Ok(text)
}

fn lines(report: &Report, workload: &str, levels: &[usize], value: fn(&crate::compare::results::Figures) -> f64) -> Vec<Line> {
    report
        .subjects
        .iter()
        .map(|subject| Line {
            label: subject.clone(),
            points: levels
                .iter()
                .enumerate()
                .filter_map(|(i, &level)| {
                    report
                        .cells
                        .iter()
                        .find(|c| &c.subject == subject && c.workload == workload && c.level == level)
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
            levels.get(i as usize).map_or_else(String::new, |l| l.to_string())
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
        let mut chart = builder
            .build_cartesian_2d(x_range, ((min / 2.0).max(1e-3)..max * 2.0).log_scale())
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_labels(levels.len() * 4 + 1)
            .x_label_formatter(&label_x)
            .x_desc(x_name)
            .y_desc(y_name)
            .draw()
            .map_err(plot_err)?;
        draw_lines(&mut chart, lines)
    } else {
        let mut chart = builder.build_cartesian_2d(x_range, 0.0..max * 1.1).map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_labels(levels.len() * 4 + 1)
            .x_label_formatter(&label_x)
            .x_desc(x_name)
            .y_desc(y_name)
            .draw()
            .map_err(plot_err)?;
        draw_lines(&mut chart, lines)
    }
}

fn draw_lines<'a, X, Y>(chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>, lines: &[Line]) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (i, line) in lines.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(line.points.clone(), color.stroke_width(2)))
            .map_err(plot_err)?
            .label(line.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        chart
            .draw_series(line.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(plot_err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 11))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(plot_err)?;
    Ok(())
}

fn plot_err<E: std::fmt::Debug>(err: E) -> anyhow::Error {
    anyhow!("drawing a chart: {err:?}")
}
