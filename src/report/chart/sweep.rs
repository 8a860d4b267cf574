//! The sweep of one workload: the ranking figure against the workload's level (clients,
//! idle connections, connections held), as small multiples, one panel per family
//! present, on one shared y scale so panels compare. Each line is labelled at its last
//! point with the model's name and figure; the labels are spread apart so none hides
//! another. A model with no figure at a level (select past FD_SETSIZE) stops there.

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    draw_title, family_index, human, line_colour, plot_err, ranking, ranking_axis, ranking_label,
    Chart, ChartKind, Plot, FAMILY_NAMES, WIDTH,
};
use crate::results::comparison::{CompareWorkload, Comparison};

const PANEL_HEIGHT: u32 = 340;
const TITLE: u32 = 40;
/// Room right of a panel's last level for the line labels, in pixels.
const LABEL_ROOM: u32 = 130;
/// The least vertical distance between two line labels, in pixels.
const LABEL_GAP: f64 = 15.0;

/// One model's line: its figure at each level index it has one for.
struct Line {
    name: String,
    points: Vec<(f64, f64)>,
}

/// The sweep of `workload` over `levels`; `None` when no model has a figure.
pub fn chart(report: &Comparison, workload: &str, levels: &[usize]) -> Result<Option<Chart>> {
    let panels = panels(report, workload, levels);
    if panels.is_empty() {
        return Ok(None);
    }
    let level_name = level_name(workload);
    let title = format!("{workload}: CPU per request against {level_name}");
    let svg = draw(report, &title, level_name, levels, &panels)?;
    Ok(Some(Chart {
        file: format!("{workload}-sweep.svg"),
        title,
        workload: workload.to_string(),
        level: None,
        kind: ChartKind::Sweep,
        svg,
    }))
}

/// What a level means for `workload`.
fn level_name(workload: &str) -> &'static str {
    <CompareWorkload as clap::ValueEnum>::from_str(workload, false)
        .map_or("level", CompareWorkload::level_name)
}

/// The lines of each family present, in family order.
fn panels(report: &Comparison, workload: &str, levels: &[usize]) -> Vec<(usize, Vec<Line>)> {
    let mut panels: Vec<(usize, Vec<Line>)> = Vec::new();
    for subject in &report.subjects {
        let points: Vec<(f64, f64)> = levels
            .iter()
            .enumerate()
            .filter_map(|(i, &level)| {
                let cell = report.cell(subject, workload, level)?;
                Some((i as f64, ranking(&cell.figures?.median)?))
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        let family = family_index(subject);
        let line = Line {
            name: subject.clone(),
            points,
        };
        match panels.iter_mut().find(|(f, _)| *f == family) {
            Some((_, lines)) => lines.push(line),
            None => panels.push((family, vec![line])),
        }
    }
    panels.sort_by_key(|(f, _)| *f);
    panels
}

fn draw(
    report: &Comparison,
    title: &str,
    level_name: &str,
    levels: &[usize],
    panels: &[(usize, Vec<Line>)],
) -> Result<String> {
    let cols = panels.len().min(3);
    let grid_rows = panels.len().div_ceil(cols);
    let height = TITLE + grid_rows as u32 * PANEL_HEIGHT;
    let top = panels
        .iter()
        .flat_map(|(_, lines)| lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)))
        .fold(1.0f64, f64::max)
        * 1.1;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let (head, body) = root.split_vertically(TITLE);
        draw_title(&head, title)?;
        let areas = body.split_evenly((grid_rows, cols));
        for (area, (family, lines)) in areas.iter().zip(panels) {
            let axes = Axes {
                level_name,
                levels,
                top,
            };
            panel(area, report, FAMILY_NAMES[*family], &axes, lines)?;
        }
        root.present().map_err(plot_err)?;
    }
    Ok(text)
}

/// What every panel shares.
struct Axes<'a> {
    level_name: &'a str,
    levels: &'a [usize],
    /// The top of the shared y scale.
    top: f64,
}

fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    report: &Comparison,
    family: &str,
    axes: &Axes,
    lines: &[Line],
) -> Result<()> {
    let last = axes.levels.len().saturating_sub(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(family, ("sans-serif", 18))
        .margin(10)
        .margin_right(LABEL_ROOM)
        .x_label_area_size(50)
        .y_label_area_size(56)
        .build_cartesian_2d(-0.15..last + 0.15, 0.0..axes.top)
        .map_err(plot_err)?;
    let levels = axes.levels;
    let label_x = move |x: &f64| -> String {
        let i = x.round();
        if (x - i).abs() < 0.01 && i >= 0.0 {
            levels
                .get(i as usize)
                .map_or_else(String::new, |l| human(*l as f64))
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_labels(levels.len() * 4 + 1)
        .x_label_formatter(&label_x)
        .y_label_formatter(&|v| human(*v))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .x_desc(axes.level_name)
        .y_desc(ranking_axis(report))
        .axis_desc_style(("sans-serif", 14))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(plot_err)?;
    if report.floor_us_per_req.is_some() {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(-0.15, 1.0), (last + 0.15, 1.0)],
                RGBColor(150, 150, 150).stroke_width(1),
            )))
            .map_err(plot_err)?;
    }
    for (i, line) in lines.iter().enumerate() {
        let colour = line_colour(i);
        chart
            .draw_series(LineSeries::new(line.points.clone(), colour.stroke_width(2)))
            .map_err(plot_err)?;
        chart
            .draw_series(
                line.points
                    .iter()
                    .map(|&p| Circle::new(p, 3, colour.filled())),
            )
            .map_err(plot_err)?;
    }
    labels(&mut chart, report, lines)
}

