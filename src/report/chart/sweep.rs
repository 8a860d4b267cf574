//! The sweep of one workload: the ranking figure against the workload's level (clients,
//! idle connections, connections held), as small multiples, one panel per family
//! present, on one shared y scale so panels compare. Each line is labelled at its last
//! point with the model's name and figure; the labels are spread apart so none hides
//! another, as little as that takes, and kept inside the panel. A line has its family's
//! colour, as its bar has in the ranked charts, in a shade of its own within the panel.
//! A model with no figure at a level (select past FD_SETSIZE) stops there. A point where
//! the model starved clients or held fewer connections than asked is drawn as a faded
//! ring, not a dot, and the label says what it held, or starved, at the line's end.
//!
//! plotters draws every panel into one flat SVG; where each panel's labels belong (from
//! the left of its plotting area to the panel's right edge, between the plot's top and
//! its zero line) is added as an invisible `<rect class="panel">`, so a test in a
//! browser can check that every label lies inside its panel.

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    draw_title, family_index, family_shade, human, plot_err, ranking, ranking_axis, ranking_label,
    text_width, Chart, ChartKind, Plot, FAMILY_NAMES, WIDTH,
};
use crate::report::grouped;
use crate::results::comparison::{Cell, CompareWorkload, Comparison};
use crate::results::tiers::held_short;

const PANEL_HEIGHT: u32 = 340;
const TITLE: u32 = 40;
/// The font size of a line label, in pixels, and the least it shrinks to where a long
/// name would not fit its panel.
const LABEL_FONT: f64 = 15.0;
const LABEL_FONT_MIN: f64 = 10.0;
/// The least vertical distance between two line labels, in pixels.
const LABEL_GAP: f64 = 15.0;
/// From a line's end to its label, in pixels.
const LABEL_OFFSET: f64 = 9.0;
/// The most of a panel's width the labels may take.
const LABEL_ROOM_MAX: f64 = 0.45;
/// plotters cannot measure text: room kept beyond [`text_width`]'s estimate.
const LABEL_SLACK: f64 = 1.15;

/// One model's line: its figure at each level index it has one for, whether the
/// model starved clients or held fewer connections than asked there, and the label at
/// its end (its name, last figure, and what it held or starved there).
struct Line {
    name: String,
    points: Vec<(f64, f64)>,
    short: Vec<bool>,
    label: String,
}

/// The sweep of `workload` over `levels`; `None` when no model has a figure.
pub fn chart(report: &Comparison, workload: &str, levels: &[usize]) -> Result<Option<Chart>> {
    let panels = panels(report, workload, levels);
    if panels.is_empty() {
        return Ok(None);
    }
    let level_name = match (workload, report.load_hosts()) {
        ("idle", _) | (_, 1) => level_name(workload).to_string(),
        _ => format!("{} per host", level_name(workload)),
    };
    let title = format!("{workload}: CPU per request against {level_name}");
    let y_name = ranking_axis(report, workload);
    let svg = draw(report, &title, (&level_name, y_name), levels, &panels)?;
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
    workload
        .parse::<CompareWorkload>()
        .map_or("level", CompareWorkload::level_name)
}

/// What a cell fell short of, in a few words: `held 960 of 10,000`, `starved 5 of
/// 50`; `None` when it served every client and held every connection asked.
fn short_of(report: &Comparison, cell: &Cell) -> Option<String> {
    let median = cell.figures?.median;
    if let Some(held) = median.held.filter(|_| held_short(cell)) {
        let asked = report.connections_asked(&cell.workload, cell.level);
        return Some(format!(
            "held {} of {}",
            grouped(held as usize),
            grouped(asked)
        ));
    }
    let starved = median.starved.filter(|&s| s > 0.0)?;
    let clients = report.clients_in_all(&cell.workload, cell.level);
    Some(format!("starved {starved:.0} of {}", grouped(clients)))
}

