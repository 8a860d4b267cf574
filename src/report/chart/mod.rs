//! The report's charts, drawn with plotters as standalone SVG files:
//!
//! - [`ranked`]: one per workload and level, a horizontal bar per model, sorted by the
//!   ranking figure, with the rounds' spread as whiskers and the tiers as bands.
//! - [`sweep`]: one per workload measured at two levels or more, the ranking figure
//!   against the level, small multiples per family, each line labelled at its end.
//!
//! A model's colour says its family (five colours, and grey for external servers), so
//! a reader sees at a glance where the event loops, the blocking models and the rest
//! fall; its name is written beside its bar or line, so no legend needs hunting.

pub mod ranked;
pub mod sweep;

use anyhow::{anyhow, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::{
    Cartesian2d, ChartContext, DrawingArea, FontStyle, IntoFont, SVGBackend, Text, TextStyle,
};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::RGBColor;

use crate::model::{self, Family};
use crate::results::comparison::Comparison;
use crate::results::figures::Figures;

/// The fill of a bar, per family, in [`family_index`] order: blocking, readiness,
/// async, coroutine, completion, and an external server. The browser test finds the
/// bars by these fills.
pub const FAMILY_COLOURS: [&str; 6] = [
    "#E15759", "#4E79A7", "#59A14F", "#B07AA1", "#F28E2B", "#9C9C9C",
];

/// The family names, in [`FAMILY_COLOURS`] order.
pub const FAMILY_NAMES: [&str; 6] = [
    "blocking",
    "readiness",
    "async",
    "coroutine",
    "completion",
    "external",
];

/// A plotting area with both axes linear.
type Plot<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A chart of the report, ready to write and to inline.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The file it is written to, in the report's directory.
    pub file: String,
    /// What it shows, in words (`http, 100 clients`).
    pub title: String,
    /// The workload it belongs to.
    pub workload: String,
    /// The level a ranked chart shows; `None` for a sweep, which shows them all.
    pub level: Option<usize>,
    pub kind: ChartKind,
    pub svg: String,
}

/// Which kind of chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Ranked bars; the number of bars drawn (models with a ranking figure).
    Ranked { bars: usize },
    /// The ranking figure against the level.
    Sweep,
}

/// Every chart of the report: for each workload, its sweep (if it has two levels or
/// more), then one ranked chart per level.
pub fn all(report: &Comparison) -> Result<Vec<Chart>> {
    let mut charts = Vec::new();
    for (workload, levels) in &report.workloads {
        if levels.len() >= 2 {
            charts.extend(sweep::chart(report, workload, levels)?);
        }
        for &level in levels {
            charts.push(ranked::chart(report, workload, level)?);
        }
    }
    Ok(charts)
}

/// The chart of `workload` among `charts`: its ranked chart at `Some(level)`, its
/// sweep at `None`.
pub fn find<'a>(charts: &'a [Chart], workload: &str, level: Option<usize>) -> Option<&'a Chart> {
    charts
        .iter()
        .find(|c| c.workload == workload && c.level == level)
}

/// Width of every chart, in pixels: readable on a 1280 px screen.
const WIDTH: u32 = 1200;

/// A chart's title, bold, at its top left.
fn draw_title(area: &DrawingArea<SVGBackend<'_>, Shift>, title: &str) -> Result<()> {
    let style = TextStyle::from(("sans-serif", 20).into_font().style(FontStyle::Bold))
        .pos(Pos::new(HPos::Left, VPos::Center));
    area.draw(&Text::new(title.to_string(), (16, 20), style))
        .map_err(plot_err)
}

/// The family of a subject: the family of its model (`epoll:--cork` is epoll's), or
/// `None` for an external server.
pub fn family(subject: &str) -> Option<Family> {
    let name = subject.split(':').next().unwrap_or(subject);
    model::find(name).map(|info| info.family)
}

/// The index of a subject's family in [`FAMILY_COLOURS`] and [`FAMILY_NAMES`].
pub fn family_index(subject: &str) -> usize {
    match family(subject) {
        Some(Family::Blocking) => 0,
        Some(Family::Readiness) => 1,
        Some(Family::Async) => 2,
        Some(Family::Coroutine) => 3,
        Some(Family::Completion) => 4,
        None => 5,
    }
}

/// The colour of a subject's family.
pub fn family_colour(subject: &str) -> RGBColor {
    hex(FAMILY_COLOURS[family_index(subject)])
}