/// Each line's name and last figure at its end, moved apart where they would overlap.
fn labels(chart: &mut Plot, report: &Comparison, lines: &[Line]) -> Result<()> {
    let ends: Vec<(f64, f64)> = lines
        .iter()
        .map(|l| *l.points.last().expect("a line has a point"))
        .collect();
    let pixel_y: Vec<f64> = ends
        .iter()
        .map(|&end| f64::from(chart.backend_coord(&end).1))
        .collect();
    let bottom = f64::from(chart.backend_coord(&(ends[0].0, 0.0)).1);
    let placed = spread(&pixel_y, LABEL_GAP, bottom);
    for (i, line) in lines.iter().enumerate() {
        let (x, v) = ends[i];
        let dy = (placed[i] - pixel_y[i]).round() as i32;
        let style = ("sans-serif", 15)
            .into_font()
            .color(&line_colour(i))
            .pos(Pos::new(HPos::Left, VPos::Center));
        let label = format!("{} {}", line.name, ranking_label(report, v));
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((x, v)) + Text::new(label, (9, dy), style),
            ))
            .map_err(plot_err)?;
    }
    Ok(())
}

/// Label positions near `wanted` (pixels, y growing downwards), each at least `gap`
/// from the next and none below `bottom`, in the same order as given: labels that
/// crowd are pushed down, then, if that took them past the bottom, back up.
fn spread(wanted: &[f64], gap: f64, bottom: f64) -> Vec<f64> {
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_by(|&a, &b| wanted[a].total_cmp(&wanted[b]));
    let mut placed = wanted.to_vec();
    let mut previous = f64::NEG_INFINITY;
    for &i in &order {
        placed[i] = wanted[i].max(previous + gap);
        previous = placed[i];
    }
    let mut next = bottom + gap;
    for &i in order.iter().rev() {
        placed[i] = placed[i].min(next - gap);
        next = placed[i];
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::testing::{cell, costs, report};

    #[test]
    fn labels_that_would_overlap_are_moved_apart_and_keep_their_order() {
        let placed = spread(&[100.0, 105.0, 50.0, 300.0], 15.0, 400.0);
        assert_eq!(placed, [100.0, 115.0, 50.0, 300.0]);
        assert_eq!(spread(&[10.0, 10.0, 10.0], 5.0, 100.0), [10.0, 15.0, 20.0]);
        assert_eq!(
            spread(&[98.0, 100.0, 99.0], 5.0, 100.0),
            [90.0, 100.0, 95.0],
            "labels at the bottom are pushed up"
        );
    }

    #[test]
    fn one_panel_per_family_and_each_line_named_at_its_end() {
        let mut r = report(
            &[("idle", &[0, 1000, 10_000])],
            vec![
                cell("poll", "idle", 0, 1, costs(1.0)),
                cell("poll", "idle", 1000, 2, costs(3.0)),
                cell("poll", "idle", 10_000, 2, costs(20.0)),
                cell("epoll", "idle", 0, 1, costs(1.1)),
                cell("epoll", "idle", 1000, 1, costs(1.1)),
                cell("epoll", "idle", 10_000, 1, costs(1.2)),
                cell("async", "idle", 0, 1, costs(1.4)),
            ],
        );
        r.subjects = vec!["poll".into(), "epoll".into(), "async".into()];
        let chart = chart(&r, "idle", &[0, 1000, 10_000])
            .unwrap()
            .expect("a chart");
        assert_eq!(
            (chart.kind, chart.file.as_str()),
            (ChartKind::Sweep, "idle-sweep.svg")
        );
        let doc = roxmltree::Document::parse(&chart.svg).expect("well-formed SVG");
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(str::trim))
            .collect();
        for expected in [
            "readiness",
            "async",
            "poll 20.00x",
            "epoll 1.20x",
            "async 1.40x",
            "10k",
        ] {
            assert!(texts.contains(&expected), "{expected}: {texts:?}");
        }
        assert!(
            !texts.contains(&"blocking"),
            "no panel for a family not measured"
        );
    }
}