/// The lines of each family present, in family order.
fn panels(report: &Comparison, workload: &str, levels: &[usize]) -> Vec<(usize, Vec<Line>)> {
    let mut panels: Vec<(usize, Vec<Line>)> = Vec::new();
    for subject in &report.subjects {
        let cells: Vec<(f64, &Cell, f64)> = levels
            .iter()
            .enumerate()
            .filter_map(|(i, &level)| {
                let cell = report.cell(subject, workload, level)?;
                Some((i as f64, cell, ranking(&cell.figures?.median)?))
            })
            .collect();
        let Some(&(_, last_cell, last)) = cells.last() else {
            continue;
        };
        let family = family_index(subject);
        let mut label = format!("{subject} {}", ranking_label(report, last));
        if let Some(what) = short_of(report, last_cell) {
            label.push_str(&format!(" ({what})"));
        }
        let line = Line {
            name: subject.clone(),
            label,
            points: cells.iter().map(|&(x, _, y)| (x, y)).collect(),
            short: cells
                .iter()
                .map(|(_, c, _)| short_of(report, c).is_some())
                .collect(),
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
    (level_name, y_name): (&str, &str),
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
    let panel_width = f64::from(WIDTH) / cols as f64;
    let axes = Axes {
        level_name,
        y_name,
        levels,
        top,
        label_room: label_room(panels, panel_width),
    };
    let mut text = String::new();
    let mut bounds = Vec::new();
    {
        let root = SVGBackend::with_string(&mut text, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let (head, body) = root.split_vertically(TITLE);
        draw_title(&head, title)?;
        let areas = body.split_evenly((grid_rows, cols));
        for (area, (family, lines)) in areas.iter().zip(panels) {
            bounds.push(panel(area, report, FAMILY_NAMES[*family], &axes, lines)?);
        }
        root.present().map_err(plot_err)?;
    }
    Ok(with_panel_bounds(&text, &bounds))
}

/// The room right of a panel's last level for the line labels, in pixels: enough for
/// the longest label, at most [`LABEL_ROOM_MAX`] of the panel.
fn label_room(panels: &[(usize, Vec<Line>)], panel_width: f64) -> u32 {
    let longest = panels
        .iter()
        .flat_map(|(_, lines)| lines.iter())
        .map(|l| text_width(&l.label, LABEL_FONT) * LABEL_SLACK)
        .fold(0.0, f64::max);
    (LABEL_OFFSET + longest + 6.0)
        .min(panel_width * LABEL_ROOM_MAX)
        .ceil() as u32
}

/// Pixel bounds: the x range and the y range.
type Bounds = (std::ops::Range<i32>, std::ops::Range<i32>);

/// The SVG with an invisible `<rect class="panel">` for each panel's label region.
fn with_panel_bounds(svg: &str, bounds: &[Bounds]) -> String {
    let rects: String = bounds
        .iter()
        .map(|(x, y)| {
            format!(
                "<rect class=\"panel\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"none\"/>\n",
                x.start,
                y.start,
                x.end - x.start,
                y.end - y.start
            )
        })
        .collect();
    match svg.rfind("</svg>") {
        Some(end) => format!("{}{rects}{}", &svg[..end], &svg[end..]),
        None => svg.to_string(),
    }
}

/// What every panel shares.
struct Axes<'a> {
    level_name: &'a str,
    /// What the y axis shows ([`ranking_axis`]).
    y_name: &'a str,
    levels: &'a [usize],
    /// The top of the shared y scale.
    top: f64,
    /// Room right of the last level for the line labels, in pixels.
    label_room: u32,
}

/// Draws one family's panel; returns where its labels belong.
fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    report: &Comparison,
    family: &str,
    axes: &Axes,
    lines: &[Line],
) -> Result<Bounds> {
    let last = axes.levels.len().saturating_sub(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(family, ("sans-serif", 18))
        .margin(10)
        .margin_right(axes.label_room)
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
        .y_desc(axes.y_name)
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
        let colour = family_shade(&line.name, i, lines.len());
        chart
            .draw_series(LineSeries::new(line.points.clone(), colour.stroke_width(2)))
            .map_err(plot_err)?;
        let faded = colour.mix(0.45);
        chart
            .draw_series(line.points.iter().zip(&line.short).map(|(&p, &short)| {
                if short {
                    Circle::new(p, 4, faded.stroke_width(2))
                } else {
                    Circle::new(p, 3, colour.filled())
                }
            }))
            .map_err(plot_err)?;
    }
    labels(&mut chart, lines, axes.label_room)?;
    let (plot_x, plot_y) = chart.plotting_area().get_pixel_range();
    Ok((plot_x.start..area.get_pixel_range().0.end, plot_y))
}

/// Each line's name and last figure at its end, moved apart where they would overlap,
/// inside the plotting area, and shrunk where a long name would leave the panel; a
/// label moved off its line's height is joined to the line's end by a thin stroke.
fn labels(chart: &mut Plot, lines: &[Line], room: u32) -> Result<()> {
    let ends: Vec<(f64, f64)> = lines
        .iter()
        .map(|l| *l.points.last().expect("a line has a point"))
        .collect();
    let pixel_y: Vec<f64> = ends
        .iter()
        .map(|&end| f64::from(chart.backend_coord(&end).1))
        .collect();
    let (x_range, y_range) = chart.plotting_area().get_pixel_range();
    // A label's box is a little taller than its font.
    let half = LABEL_FONT * 0.65;
    let (top, bottom) = (
        f64::from(y_range.start) + half,
        f64::from(y_range.end) - half,
    );
    let placed = place(&pixel_y, LABEL_GAP, top, bottom);
    // The labels start right of the line ends; the panel ends `room` past the plot.
    let panel_right = f64::from(x_range.end) + f64::from(room);
    for (i, line) in lines.iter().enumerate() {
        let end = ends[i];
        let dy = placed[i] - pixel_y[i];
        let start_x = f64::from(chart.backend_coord(&end).0) + LABEL_OFFSET;
        let px = fitting_font(&line.label, panel_right - start_x);
        let colour = family_shade(&line.name, i, lines.len());
        let style = ("sans-serif", px)
            .into_font()
            .color(&colour)
            .pos(Pos::new(HPos::Left, VPos::Center));
        let offset = (LABEL_OFFSET as i32, dy.round() as i32);
        chart
            .draw_series(std::iter::once(
                EmptyElement::at(end) + Text::new(line.label.clone(), offset, style),
            ))
            .map_err(plot_err)?;
        if dy.abs() > 3.0 {
            let stroke = colour.stroke_width(1);
            let leader = vec![(3, 0), (LABEL_OFFSET as i32 - 2, offset.1)];
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at(end) + PathElement::new(leader, stroke),
                ))
                .map_err(plot_err)?;
        }
    }
    Ok(())
}

