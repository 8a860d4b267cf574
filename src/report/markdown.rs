//! `report.md`: the machine and the plan, which model to pick for each workload, what
//! the run found, then for each workload its sweep chart and, for each level, the
//! ranked chart and the table. GitHub renders it; the charts are the SVG files written
//! beside it. Every text that comes from the report is escaped
//! ([`super::escape::markdown`]): it reads as text, never as a link or markup.

use std::fmt::Write as _;

use super::chart::{self, Chart};
use super::escape::{markdown as text, markdown_code as code};
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
    let _ = writeln!(md, "- command: {}", code(&report.command));
    let _ = writeln!(
        md,
        "- machine: {} CPUs ({}), {:.1} GiB, {}",
        m.cpus,
        text(&m.cpu_model),
        m.memory_gib,
        text(&m.kernel)
    );
    let _ = writeln!(
        md,
        "- each figure: {}; {:.0} s in all",
        super::each_figure(report),
        report.wall_s
    );
    if !report.ranked_by.is_empty() {
        let _ = writeln!(md, "- ranking: {}", text(&report.ranked_by));
        let _ = writeln!(
            md,
            "- `#` is the tier: {}; `=3` marks a tier several models share",
            text(&report.tier_rule)
        );
    }
    if !report.cpu_source.is_empty() {
        let _ = writeln!(md, "- {}", text(&report.cpu_source));
    }
    if let Some(p) = &report.placement {
        let _ = writeln!(md, "- {}", placement_line(p));
    }
    if let Some(line) = super::table::server_host_line(report) {
        let _ = writeln!(md, "- {}", text(&line));
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
    if let Some(line) = super::db::explanation(report) {
        let _ = writeln!(md, "- {}", text(&line));
    }
    if let Some(warning) = floor_drift_warning(report) {
        let _ = writeln!(md, "- {}", text(&warning));
    }
    md.push('\n');
    let picks = super::pick::all(report);
    if !picks.is_empty() {
        let _ = writeln!(md, "## Which model to pick\n");
        for pick in picks {
            let _ = writeln!(md, "- **{}**: {}", text(&pick.workload), text(&pick.text));
        }
        md.push('\n');
    }
    let findings = super::findings::all(report);
    if !findings.is_empty() {
        let _ = writeln!(md, "## Findings\n");
        for finding in findings {
            let _ = writeln!(
                md,
                "- **{}**: {}",
                text(&finding.topic),
                text(&finding.text)
            );
        }
        md.push('\n');
    }
    let summary = super::summary::lines(report);
    if !summary.is_empty() {
        let _ = writeln!(md, "## Summary\n");
        for line in summary {
            let _ = writeln!(md, "- {}", text(&line));
        }
        md.push('\n');
    }
    for (workload, levels) in &report.workloads {
        if let Some(sweep) = chart::find(charts, workload, None) {
            md.push_str(&image(sweep));
        }
        for &level in levels {
            if let Some(ranked) = chart::find(charts, workload, Some(level)) {
                md.push_str(&image(ranked));
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
        let _ = writeln!(md, "- {}", text(&note));
    }
    md.push('\n');
    md.push_str(&super::glossary::markdown());
    md
}

/// A chart as a Markdown image: its title escaped, its file a relative path (`./`, so
/// no file name reads as a URL's scheme).
fn image(chart: &Chart) -> String {
    format!("![{}](./{})\n\n", text(&chart.title), chart.file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::testing::{cell, costs, report};

    /// A comparison of two http models at 10 clients, the first with `error`.
    fn with_error(error: &str) -> Comparison {
        let mut failed = cell("epoll", "http", 10, 1, costs(1.0));
        failed.error = Some(error.to_string());
        let mut r = report(
            &[("http", &[10])],
            vec![failed, cell("poll", "http", 10, 2, costs(2.0))],
        );
        r.command = "iomodels compare `x` <b>".into();
        r
    }

    #[test]
    fn text_from_the_report_reads_as_text_not_as_html_or_a_link() {
        let md = page(
            &with_error("<script>alert(1)</script> [x](javascript:alert(1)) a|b"),
            &[],
        );
        // Markdown reads `<` and `]` as markup unless a backslash escapes them.
        let bare = |markup: &str| {
            md.match_indices(markup)
                .any(|(at, _)| !md[..at].ends_with('\\'))
        };
        assert!(!bare("<script"), "{md}");
        assert!(!bare("](javascript:"), "{md}");
        assert!(md.contains("\\<script\\>alert(1)\\</script\\>"), "{md}");
        assert!(md.contains("a\\|b"), "{md}");
        assert!(
            md.contains("- command: `` iomodels compare `x` <b> ``"),
            "a code span its backticks cannot close, where <b> is text: {md}"
        );
    }

    #[test]
    fn every_table_row_keeps_its_columns() {
        // A name `report` refuses on load; the page must hold even so.
        let mut r = with_error("x | y | z");
        r.cells[1].subject = "po|ll".into();
        let md = page(&r, &[]);
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
        let columns = |l: &str| l.replace("\\|", "").matches('|').count();
        assert!(rows.len() >= 3, "{md}");
        assert!(
            rows.iter().all(|r| columns(r) == columns(rows[0])),
            "{rows:#?}"
        );
    }

    #[test]
    fn the_pick_comes_before_the_findings_and_charts_link_as_relative_paths() {
        let r = report(
            &[("http", &[10])],
            vec![
                cell("epoll", "http", 10, 1, costs(1.0)),
                cell("poll", "http", 10, 2, costs(2.0)),
            ],
        );
        let charts = chart::all(&r).unwrap();
        let md = page(&r, &charts);
        let pick = md.find("## Which model to pick").expect("a pick");
        let findings = md.find("## Findings").expect("findings");
        assert!(pick < findings, "{md}");
        assert!(
            md.contains("- **http**: epoll: least CPU per request at 10 clients"),
            "{md}"
        );
        assert!(md.contains("![http, 10 clients](./http-10.svg)"), "{md}");
    }
}
