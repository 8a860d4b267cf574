//! The idle finding: how CPU per request moves for select, poll and epoll as idle
//! connections grow, and what each idle connection held adds to a request.

use super::{ranking, served_all, Finding};
use crate::report::{chart, grouped, why_no_figure};
use crate::results::comparison::{Cell, Comparison, IDLE_ACTIVE_CLIENTS, IDLE_QUESTION_MODELS};
use crate::results::tiers::held_short;

/// How CPU per request moves for select, poll and epoll as idle connections grow.
pub(super) fn idle_sweep(report: &Comparison) -> Option<Finding> {
    let (_, levels) = report.workloads.iter().find(|(w, _)| w == "idle")?;
    if levels.len() < 2 {
        return None;
    }
    let mut parts = Vec::new();
    let mut growth = Vec::new();
    let mut slopes = Vec::new();
    for model in IDLE_QUESTION_MODELS {
        let Some((part, grew)) = model_sweep(report, model, levels) else {
            continue;
        };
        parts.push(part);
        growth.extend(grew.map(|g| format!("{model} {g}")));
        slopes.extend(
            ns_per_idle_connection(report, model, levels)
                .map(|ns| format!("{model} {}", tenths_of_ns(ns))),
        );
    }
    if parts.is_empty() {
        return None;
    }
    let steps: Vec<String> = levels.iter().map(|&l| grouped(l)).collect();
    let mut text = format!(
        "With {IDLE_ACTIVE_CLIENTS} active clients and {} idle connections, CPU per request goes: {}.",
        steps.join(", then "),
        parts.join("; ")
    );
    if !slopes.is_empty() {
        text.push_str(&format!(
            " Each idle connection held adds to the CPU of every request: {} (the least-squares slope of CPU per request over the idle connections held).",
            slopes.join(", ")
        ));
    }
    if !growth.is_empty() {
        text.push_str(&format!(
            " From {} to {} idle connections, the cost grew {}.",
            steps[0],
            steps[steps.len() - 1],
            growth.join(", ")
        ));
    }
    Some(Finding {
        topic: "idle connections".to_string(),
        text,
    })
}

/// One model's idle sweep in words (`poll 1.18x → 1.72x → 24.32x`, with why a level
/// has no figure and how many idle connections a level held when fewer than asked),
/// and how much its cost grew from the first level to the last (`3.7x`, `3.7x (holding
/// 960)`), when both have a figure; `None` if the model has no figure at all.
fn model_sweep(
    report: &Comparison,
    model: &str,
    levels: &[usize],
) -> Option<(String, Option<String>)> {
    let cell = |level: usize| report.cell(model, "idle", level);
    let values: Vec<Option<f64>> = levels.iter().map(|&l| cell(l).and_then(ranking)).collect();
    if values.iter().all(Option::is_none) {
        return None;
    }
    let steps: Vec<String> = levels
        .iter()
        .zip(&values)
        .map(|(&level, v)| {
            let figure = v.map_or("no figure".to_string(), |v| chart::ranking_label(report, v));
            match cell(level).filter(|c| held_short(c)).and_then(held) {
                Some(held) => format!("{figure} (held {} of {})", grouped(held), grouped(level)),
                None => figure,
            }
        })
        .collect();
    let mut part = format!("{model} {}", steps.join(" → "));
    let missing = levels.iter().zip(&values).find(|(_, v)| v.is_none());
    if let Some((&level, _)) = missing {
        if let Some(why) = cell(level).and_then(why_no_figure) {
            part.push_str(&format!(" ({why}, at {})", grouped(level)));
        }
    }
    let grew = match (values.first(), values.last()) {
        (Some(Some(first)), Some(Some(last))) => Some(format!("{:.1}x", last / first)),
        _ => None,
    };
    let last = levels
        .last()
        .and_then(|&l| cell(l))
        .filter(|c| held_short(c));
    let grew = match (grew, last.and_then(held)) {
        (Some(grew), Some(held)) => Some(format!("{grew} (holding {})", grouped(held))),
        (grew, _) => grew,
    };
    Some((part, grew))
}

/// The idle connections a cell held, by its median.
fn held(cell: &Cell) -> Option<usize> {
    Some(cell.figures?.median.held? as usize)
}

/// The CPU (ns) each idle connection held adds to a request: the least-squares slope of
/// the model's median CPU per request over the idle connections it held, across the
/// levels where it served every active client.
fn ns_per_idle_connection(report: &Comparison, model: &str, levels: &[usize]) -> Option<f64> {
    let points: Vec<(f64, f64)> = levels
        .iter()
        .filter_map(|&level| {
            let cell = report
                .cell(model, "idle", level)
                .filter(|c| served_all(c))?;
            let median = cell.figures?.median;
            let idle = median.held.unwrap_or(level as f64);
            Some((idle, median.cpu_us_per_req? * 1000.0))
        })
        .collect();
    slope(&points)
}

/// A slope in tenths of a nanosecond; one that rounds to zero is `0.0`, never `-0.0`.
fn tenths_of_ns(ns: f64) -> String {
    let ns = if ns.abs() < 0.05 { 0.0 } else { ns };
    format!("{ns:.1} ns")
}

/// The least-squares slope of `y` over `x`; `None` without two distinct `x`.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}
#[cfg(test)]
mod tests {
    use super::super::all;
    use super::*;
    use crate::results::testing::{cell, costs, holding, report};

    #[test]
    fn a_slope_that_rounds_to_zero_has_no_sign() {
        assert_eq!(tenths_of_ns(-0.01), "0.0 ns");
        assert_eq!(tenths_of_ns(0.04), "0.0 ns");
        assert_eq!(tenths_of_ns(-0.06), "-0.1 ns");
        assert_eq!(tenths_of_ns(12.34), "12.3 ns");
    }

    #[test]
    fn select_below_its_ceiling_has_a_slope_over_the_connections_it_held() {
        let r = report(
            &[("idle", &[0, 1000, 10_000])],
            vec![
                cell("select", "idle", 0, 1, costs(1.0)),
                cell("select", "idle", 1000, 2, holding(960.0, 4.84)),
                cell("select", "idle", 10_000, 2, holding(960.0, 4.84)),
            ],
        );
        let found = all(&r);
        let idle = &found
            .iter()
            .find(|f| f.topic == "idle connections")
            .unwrap()
            .text;
        assert!(
            idle.contains("select 1.00x → 4.84x (held 960 of 1,000) → 4.84x (held 960 of 10,000)"),
            "{idle}"
        );
        // 5 µs at none, 24.2 µs at 960: 20 ns per idle connection.
        assert!(idle.contains("select 20.0 ns"), "{idle}");
        assert!(
            idle.contains("the cost grew select 4.8x (holding 960)"),
            "{idle}"
        );
        assert_eq!(slope(&[(0.0, 1.0)]), None, "one point has no slope");
    }
}