/// The font size at which `label` fits in `room` pixels: [`LABEL_FONT`], or smaller,
/// down to [`LABEL_FONT_MIN`].
fn fitting_font(label: &str, room: f64) -> f64 {
    let wanted = text_width(label, LABEL_FONT) * LABEL_SLACK;
    if wanted <= room {
        return LABEL_FONT;
    }
    (LABEL_FONT * room / wanted).clamp(LABEL_FONT_MIN, LABEL_FONT)
}

/// Label positions (pixels, y growing downwards) as near `wanted` as they can be, each
/// at least `gap` from the next, all within `top..=bottom`, in the order given.
///
/// Labels that crowd form a run spaced `gap` apart and centred on the mean of what they
/// want, so each moves as little as the others let it; runs that then touch merge.
/// Runs are kept inside the bounds; where even that cannot hold them all `gap` apart,
/// the gap narrows to what fits.
pub fn place(wanted: &[f64], gap: f64, top: f64, bottom: f64) -> Vec<f64> {
    let n = wanted.len();
    if n == 0 {
        return Vec::new();
    }
    let gap = gap.min((bottom - top).max(0.0) / (n.max(2) - 1) as f64);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| wanted[a].total_cmp(&wanted[b]));
    let want: Vec<f64> = order
        .iter()
        .map(|&i| wanted[i].clamp(top, bottom))
        .collect();
    // Runs of neighbours in sorted order: (first index, length, first position).
    let mut runs: Vec<(usize, usize, f64)> = Vec::new();
    for k in 0..n {
        runs.push((k, 1, want[k]));
        while let [.., (s1, n1, p1), (_, n2, p2)] = runs[..] {
            if p1 + n1 as f64 * gap <= p2 {
                break;
            }
            let len = n1 + n2;
            let mean = (s1..s1 + len)
                .map(|j| want[j] - (j - s1) as f64 * gap)
                .sum::<f64>()
                / len as f64;
            let first = mean.clamp(top, bottom - (len - 1) as f64 * gap);
            runs.truncate(runs.len() - 2);
            runs.push((s1, len, first));
        }
    }
    let mut placed = vec![0.0; n];
    for (first, len, at) in runs {
        for j in first..first + len {
            placed[order[j]] = at + (j - first) as f64 * gap;
        }
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::super::texts;
    use super::*;
    use crate::results::testing::{cell, costs, holding, report};

    /// Placed labels keep `gap` between neighbours and stay within the bounds.
    fn assert_apart_and_inside(placed: &[f64], gap: f64, top: f64, bottom: f64) {
        let mut sorted = placed.to_vec();
        sorted.sort_by(f64::total_cmp);
        for pair in sorted.windows(2) {
            assert!(pair[1] - pair[0] >= gap - 1e-9, "overlap: {placed:?}");
        }
        assert!(
            sorted.iter().all(|&y| (top..=bottom).contains(&y)),
            "outside {top}..{bottom}: {placed:?}"
        );
    }

    #[test]
    fn labels_that_would_overlap_are_moved_apart_as_little_as_they_can() {
        let placed = place(&[100.0, 105.0, 50.0, 300.0], 15.0, 0.0, 400.0);
        assert_eq!(
            placed,
            [95.0, 110.0, 50.0, 300.0],
            "the two crowding share the move"
        );
        assert_eq!(
            place(&[10.0, 10.0, 10.0], 5.0, 0.0, 100.0),
            [5.0, 10.0, 15.0]
        );
        assert_eq!(place(&[], 5.0, 0.0, 100.0), Vec::<f64>::new());
        let apart = [20.0, 60.0, 90.0];
        assert_eq!(
            place(&apart, 15.0, 0.0, 100.0),
            apart,
            "nothing crowds: nothing moves"
        );
    }

    #[test]
    fn labels_stay_inside_the_panel_and_near_their_lines() {
        // At the very bottom (figures near zero) and past the top: pushed inside.
        let (top, bottom) = (40.0, 300.0);
        let placed = place(&[299.0, 300.0, 310.0, 305.0], 15.0, top, bottom);
        assert_apart_and_inside(&placed, 15.0, top, bottom);
        let placed = place(&[0.0, 10.0, 41.0], 15.0, top, bottom);
        assert_apart_and_inside(&placed, 15.0, top, bottom);
        assert_eq!(placed, [40.0, 55.0, 70.0]);
        // Eight lines ending at nearly one height: each label within half the run of
        // its line's height, none on the floor far from its line.
        let wanted = [200.0, 201.0, 202.0, 199.0, 200.5, 198.0, 203.0, 200.0];
        let placed = place(&wanted, 15.0, top, bottom);
        assert_apart_and_inside(&placed, 15.0, top, bottom);
        for (p, w) in placed.iter().zip(wanted) {
            assert!((p - w).abs() <= 4.0 * 15.0, "{p} from {w}: {placed:?}");
        }
        // More labels than the panel holds at the gap: the gap narrows, still inside.
        let many = vec![100.0; 30];
        let placed = place(&many, 15.0, top, bottom);
        assert_apart_and_inside(&placed, (bottom - top) / 29.0, top, bottom);
    }

    #[test]
    fn a_long_label_shrinks_to_fit() {
        assert_eq!(fitting_font("epoll 1.10x", 200.0), LABEL_FONT);
        let px = fitting_font("select-threads:--backlog=1 12.34x", 150.0);
        assert!((LABEL_FONT_MIN..LABEL_FONT).contains(&px), "{px}");
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
        let texts = texts(&chart.svg);
        for expected in [
            "readiness",
            "async",
            "poll 20.00x",
            "epoll 1.20x",
            "async 1.40x",
            "10k",
        ] {
            assert!(texts.iter().any(|t| t == expected), "{expected}: {texts:?}");
        }
        assert!(
            !texts.iter().any(|t| t == "blocking"),
            "no panel for a family not measured"
        );
    }
    #[test]
    fn a_point_that_held_fewer_connections_is_a_ring_and_its_label_says_so() {
        let mut r = report(
            &[("idle", &[0, 10_000])],
            vec![
                cell("select", "idle", 0, 1, costs(1.2)),
                cell("select", "idle", 10_000, 3, holding(960.0, 1.8)),
                cell("poll", "idle", 0, 1, costs(1.2)),
                cell("poll", "idle", 10_000, 2, holding(10_000.0, 22.91)),
            ],
        );
        r.subjects = vec!["select".into(), "poll".into()];
        let chart = chart(&r, "idle", &[0, 10_000]).unwrap().expect("a chart");
        let texts = texts(&chart.svg);
        assert!(
            texts
                .iter()
                .any(|t| t == "select 1.80x (held 960 of 10,000)"),
            "{texts:?}"
        );
        assert!(texts.iter().any(|t| t == "poll 22.91x"), "{texts:?}");
        let doc = roxmltree::Document::parse(&chart.svg).expect("well-formed SVG");
        let rings = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle") && n.attribute("fill") == Some("none"))
            .count();
        assert_eq!(rings, 1, "select at 10,000 alone: {}", chart.svg);
    }

    #[test]
    fn with_several_load_hosts_the_level_is_per_host() {
        let mut r = report(
            &[("http", &[10, 100])],
            vec![
                cell("epoll", "http", 10, 1, costs(1.0)),
                cell("epoll", "http", 100, 1, costs(1.1)),
            ],
        );
        r.subjects = vec!["epoll".into()];
        r.client_hosts = vec!["ssh://a".into(), "ssh://b".into()];
        let chart = chart(&r, "http", &[10, 100]).unwrap().expect("a chart");
        assert_eq!(
            chart.title,
            "http: CPU per request against concurrent clients per host"
        );
        assert!(
            texts(&chart.svg)
                .iter()
                .any(|t| t == "concurrent clients per host"),
            "the x axis says per host"
        );
    }

    #[test]
    fn a_figure_as_large_as_a_document_may_hold_is_drawn_at_once() {
        let huge = crate::results::validate::MAX_FIGURE;
        let mut r = report(
            &[("http", &[10, 100])],
            vec![
                cell("epoll", "http", 10, 1, costs(1.0)),
                cell("epoll", "http", 100, 1, costs(huge)),
            ],
        );
        r.subjects = vec!["epoll".into()];
        let started = std::time::Instant::now();
        assert!(chart(&r, "http", &[10, 100]).unwrap().is_some());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn crowded_labels_of_a_drawn_chart_stay_apart_inside_their_panel() {
        // Eight readiness models ending within 2% of each other, one blocking model.
        let models = [
            "select",
            "poll",
            "epoll",
            "epoll-et",
            "selector",
            "select-threads",
            "epoll-threads",
            "reuseport",
        ];
        let mut cells = Vec::new();
        for (i, m) in models.iter().enumerate() {
            cells.push(cell(m, "http", 10, 1, costs(1.3 + 0.01 * i as f64)));
            cells.push(cell(m, "http", 100, 1, costs(1.0 + 0.002 * i as f64)));
        }
        cells.push(cell("threads", "http", 10, 2, costs(2.0)));
        cells.push(cell("threads", "http", 100, 2, costs(2.5)));
        let mut r = report(&[("http", &[10, 100])], cells);
        r.subjects = models.iter().map(|m| m.to_string()).collect();
        r.subjects.push("threads".into());
        let chart = chart(&r, "http", &[10, 100]).unwrap().expect("a chart");
        let doc = roxmltree::Document::parse(&chart.svg).expect("well-formed SVG");
        let number =
            |n: roxmltree::Node, key: &str| n.attribute(key).unwrap().parse::<f64>().unwrap();
        let panels: Vec<(f64, f64, f64, f64)> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("panel"))
            .map(|n| {
                let (x, y) = (number(n, "x"), number(n, "y"));
                (x, y, x + number(n, "width"), y + number(n, "height"))
            })
            .collect();
        assert_eq!(panels.len(), 2, "blocking and readiness");
        let labels: Vec<(f64, f64, f64, String)> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| {
                let text = n.text()?.trim().to_string();
                text.ends_with('x').then(|| {
                    // plotters writes a font of P pixels as font-size P / 1.24.
                    let px = number(n, "font-size") * 1.24;
                    (number(n, "x"), number(n, "y"), px, text)
                })
            })
            .collect();
        assert_eq!(labels.len(), 9, "{labels:?}");
        let mut sorted: Vec<f64> = labels
            .iter()
            .filter(|l| !l.3.starts_with("threads"))
            .map(|l| l.1)
            .collect();
        sorted.sort_by(f64::total_cmp);
        for pair in sorted.windows(2) {
            assert!(pair[1] - pair[0] >= LABEL_GAP - 1.0, "overlap: {sorted:?}");
        }
        for (x, y, px, text) in &labels {
            let (_, top, right, bottom) = *panels
                .iter()
                .find(|p| (p.0..p.2).contains(x))
                .unwrap_or_else(|| panic!("{text} in no panel"));
            let width = text_width(text, *px);
            assert!(
                x + width <= right,
                "{text} leaves its panel: {x} + {width} > {right}"
            );
            assert!(
                y - px / 2.0 >= top && y + px / 2.0 <= bottom,
                "{text} at {y}: {top}..{bottom}"
            );
        }
        // Lines take their family's colour, as the bars do: threads is blocking red.
        let blocking = super::super::FAMILY_COLOURS[0].to_ascii_uppercase();
        assert!(
            chart.svg.contains(&format!("stroke=\"{blocking}\"")),
            "threads drawn in its family's colour"
        );
    }
}
