//! The ranked tables: one per workload and level, rows ranked by tier (the `#` column:
//! `=3` for a tier three models share), then by the median ranking figure. The same
//! [`Table`] is printed to the terminal (aligned columns) and to Markdown.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::results::comparison::{Cell, Comparison, IDLE_ACTIVE_CLIENTS};
use crate::results::figures::{Figures, Spread};

/// A table ready to print.
#[derive(Debug, Clone)]
pub struct Table {
    pub title: String,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    /// Errors and remarks about the rows, printed under the table.
    pub notes: Vec<String>,
}

/// The load generator used more than this share of a core: the client, not the
/// server, may have set the pace.
const CLIENT_BOUND: f64 = 0.9;

/// Every table of the report, in plan order.
pub fn tables(report: &Comparison) -> Vec<Table> {
    let mut all = Vec::new();
    for (workload, levels) in &report.workloads {
        for &level in levels {
            all.push(table(report, workload, level));
        }
    }
    all
}

/// The title of the table of `workload` at `level`.
fn table_title(workload: &str, level: usize) -> String {
    match workload {
        "hold" => format!("hold: {level} connections held"),
        "idle" => format!(
            "idle: {IDLE_ACTIVE_CLIENTS} active keep-alive clients, {level} idle connections"
        ),
        _ => format!("{workload}: {level} concurrent clients"),
    }
}

pub(super) fn table(report: &Comparison, workload: &str, level: usize) -> Table {
    let hold = workload == "hold";
    let idle = workload == "idle";
    let title = table_title(workload, level);
    let mut headers = vec!["#", "model"];
    if hold || idle {
        headers.push("held");
    }
    headers.extend([
        "req/s",
        "min-max",
        "p99 ms",
        "connect us",
        "errors",
        "starved",
        "CPU us/req",
        "x floor",
        "ctx/req",
        "PSS MB",
    ]);
    if hold || idle {
        headers.push("B/conn");
    }
    if hold {
        headers.push("kernel B/conn");
    }
    headers.push("thr/proc");
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut client_bound = false;
    for cell in report.ranked(workload, level) {
        if let Some(error) = &cell.error {
            notes.push(format!("{}: {}", cell.subject, error));
        }
        for line in &cell.server_said {
            notes.push(format!("{}: the server said: {line}", cell.subject));
        }
        if let Some(nofile) = report.capped_by_descriptors(cell) {
            notes.push(format!(
                "{}: capped at {nofile} by the descriptor limit: one process may hold at most {nofile} descriptors here",
                cell.subject
            ));
        }
        if let Some(note) = disturbed_note(cell) {
            notes.push(note);
        }
        let Some(spread) = cell.figures else {
            let mut row = vec!["-".to_string(), cell.subject.clone(), "failed".to_string()];
            row.resize(headers.len(), String::new());
            rows.push(row);
            continue;
        };
        let bound = spread.median.client_cpu_share > CLIENT_BOUND;
        client_bound |= bound;
        rows.push(row(
            tier_label(report, cell),
            cell,
            &spread,
            hold || idle,
            bound,
            report.floor_us_per_req,
        ));
    }
    if client_bound {
        notes.push(format!(
            "*: the load generator used over {:.0}% of a core: the client set the pace, so the server's CPU per request says more than its req/s",
            CLIENT_BOUND * 100.0
        ));
    }
    Table {
        title,
        headers,
        rows,
        notes,
    }
}

/// The `#` column: the tier, `=` before it when models share it, `-` for none.
fn tier_label(report: &Comparison, cell: &Cell) -> String {
    match cell.tier {
        Some(tier) if report.tier_size(&cell.workload, cell.level, tier) > 1 => format!("={tier}"),
        Some(tier) => tier.to_string(),
        None => "-".into(),
    }
}

/// Which of a cell's rounds were measured while something else used the machine.
fn disturbed_note(cell: &Cell) -> Option<String> {
    let disturbed: Vec<_> = cell.rounds.iter().filter(|r| r.host.disturbed).collect();
    let worst = disturbed
        .iter()
        .map(|r| r.host.outside_pct_of_core)
        .fold(0.0, f64::max);
    let steal = disturbed
        .iter()
        .map(|r| r.host.steal_pct)
        .fold(0.0, f64::max);
    (!disturbed.is_empty()).then(|| {
        format!(
            "{}: {} of {} rounds measured under interference (up to {worst:.0}% of a core used elsewhere, {steal:.1}% steal)",
            cell.subject,
            disturbed.len(),
            cell.rounds.len()
        )
    })
}

