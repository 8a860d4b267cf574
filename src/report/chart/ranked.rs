//! The ranked chart of one workload at one level: a horizontal bar per model, in the
//! report's rank order (tier, then the ranking figure), the bar's length its median
//! over the rounds, a whisker from the rounds' least to their most, the tiers as
//! alternating bands labelled at the right, the floor as a line at 1x. A model's name
//! is written on its bar (or beside it when the bar is too short to hold it); a model
//! that starved clients, or held fewer connections than asked, is drawn faded, with how
//! many it starved, or held, in red.

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    draw_title, family_colour, family_index, hex, human, plot_err, ranking, ranking_axis,
    ranking_label, text_width, Chart, ChartKind, Plot, FAMILY_COLOURS, FAMILY_NAMES, WIDTH,
};
use crate::report::{cell_name, grouped, why_no_figure};
use crate::results::comparison::{Cell, Comparison};
use crate::results::tiers::held_short;

/// Height of one model's row, in pixels.
const ROW: u32 = 26;
/// Above the bars: the title line and the legend.
const TOP: u32 = 48;
/// Below the bars: the x axis, its numbers and its title.
const BOTTOM: u32 = 56;
/// Room right of the longest whisker for its labels and the tier's name, in pixels: at
/// least this, more where a label and its note need it, up to [`LABEL_ROOM_MAX`].
const LABEL_ROOM: f64 = 300.0;
const LABEL_ROOM_MAX: f64 = 700.0;
/// Room at the right end for a tier's name (`tier 12`), in pixels.
const TIER_NAME_ROOM: f64 = 70.0;
/// Font size of names and labels, in pixels.
const FONT: f64 = 13.0;

/// One model's row.
struct Row {
    name: String,
    colour: RGBColor,
    family: usize,
    /// Median, least and most of the rounds; `None` when the cell has no figure.
    value: Option<(f64, f64, f64)>,
    tier: Option<usize>,
    /// What the row adds in words: how many clients it starved and connections it
    /// held, its errors, or why it has no figure.
    note: Option<String>,
    /// Drawn faded: it starved clients or held fewer connections than asked, so its
    /// cost is not that of the load the others carried.
    faded: bool,
}

/// The ranked chart of `workload` at `level`.
pub fn chart(report: &Comparison, workload: &str, level: usize) -> Result<Chart> {
    let rows = rows(report, workload, level);
    let title = cell_name(report, workload, level);
    let bars = rows.iter().filter(|r| r.value.is_some()).count();
    let svg = draw(report, &title, ranking_axis(report, workload), &rows)?;
    Ok(Chart {
        file: format!("{workload}-{level}.svg"),
        title,
        workload: workload.to_string(),
        level: Some(level),
        kind: ChartKind::Ranked { bars },
        svg,
    })
}

fn rows(report: &Comparison, workload: &str, level: usize) -> Vec<Row> {
    report
        .ranked(workload, level)
        .into_iter()
        .map(|cell| row(report, cell))
        .collect()
}

/// A cell's row.
fn row(report: &Comparison, cell: &Cell) -> Row {
    let clients = report.clients_in_all(&cell.workload, cell.level);
    let value = cell
        .figures
        .and_then(|s| Some((ranking(&s.median)?, ranking(&s.min)?, ranking(&s.max)?)));
    let median = cell.figures.map(|s| s.median);
    let starved = median.and_then(|m| m.starved).filter(|&s| s > 0.0);
    let held = median.and_then(|m| m.held).filter(|_| held_short(cell));
    let errors = median.map_or(0.0, |m| m.errors).max(0.0);
    let mut notes = Vec::new();
    if let Some(held) = held {
        let idle = if cell.workload == "idle" { "idle " } else { "" };
        notes.push(format!(
            "held {} of {} {idle}connections",
            grouped(held as usize),
            grouped(report.connections_asked(&cell.workload, cell.level))
        ));
    }
    if let Some(s) = starved {
        notes.push(format!("starved {s:.0} of {} clients", grouped(clients)));
    } else if errors > 0.0 {
        notes.push(format!("{errors:.0} errors"));
    }
    if value.is_none() {
        notes = vec![match why_no_figure(cell) {
            Some(why) => format!("no figure: {}", shorten(&why, 90)),
            None => "no figure".to_string(),
        }];
    }
    Row {
        name: cell.subject.clone(),
        colour: family_colour(&cell.subject),
        family: family_index(&cell.subject),
        value,
        tier: cell.tier,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
        faded: starved.is_some() || held.is_some(),
    }
}

