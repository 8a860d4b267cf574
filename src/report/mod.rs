//! Presenting a comparison: the ranked tables (terminal and Markdown from one table
//! model), one SVG chart per workload, a self-contained HTML page, and the JSON.
//! Everything here reads a finished [`Comparison`]; nothing measures.
//!
//! - [`table`]: the ranked tables, printed to a terminal or as Markdown.
//! - [`chart`]: throughput and p99 against the workload's level, one line per subject.
//! - [`html`]: `report.html`, the tables and the charts inlined in one page.
//! - [`summary`]: the lines a comparison ends with: tier 1 of each cell, starved clients.
//! - [`diff`]: `iomodels diff`: what changed between two reports, beyond their spread.

pub mod chart;
pub mod diff;
pub mod html;
pub mod summary;
pub mod table;

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::results::comparison::Comparison;

/// Writes every file of the report into `dir`, prints the ranked tables on stdout and
/// says where the report is.
pub fn present(report: &Comparison, dir: &Path) -> Result<()> {
    write_all(report, dir)?;
    let mut out = std::io::stdout().lock();
    table::print_terminal(report, &mut out)?;
    let summary = summary::lines(report);
    if !summary.is_empty() {
        writeln!(out, "\nsummary")?;
        for line in summary {
            writeln!(out, "  {line}")?;
        }
    }
    writeln!(
        out,
        "\nreport: {} (report.md, report.json, one SVG chart per workload), {:.0} s",
        dir.join("report.html").display(),
        report.wall_s
    )?;
    Ok(())
}

/// Writes `report.json`, `report.md`, `WORKLOAD.svg` for each workload and
/// `report.html` into `dir`.
pub fn write_all(report: &Comparison, dir: &Path) -> Result<()> {
    let write = |name: &str, text: &str| {
        fs::write(dir.join(name), text)
            .with_context(|| format!("cannot write {}", dir.join(name).display()))
    };
    write("report.json", &serde_json::to_string_pretty(report)?)?;
    write("report.md", &table::markdown(report))?;
    let mut charts = Vec::new();
    for (workload, levels) in &report.workloads {
        let svg = chart::svg(report, workload, levels)?;
        let name = format!("{workload}.svg");
        write(&name, &svg)?;
        charts.push((workload.clone(), name, svg));
    }
    write("report.html", &html::page(report, &charts))?;
    Ok(())
}