fn row(
    rank: String,
    cell: &Cell,
    spread: &Spread,
    held_columns: bool,
    client_bound: bool,
    floor: Option<f64>,
) -> Vec<String> {
    let m: &Figures = &spread.median;
    let mut row = vec![rank, cell.subject.clone()];
    if held_columns {
        row.push(opt(m.held, 0));
    }
    row.push(format!(
        "{:.0}{}",
        m.throughput_per_s,
        if client_bound { "*" } else { "" }
    ));
    row.push(format!(
        "{:.0}-{:.0}",
        spread.min.throughput_per_s, spread.max.throughput_per_s
    ));
    row.push(format!("{:.2}", m.p99_us / 1000.0));
    row.push(format!("{:.0}", m.connect_p50_us));
    row.push(format!("{:.0}", m.errors));
    row.push(opt(m.starved, 0));
    row.push(opt(m.cpu_us_per_req, 1));
    row.push(opt(
        m.x_floor
            .or_else(|| m.cpu_us_per_req.zip(floor).map(|(cpu, floor)| cpu / floor)),
        2,
    ));
    row.push(opt(m.ctx_per_req, 2));
    row.push(opt(m.pss_peak_kb.map(|kb| kb / 1024.0), 1));
    if held_columns {
        row.push(opt(m.private_per_conn_b.or(m.pss_per_conn_b), 0));
    }
    if cell.workload == "hold" {
        row.push(opt(m.kernel_per_conn_b, 0));
    }
    row.push(match (m.threads, m.processes) {
        (Some(t), Some(p)) => format!("{t:.0}/{p:.0}"),
        _ => "-".into(),
    });
    row
}

fn opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.decimals$}"))
}

/// Stops that broke the contract (over a second, a bad exit, processes left behind).
pub(super) fn stop_notes(report: &Comparison) -> Vec<String> {
    report
        .stops
        .iter()
        .filter(|s| s.stop_ms > 1000.0 || s.status != "exit code 0" || !s.left_behind.is_empty())
        .map(|s| {
            format!(
                "{} ({}): stopped in {:.0} ms, {}, {} process(es) left behind",
                s.subject,
                s.workload,
                s.stop_ms,
                s.status,
                s.left_behind.len()
            )
        })
        .collect()
}

/// The floors of the first and the last round, for the report's header.
pub(super) fn floors_measured(report: &Comparison) -> String {
    let us = |floor: Option<f64>| floor.map_or_else(|| "-".to_string(), |f| format!("{f:.2}"));
    format!(
        "{} us in the first round and {} us in the last",
        us(report.floor_before_us_per_req),
        us(report.floor_after_us_per_req)
    )
}

/// Above this ratio between the floors before and after the models, the report warns
/// that the host's speed changed during the run.
pub const FLOOR_DRIFT_WARNING: f64 = 1.2;

/// A warning that the host's speed changed during the run, if the floors say so.
pub fn floor_drift_warning(report: &Comparison) -> Option<String> {
    let drift = report.floor_drift().filter(|&d| d > FLOOR_DRIFT_WARNING)?;
    Some(format!(
        "warning: the floor moved by {:.0}% during the run ({}): the host's speed changed (load from elsewhere?); x floor is taken within each round, so the rounds still compare",
        (drift - 1.0) * 100.0,
        floors_measured(report)
    ))
}