/// `text` cut to `max` characters, with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max - 1).collect();
    format!("{cut}…")
}

fn draw(report: &Comparison, title: &str, axis: &str, rows: &[Row]) -> Result<String> {
    let n = rows.len().max(1);
    let height = TOP + n as u32 * ROW + BOTTOM;
    let longest = rows
        .iter()
        .filter_map(|r| r.value.map(|v| v.2))
        .fold(1.0f64, f64::max);
    let room = label_room(report, rows);
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        heading(&root, report, title, rows)?;
        let plot_px = f64::from(WIDTH) - 40.0;
        let x_end = longest * plot_px / (plot_px - room);
        let mut chart = ChartBuilder::on(&root)
            .margin_top(TOP - 8)
            .margin_left(16)
            .margin_right(24)
            .x_label_area_size(BOTTOM - 10)
            .build_cartesian_2d(0.0..x_end, -0.5..(n as f64 - 0.5))
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .x_labels(12)
            .x_label_formatter(&|v| human(*v))
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .x_desc(axis)
            .axis_desc_style(("sans-serif", 16))
            .label_style(("sans-serif", 15))
            .draw()
            .map_err(plot_err)?;
        let px_per_unit = f64::from(chart.plotting_area().dim_in_pixel().0) / x_end;
        let y = |i: usize| (n - 1 - i) as f64;
        bands(&mut chart, rows, x_end, &y)?;
        if report.floor_us_per_req.is_some() {
            floor_line(&mut chart, n)?;
        }
        for (i, row) in rows.iter().enumerate() {
            bar(&mut chart, report, row, y(i), px_per_unit)?;
        }
        root.present().map_err(plot_err)?;
    }
    Ok(text)
}

/// The title at the left and the families present, as a legend, at the right.
fn heading(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    report: &Comparison,
    title: &str,
    rows: &[Row],
) -> Result<()> {
    let rounds = if report.repeat == 1 {
        "one round".to_string()
    } else {
        format!("median of {} rounds, whisker: least to most", report.repeat)
    };
    draw_title(root, title)?;
    let sub = ("sans-serif", 16)
        .into_font()
        .color(&RGBColor(90, 90, 90))
        .pos(Pos::new(HPos::Left, VPos::Center));
    let after = 16 + text_width(title, 16.5) as i32 + 20;
    root.draw(&Text::new(rounds, (after, 21), sub))
        .map_err(plot_err)?;
    let mut families: Vec<usize> = rows.iter().map(|r| r.family).collect();
    families.sort_unstable();
    families.dedup();
    let mut x = WIDTH as i32 - 16;
    for &f in families.iter().rev() {
        let name = FAMILY_NAMES[f];
        let style = TextStyle::from(("sans-serif", 16).into_font())
            .pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(name, (x, 21), style))
            .map_err(plot_err)?;
        x -= text_width(name, 13.0) as i32 + 14;
        root.draw(&Circle::new((x, 21), 6, hex(FAMILY_COLOURS[f]).filled()))
            .map_err(plot_err)?;
        x -= 20;
    }
    Ok(())
}

/// Alternating bands, one per tier, named at the right.
fn bands(chart: &mut Plot, rows: &[Row], x_end: f64, y: &dyn Fn(usize) -> f64) -> Result<()> {
    let mut start = 0;
    let mut shade = false;
    while start < rows.len() {
        let tier = rows[start].tier;
        let end = (start..rows.len())
            .find(|&i| rows[i].tier != tier)
            .unwrap_or(rows.len());
        let (top, bottom) = (y(start) + 0.5, y(end - 1) - 0.5);
        if shade {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.0, bottom), (x_end, top)],
                    RGBColor(240, 240, 240).filled(),
                )))
                .map_err(plot_err)?;
        }
        // Rows without a figure have no tier: their text says why.
        let label = tier.map_or_else(String::new, |t| format!("tier {t}"));
        let style = ("sans-serif", 16)
            .into_font()
            .color(&RGBColor(110, 110, 110))
            .pos(Pos::new(HPos::Right, VPos::Center));
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((x_end, y(start))) + Text::new(label, (-8, 0), style),
            ))
            .map_err(plot_err)?;
        shade = !shade;
        start = end;
    }
    Ok(())
}

/// The floor, at 1x.
fn floor_line(chart: &mut Plot, n: usize) -> Result<()> {
    let grey = RGBColor(120, 120, 120);
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(1.0, -0.5), (1.0, n as f64 - 0.5)],
            grey.stroke_width(1),
        )))
        .map_err(plot_err)?;
    Ok(())
}