/// The colour of line `i` of the `n` lines in a family's panel: the family's colour
/// (as its bars have), from darker for the first line to lighter for the last, so the
/// lines of one family are told apart and every one still reads as its family.
pub fn family_shade(subject: &str, i: usize, n: usize) -> RGBColor {
    let base = family_colour(subject);
    if n < 2 {
        return base;
    }
    // -1 (darkest) ..= 1 (lightest).
    let t = 2.0 * i as f64 / (n - 1) as f64 - 1.0;
    let shade = |c: u8| {
        let c = f64::from(c);
        let v = if t < 0.0 {
            c * (1.0 + 0.5 * t)
        } else {
            c + (255.0 - c) * 0.3 * t
        };
        v.round().clamp(0.0, 255.0) as u8
    };
    RGBColor(shade(base.0), shade(base.1), shade(base.2))
}

/// `#RRGGBB` as a colour.
fn hex(text: &str) -> RGBColor {
    let byte = |at: usize| u8::from_str_radix(&text[at..at + 2], 16).unwrap_or(0);
    RGBColor(byte(1), byte(3), byte(5))
}

/// The figure charts draw: the ranking figure, x the floor where a floor was measured,
/// x ideal for the work workloads and x pgbench for the database workloads (the only
/// runs that have them).
pub fn ranking(figures: &Figures) -> Option<f64> {
    figures
        .x_ideal
        .or(figures.x_pgbench)
        .or_else(|| figures.ranking())
        .filter(|v| v.is_finite())
}

/// The axis title of [`ranking`] in the charts of `workload`, with its unit.
pub fn ranking_axis(report: &Comparison, workload: &str) -> &'static str {
    if crate::results::work::is_work(workload) {
        crate::report::ideal::AXIS
    } else if crate::results::db::is_db(workload) {
        crate::report::db::AXIS
    } else if report.floor_us_per_req.is_some() {
        "server CPU per request, x the floor (lower is better)"
    } else {
        "server CPU per request, µs (lower is better)"
    }
}

/// A figure as a label: `1.06x` against the floor, `5.3 µs` without one.
pub fn ranking_label(report: &Comparison, value: f64) -> String {
    if report.floor_us_per_req.is_some() {
        format!("{value:.2}x")
    } else {
        format!("{value:.1} µs")
    }
}

/// Axis numbers a person reads: 120k, 1.5M, 0.25, 3.
pub fn human(v: f64) -> String {
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

/// The width of `text` in pixels at font size `px`, roughly (plotters cannot measure
/// text for SVG; sans-serif averages a little over half an em per character).
fn text_width(text: &str, px: f64) -> f64 {
    text.chars().count() as f64 * px * 0.58
}

/// Every text of a chart's SVG, trimmed: what the charts' tests read.
#[cfg(test)]
fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect()
}

fn plot_err<E: std::fmt::Debug>(err: E) -> anyhow::Error {
    anyhow!("drawing a chart: {err:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_numbers_are_short() {
        assert_eq!(human(140_000.0), "140k");
        assert_eq!(human(1_500_000.0), "1.5M");
        assert_eq!(human(12_500.0), "12.5k");
        assert_eq!(human(3.0), "3");
        assert_eq!(human(0.7000000000001), "0.7");
        assert_eq!(human(0.0), "0");
    }

    #[test]
    fn a_model_takes_its_familys_colour_and_a_target_grey() {
        assert_eq!(family_index("epoll:--cork"), 1);
        assert_eq!(family_index("prefork"), 0);
        assert_eq!(family_index("nginx"), 5);
        assert_eq!(family_colour("uring"), hex("#F28E2B"));
        assert_eq!(hex("#4E79A7"), RGBColor(0x4E, 0x79, 0xA7));
    }

    #[test]
    fn lines_of_a_family_are_shades_of_its_colour() {
        assert_eq!(family_shade("threads", 0, 1), family_colour("threads"));
        let shades: Vec<RGBColor> = (0..3).map(|i| family_shade("epoll", i, 3)).collect();
        assert_eq!(
            shades[1],
            family_colour("epoll"),
            "the middle line: the bars' colour"
        );
        let light = |c: &RGBColor| u32::from(c.0) + u32::from(c.1) + u32::from(c.2);
        assert!(light(&shades[0]) < light(&shades[1]) && light(&shades[1]) < light(&shades[2]));
        // Still blue: the family's hue survives the shading.
        assert!(shades.iter().all(|c| c.2 > c.0 && c.2 > c.1), "{shades:?}");
    }
}
