//! The summary a comparison ends with, in hyperfine's manner: for each cell, the tier-1
//! models and how many times the floor they cost, and the models that starved clients.
//! Every line is computed from the report; a cell without figures says nothing.

use super::{cell_name, grouped};
use crate::results::comparison::{Cell, Comparison};
use crate::results::db::is_db;
use crate::results::work::is_work;

/// The median x floor of a cell (x ideal for the work workloads, x pgbench for the
/// database workloads), if it has one.
fn x_floor(cell: &Cell) -> Option<f64> {
    let median = cell.figures?.median;
    if is_work(&cell.workload) {
        median.x_ideal
    } else if is_db(&cell.workload) {
        median.x_pgbench
    } else {
        median.x_floor
    }
}

/// `epoll 1.06x, select 1.03x`: the tier-1 models, cheapest first.
fn tier_one(cells: &[&Cell]) -> Option<String> {
    let best: Vec<String> = cells
        .iter()
        .filter(|c| c.tier == Some(1))
        .map(|c| match x_floor(c) {
            Some(x) => format!("{} {x:.2}x", c.subject),
            None => c.subject.clone(),
        })
        .collect();
    (!best.is_empty()).then(|| best.join(", "))
}

/// `prefork (90 of 100 clients)`: the models that left clients without a reply.
fn starving(report: &Comparison, cells: &[&Cell]) -> Option<String> {
    let starved: Vec<String> = cells
        .iter()
        .filter_map(|c| {
            let n = c.figures?.median.starved.filter(|&s| s > 0.0)?;
            let clients = grouped(report.clients_in_all(&c.workload, c.level));
            Some(format!("{} ({n:.0} of {clients} clients)", c.subject))
        })
        .collect();
    (!starved.is_empty()).then(|| starved.join(", "))
}

/// The summary's lines, one or two per cell.
pub fn lines(report: &Comparison) -> Vec<String> {
    let mut out = Vec::new();
    for (workload, levels) in &report.workloads {
        for &level in levels {
            let cells = report.ranked(workload, level);
            let name = cell_name(report, workload, level);
            if let Some(best) = tier_one(&cells) {
                let what = super::ideal::shown_as(workload);
                out.push(format!("{name}: tier 1 ({what}): {best}"));
            }
            if let Some(starved) = starving(report, &cells) {
                out.push(format!("{name}: starved clients: {starved}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(cells: &str) -> Comparison {
        serde_json::from_str(&format!(
            r#"{{"version": 2, "command": "c",
                "machine": {{"cpus": 2, "kernel": "k", "cpu_model": "m", "memory_gib": 1.0}},
                "started_unix_s": 0, "floor_us_per_req": 5.0, "wall_s": 1.0,
                "duration_ms": 400, "repeat": 1, "workloads": [["http", [100]]],
                "subjects": ["a", "b", "c"], "cells": [{cells}], "stops": []}}"#
        ))
        .expect("a valid report")
    }

    fn cell(subject: &str, tier: u32, x: f64, starved: f64) -> String {
        let figures = format!(
            r#"{{"throughput_per_s": 1.0, "p50_us": 1.0, "p99_us": 1.0, "connect_p50_us": 1.0,
                "errors": 0.0, "cpu_us_per_req": {cpu}, "x_floor": {x}, "ctx_per_req": null,
                "rss_peak_kb": null, "rss_per_conn_b": null, "held": null,
                "starved": {starved}, "threads": null, "processes": null,
                "client_cpu_share": 0.5}}"#,
            cpu = x * 5.0
        );
        format!(
            r#"{{"subject": "{subject}", "workload": "http", "level": 100, "runs": [],
                "figures": {{"median": {figures}, "min": {figures}, "max": {figures}}},
                "tier": {tier}, "error": null, "server_said": []}}"#
        )
    }

    #[test]
    fn names_tier_one_with_its_multiples_and_the_starving_models() {
        let r = report(
            &[
                cell("b", 1, 1.10, 0.0),
                cell("a", 1, 1.02, 0.0),
                cell("c", 2, 1.9, 90.0),
            ]
            .join(","),
        );
        assert_eq!(
            lines(&r),
            [
                "http, 100 clients: tier 1 (x the floor): a 1.02x, b 1.10x",
                "http, 100 clients: starved clients: c (90 of 100 clients)"
            ]
        );
    }

    #[test]
    fn a_report_without_figures_says_nothing() {
        assert!(lines(&report("")).is_empty());
    }
}