/// One model: its bar, whisker, name and labels (or its name and why it has no bar).
fn bar(chart: &mut Plot, report: &Comparison, row: &Row, y: f64, px_per_unit: f64) -> Result<()> {
    let dark =
        TextStyle::from(("sans-serif", 16).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let Some((median, low, high)) = row.value else {
        let label = format!("{}: {}", row.name, row.note.as_deref().unwrap_or(""));
        let grey = dark.color(&RGBColor(120, 120, 120));
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((0.0, y)) + Text::new(label, (6, 0), grey),
            ))
            .map_err(plot_err)?;
        return Ok(());
    };
    let fill = if row.faded {
        row.colour.mix(0.45).filled()
    } else {
        row.colour.filled()
    };
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(0.0, y - 0.36), (median, y + 0.36)],
            fill,
        )))
        .map_err(plot_err)?;
    whisker(chart, low, high, y)?;
    let fits = median * px_per_unit >= text_width(&row.name, FONT) + 14.0;
    if fits {
        // A faded bar is too light for white letters.
        let ink = if row.faded { BLACK } else { WHITE };
        let white = dark.color(&ink);
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((0.0, y)) + Text::new(row.name.clone(), (6, 0), white),
            ))
            .map_err(plot_err)?;
    }
    let label = bar_label(report, row, median, fits);
    chart
        .draw_series(std::iter::once(
            EmptyElement::at((high, y)) + Text::new(label.clone(), (8, 0), dark.clone()),
        ))
        .map_err(plot_err)?;
    if let Some(note) = &row.note {
        let red = dark.color(&RGBColor(190, 30, 30));
        let dx = 8 + text_width(&label, FONT) as i32 + 12;
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((high, y)) + Text::new(note.clone(), (dx, 0), red),
            ))
            .map_err(plot_err)?;
    }
    Ok(())
}

/// The figure written right of a bar's whisker, the model's name before it when the
/// bar is too short to hold it.
fn bar_label(report: &Comparison, row: &Row, median: f64, fits: bool) -> String {
    let label = ranking_label(report, median);
    if fits {
        label
    } else {
        format!("{}  {label}", row.name)
    }
}

/// The room right of the longest whisker that its label and note need, in pixels
/// (names are written outside a bar too short for them, so counted in), between
/// [`LABEL_ROOM`] and [`LABEL_ROOM_MAX`].
fn label_room(report: &Comparison, rows: &[Row]) -> f64 {
    rows.iter()
        .filter_map(|row| {
            let (median, ..) = row.value?;
            let label = bar_label(report, row, median, false);
            let note = row
                .note
                .as_deref()
                .map_or(0.0, |n| 12.0 + text_width(n, FONT));
            // The tier's name takes the right end of the room.
            Some(8.0 + text_width(&label, FONT) + note + TIER_NAME_ROOM)
        })
        .fold(LABEL_ROOM, f64::max)
        .min(LABEL_ROOM_MAX)
}