/// Prints every table with aligned columns.
pub fn print_terminal(report: &Comparison, out: &mut impl Write) -> io::Result<()> {
    if let Some(floor) = report.floor_us_per_req {
        writeln!(
            out,
            "floor here: {floor:.2} us of CPU per request (one read, one write; median of {} rounds); x floor = a server's CPU per request / its round's floor",
            report.rounds.len()
        )?;
    }
    if !report.ranked_by.is_empty() {
        writeln!(
            out,
            "ranking: {}; # is the tier ({}).",
            report.ranked_by, report.tier_rule
        )?;
    }
    if let Some(p) = &report.placement {
        writeln!(out, "{}", placement_line(p))?;
    }
    if let Some(line) = server_host_line(report) {
        writeln!(out, "{line}")?;
    }
    if let Some(warning) = floor_drift_warning(report) {
        writeln!(out, "{warning}")?;
    }
    for table in tables(report) {
        writeln!(out, "\n{}", table.title)?;
        let mut widths: Vec<usize> = table.headers.iter().map(|h| h.len()).collect();
        for row in &table.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: Vec<&str>| -> String {
            let mut text = String::new();
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                if i == 1 {
                    let _ = write!(text, "{cell:<w$}  ");
                } else {
                    let _ = write!(text, "{cell:>w$}  ");
                }
            }
            text.trim_end().to_string()
        };
        writeln!(out, "{}", line(table.headers.clone()))?;
        for row in &table.rows {
            writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
        }
        for note in &table.notes {
            writeln!(out, "  note: {note}")?;
        }
    }
    for note in stop_notes(report) {
        writeln!(out, "\nstop: {note}")?;
    }
    Ok(())
}

/// Where the servers ran and the load came from, when not both here.
pub(super) fn server_host_line(report: &Comparison) -> Option<String> {
    if report.server_host.is_none() && report.client_hosts.is_empty() {
        return None;
    }
    let server = report.server_host.as_deref().unwrap_or("this machine");
    let load = match report.client_hosts.as_slice() {
        [] => "this machine".to_string(),
        hosts => format!("{} (at once, runs merged)", hosts.join(", ")),
    };
    Some(format!(
        "servers on {server} (their CPU, memory and the floor measured there); the load from {load}"
    ))
}

/// Where the servers and the load generator ran.
pub(super) fn placement_line(p: &crate::results::comparison::Placement) -> String {
    let list = crate::sys::affinity::list_arg;
    format!(
        "placement: servers on CPU {}, the load generator on CPU {} (models that start a worker per CPU start one per server CPU)",
        list(&p.server_cpus),
        list(&p.client_cpus)
    )
}

/// One table in Markdown.
pub fn markdown_table(table: &Table) -> String {
    let mut md = format!("## {}\n\n| {} |\n|", table.title, table.headers.join(" | "));
    for _ in &table.headers {
        md.push_str("---|");
    }
    md.push('\n');
    for row in &table.rows {
        let _ = writeln!(md, "| {} |", row.join(" | "));
    }
    for note in &table.notes {
        let _ = writeln!(md, "\n- {note}");
    }
    md.push('\n');
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report with no cells and the floors given (`null` for one not measured).
    fn report(floor: &str, before: &str, after: &str) -> Comparison {
        serde_json::from_str(&format!(
            r#"{{"version": 2, "command": "iomodels compare",
                "machine": {{"cpus": 2, "kernel": "Linux", "cpu_model": "cpu", "memory_gib": 1.0}},
                "started_unix_s": 0, "floor_us_per_req": {floor},
                "floor_before_us_per_req": {before}, "floor_after_us_per_req": {after},
                "wall_s": 1.0, "duration_ms": 500, "repeat": 1,
                "workloads": [], "subjects": [], "cells": [], "stops": []}}"#
        ))
        .expect("a valid report")
    }

    #[test]
    fn a_floor_that_moved_during_the_run_is_a_warning_in_the_report() {
        let moved = report("2.0", "2.0", "3.0");
        let warning = floor_drift_warning(&moved).expect("a warning");
        assert!(warning.contains("moved by 50%"), "{warning}");
        assert!(
            warning.contains("2.00 us in the first round and 3.00 us in the last"),
            "{warning}"
        );
        assert!(super::super::markdown::page(&moved, &[]).contains(&warning));
        let mut terminal = Vec::new();
        print_terminal(&moved, &mut terminal).unwrap();
        assert!(String::from_utf8(terminal).unwrap().contains(&warning));
    }

    #[test]
    fn a_steady_floor_or_one_measured_once_is_no_warning() {
        assert_eq!(floor_drift_warning(&report("2.0", "2.0", "2.2")), None);
        assert_eq!(floor_drift_warning(&report("2.0", "2.0", "null")), None);
        assert!(
            super::super::markdown::page(&report("2.0", "2.0", "2.2"), &[])
                .contains("2.00 us in the first round")
        );
    }
}
