//! `report.md`: the machine and the plan, what the run found, then for each workload
//! its sweep chart and, for each level, the ranked chart and the table. GitHub renders
//! it; the charts are the SVG files written beside it.

use std::fmt::Write as _;

use super::chart::{self, Chart};
use super::table::{
    floor_drift_warning, floors_measured, markdown_table, placement_line, stop_notes, table,
};
use crate::results::comparison::Comparison;

/// `report.md`: the machine, the plan, what the run found, and every table, each
/// after its chart (`charts`, written beside it).
pub fn page(report: &Comparison, charts: &[Chart]) -> String {
    let mut md = String::new();
    let m = &report.machine;
    let _ = writeln!(md, "# iomodels compare\n");
    let _ = writeln!(md, "- command: `{}`", report.command);
    let _ = writeln!(
        md,
        "- machine: {} CPUs ({}), {:.1} GiB, {}",
        m.cpus, m.cpu_model, m.memory_gib, m.kernel
    );
    let _ = writeln!(
        md,
        "- each figure: {}; {:.0} s in all",
        super::each_figure(report),
        report.wall_s
    );
    if !report.ranked_by.is_empty() {
        let _ = writeln!(md, "- ranking: {}", report.ranked_by);
        let _ = writeln!(
            md,
            "- `#` is the tier: {}; `=3` marks a tier several models share",
            report.tier_rule
        );
    }
    if !report.cpu_source.is_empty() {
        let _ = writeln!(md, "- {}", report.cpu_source);
    }
    if let Some(p) = &report.placement {
        let _ = writeln!(md, "- {}", placement_line(p));
    }
    if let Some(line) = super::table::server_host_line(report) {
        let _ = writeln!(md, "- {line}");
    }
    let _ = writeln!(
        md,
        "- server CPU, context switches, memory (PSS), threads and processes: the server's whole process tree, from /proc (PSS summed over the tree, so pages forked processes share count once); B/conn is the growth of the tree's private dirty memory per held connection (PSS reads low there: the load generator maps the same binary)"
    );
    if let Some(floor) = report.floor_us_per_req {
        let _ = writeln!(
            md,
            "- x floor: server CPU per request divided by the floor measured at the start of the same round (median {floor:.2} us: one read(2) and one write(2) per request on loopback TCP, to a client watching its connections with epoll as load generators do, `iomodels floor`; {}); a reference, not a bound: a model can come out slightly below it, and the table notes say where",
            floors_measured(report)
        );
    }
    if let Some(line) = super::ideal::explanation(report) {
        let _ = writeln!(md, "- {line}");
    }
    if let Some(warning) = floor_drift_warning(report) {
        let _ = writeln!(md, "- {warning}");
    }
    md.push('\n');
    let findings = super::findings::all(report);
    if !findings.is_empty() {
        let _ = writeln!(md, "## Findings\n");
        for finding in findings {
            let _ = writeln!(md, "- **{}**: {}", finding.topic, finding.text);
        }
        md.push('\n');
    }
    let summary = super::summary::lines(report);
    if !summary.is_empty() {
        let _ = writeln!(md, "## Summary\n");
        for line in summary {
            let _ = writeln!(md, "- {line}");
        }
        md.push('\n');
    }
    for (workload, levels) in &report.workloads {
        if let Some(sweep) = chart::find(charts, workload, None) {
            let _ = writeln!(md, "![{}]({})\n", sweep.title, sweep.file);
        }
        for &level in levels {
            if let Some(ranked) = chart::find(charts, workload, Some(level)) {
                let _ = writeln!(md, "![{}]({})\n", ranked.title, ranked.file);
            }
            md.push_str(&markdown_table(&table(report, workload, level)));
        }
    }
    let stops = stop_notes(report);
    let _ = writeln!(md, "## Stops\n");
    if stops.is_empty() {
        let worst = report.stops.iter().map(|s| s.stop_ms).fold(0.0, f64::max);
        let _ = writeln!(
            md,
            "Every server stopped on SIGTERM with exit code 0 and no process left behind (slowest: {worst:.0} ms).\n"
        );
    }
    for note in stops {
        let _ = writeln!(md, "- {note}");
    }
    md.push('\n');
    md.push_str(&super::glossary::markdown());
    md
}