/// The rounds' spread: a line from the least to the most, with end caps.
fn whisker(chart: &mut Plot, low: f64, high: f64, y: f64) -> Result<()> {
    let ink = BLACK.stroke_width(1);
    let paths = [
        vec![(low, y), (high, y)],
        vec![(low, y - 0.18), (low, y + 0.18)],
        vec![(high, y - 0.18), (high, y + 0.18)],
    ];
    chart
        .draw_series(paths.into_iter().map(|p| PathElement::new(p, ink)))
        .map_err(plot_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::texts;
    use super::*;
    use crate::results::figures::Figures;
    use crate::results::testing::{cell, costs, holding, report};

    /// The bars of a chart: (fill, y) of each rect drawn in a family colour.
    fn bars(svg: &str) -> Vec<(String, f64)> {
        let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
        doc.descendants()
            .filter(|n| n.has_tag_name("rect"))
            .filter_map(|n| {
                let fill = n.attribute("fill")?.to_string();
                let y = n.attribute("y")?.parse().ok()?;
                FAMILY_COLOURS.contains(&fill.as_str()).then_some((fill, y))
            })
            .collect()
    }

    #[test]
    fn one_bar_per_model_with_a_figure_in_rank_order_and_family_colour() {
        let starving = Figures {
            starved: Some(90.0),
            ..costs(2.1)
        };
        let mut died = cell("uring", "http", 100, 1, Figures::default());
        (died.figures, died.tier) = (None, None);
        died.error = Some("round 1: server died (killed by SIGKILL)".into());
        let r = report(
            &[("http", &[100])],
            vec![
                cell("fork", "http", 100, 2, costs(2.75)),
                cell("epoll", "http", 100, 1, costs(1.06)),
                cell("prefork", "http", 100, 3, starving),
                died,
                cell("async", "http", 100, 1, costs(1.2)),
            ],
        );
        let chart = chart(&r, "http", 100).unwrap();
        assert_eq!(chart.kind, ChartKind::Ranked { bars: 4 });
        assert_eq!(chart.file, "http-100.svg");
        let bars = bars(&chart.svg);
        let fills: Vec<&str> = bars.iter().map(|(f, _)| f.as_str()).collect();
        let (blocking, readiness, async_) =
            (FAMILY_COLOURS[0], FAMILY_COLOURS[1], FAMILY_COLOURS[2]);
        assert_eq!(
            fills,
            [readiness, async_, blocking, blocking],
            "epoll, async, fork, prefork"
        );
        assert!(
            bars.windows(2).all(|w| w[0].1 < w[1].1),
            "top to bottom: {bars:?}"
        );
        let texts = texts(&chart.svg);
        for expected in [
            "epoll",
            "1.06x",
            "tier 1",
            "tier 3",
            "starved 90 of 100 clients",
        ] {
            assert!(
                texts.iter().any(|t| t.contains(expected)),
                "{expected}: {texts:?}"
            );
        }
        assert!(
            texts
                .iter()
                .any(|t| t == "uring: no figure: round 1: server died (killed by SIGKILL)"),
            "{texts:?}"
        );
    }

    /// The opacity of each bar's fill, top to bottom (1 for a bar not faded).
    fn opacities(svg: &str) -> Vec<f64> {
        let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
        doc.descendants()
            .filter(|n| n.has_tag_name("rect"))
            .filter(|n| {
                n.attribute("fill")
                    .is_some_and(|f| FAMILY_COLOURS.contains(&f))
            })
            .map(|n| n.attribute("opacity").map_or(1.0, |o| o.parse().unwrap()))
            .collect()
    }

    #[test]
    fn a_model_that_held_fewer_connections_than_asked_is_faded_and_says_what_it_held() {
        let r = report(
            &[("idle", &[10_000])],
            vec![
                cell("epoll", "idle", 10_000, 1, holding(10_000.0, 1.27)),
                cell("poll", "idle", 10_000, 2, holding(10_000.0, 22.91)),
                cell("select", "idle", 10_000, 3, holding(960.0, 1.80)),
            ],
        );
        let chart = chart(&r, "idle", 10_000).unwrap();
        assert_eq!(
            opacities(&chart.svg),
            [1.0, 1.0, 0.45],
            "epoll, poll drawn whole, select faded"
        );
        let texts = texts(&chart.svg);
        assert!(
            texts
                .iter()
                .any(|t| t == "held 960 of 10,000 idle connections"),
            "{texts:?}"
        );
        assert!(
            !texts
                .iter()
                .any(|t| t.starts_with("held") && !t.contains("960")),
            "only select fell short: {texts:?}"
        );
    }

    #[test]
    fn with_several_load_hosts_the_title_and_starved_clients_count_every_host() {
        let starving = Figures {
            starved: Some(30.0),
            ..costs(2.0)
        };
        let mut r = report(
            &[("http", &[10])],
            vec![
                cell("epoll", "http", 10, 1, costs(1.1)),
                cell("prefork", "http", 10, 2, starving),
            ],
        );
        r.client_hosts = vec!["ssh://a".into(), "ssh://b".into()];
        let chart = chart(&r, "http", 10).unwrap();
        assert_eq!(chart.title, "http, 10 clients per host (20 in all)");
        let texts = texts(&chart.svg);
        assert!(texts.contains(&chart.title), "{texts:?}");
        assert!(
            texts.iter().any(|t| t == "starved 30 of 20 clients"),
            "of every host's clients: {texts:?}"
        );
    }

    #[test]
    fn a_figure_as_large_as_a_document_may_hold_is_drawn_at_once() {
        let huge = crate::results::validate::MAX_FIGURE;
        let r = report(
            &[("http", &[10])],
            vec![
                cell("epoll", "http", 10, 1, costs(1.0)),
                cell("poll", "http", 10, 2, costs(huge)),
            ],
        );
        let started = std::time::Instant::now();
        let chart = chart(&r, "http", 10).unwrap();
        assert_eq!(chart.kind, ChartKind::Ranked { bars: 2 });
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
