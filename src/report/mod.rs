//! Presenting a comparison: what it found in sentences, the ranked tables (terminal
//! and Markdown from one table model), SVG charts, a self-contained HTML page, and the
//! JSON. Everything here reads a finished [`Comparison`]; nothing measures.
//!
//! - [`pick`]: the line to act on, first: for each workload, which model to pick and why.
//! - [`findings`]: the seeds' questions answered from the run, for the page's top.
//! - [`table`]: the ranked tables, printed to a terminal or as Markdown.
//! - [`markdown`]: `report.md`, the findings, chart links and tables.
//! - [`chart`]: ranked bars per workload and level, and each workload's sweep.
//! - [`html`]: `report.html`, the findings, charts and tables in one page.
//! - [`ideal`]: what the work workloads (cpu, wait) add: x ideal, p99 over the
//!   handler's time, memory per client connection.
//! - [`db`]: what the database workloads (db, queries) add: x pgbench, PostgreSQL's
//!   own costs, the connections and pool of each server, pgbench's rate, why a model's
//!   requests failed.
//! - [`columns`]: where the columns those workloads add go in the shared table.
//! - [`summary`]: the lines a comparison ends with: tier 1 of each cell, starved clients.
//! - [`diff`]: `iomodels diff`: what changed between two reports, beyond their spread.
//! - [`args`]: the command lines of `report` and `diff`; [`rewrite`] runs `report`.
//! - [`escape`]: a report's text made safe for HTML and Markdown.
//! - [`glossary`]: what every column and figure means, for report.md, the HTML's
//!   column headers and the README.

pub mod args;
pub mod chart;
pub mod columns;
pub mod db;
pub mod diff;
pub mod escape;
pub mod findings;
pub mod glossary;
pub mod html;
pub mod ideal;
pub mod markdown;
pub mod pick;
pub mod summary;
pub mod table;

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::error::usage;
use crate::results::comparison::{Cell, Comparison, IDLE_ACTIVE_CLIENTS};
pub use crate::units::grouped;
use args::ReportArgs;

/// Writes every file of the report into `dir`, prints the ranked tables on stdout and
/// says where the report is.
pub fn present(report: &Comparison, dir: &Path) -> Result<()> {
    write_all(report, dir)?;
    let mut out = std::io::stdout().lock();
    print_picks(report, &mut out)?;
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
        "\nreport: {} (report.md, report.json, the charts as SVG), {:.0} s",
        dir.join("report.html").display(),
        report.wall_s
    )?;
    Ok(())
}

/// Prints [`pick`]'s lines, each wrapped, under a heading; nothing if there are none.
pub fn print_picks(report: &Comparison, out: &mut impl Write) -> std::io::Result<()> {
    let picks = pick::lines(report);
    if picks.is_empty() {
        return Ok(());
    }
    writeln!(out, "which model to pick")?;
    for line in picks {
        let wrapped = wrap(&line, 88, "    ");
        write!(out, "  {}", wrapped.trim_start())?;
    }
    writeln!(out)
}

/// Writes `report.json`, `report.md`, the charts (`WORKLOAD-LEVEL.svg`,
/// `WORKLOAD-sweep.svg`) and `report.html` into `dir`.
pub fn write_all(report: &Comparison, dir: &Path) -> Result<()> {
    let write = |name: &str, text: &str| {
        fs::write(dir.join(name), text)
            .with_context(|| format!("cannot write {}", dir.join(name).display()))
    };
    let charts = chart::all(report)?;
    for chart in &charts {
        write(&chart.file, &chart.svg)?;
    }
    write("report.json", &serde_json::to_string_pretty(report)?)?;
    write("report.md", &markdown::page(report, &charts))?;
    write("report.html", &html::page(report, &charts))?;
    Ok(())
}

/// Runs `iomodels report`: writes a report's files again from its report.json, with
/// this build's tier rule and presentation. A file that is not a report of this version
/// is a usage error.
pub fn rewrite(args: &ReportArgs) -> Result<()> {
    let mut report = Comparison::load(&args.json).map_err(usage)?;
    report.assign_tiers();
    let dir = match &args.out {
        Some(dir) => dir.clone(),
        None => match args.json.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => ".".into(),
        },
    };
    fs::create_dir_all(&dir).map_err(|err| usage(format!("--out {}: {err}", dir.display())))?;
    write_all(&report, &dir)?;
    println!("report: {}", dir.join("report.html").display());
    Ok(())
}

/// A cell's name in a sentence: `http, 100 clients`, `idle, 10,000 idle connections`;
/// with the load from several hosts, per host and in all: `http, 10 clients per host
/// (20 in all)`.
pub fn cell_name(report: &Comparison, workload: &str, level: usize) -> String {
    match workload {
        "hold" => format!("hold, {}", per_host(report, level, "connections")),
        "idle" if report.load_hosts() > 1 => format!(
            "idle, {} idle connections, {}",
            grouped(level),
            per_host(report, IDLE_ACTIVE_CLIENTS, "active clients")
        ),
        "idle" => format!("idle, {} idle connections", grouped(level)),
        _ => format!("{workload}, {}", per_host(report, level, "clients")),
    }
}

/// `n` of `what` that each load-generating host ran: `10 clients`, or with several
/// hosts `10 clients per host (20 in all)`.
pub fn per_host(report: &Comparison, n: usize, what: &str) -> String {
    match report.load_hosts() {
        1 => format!("{} {what}", grouped(n)),
        hosts => format!(
            "{} {what} per host ({} in all)",
            grouped(n),
            grouped(n.saturating_mul(hosts))
        ),
    }
}

/// Why a cell has no figure, in a few words: the first clause of its error, else of
/// the first line its server said, else that no request was answered.
pub fn why_no_figure(cell: &Cell) -> Option<String> {
    let said = cell.error.as_ref().or(cell.server_said.first());
    if let Some(said) = said {
        let clause = said.split(';').next().unwrap_or(said).trim();
        return Some(clause.chars().take(100).collect());
    }
    let served = cell.figures.map(|s| s.median.throughput_per_s);
    (served == Some(0.0)).then(|| "no request answered".to_string())
}

/// What each figure of a report is, in words that match its number of rounds: the
/// median of several, with their spread, or one round's value with no spread at all.
pub fn each_figure(report: &Comparison) -> String {
    match report.repeat {
        0 | 1 => format!(
            "the value of one {} ms run: a single round (as `--quick` runs), so there is \
             no spread, and a difference between models cannot be told from noise",
            report.duration_ms
        ),
        n => format!(
            "the median of {n} interleaved rounds of {} ms runs; the whiskers and min-max \
             columns are the rounds' spread",
            report.duration_ms
        ),
    }
}

/// `text` wrapped into lines of at most `width` characters (a word longer than that
/// stands alone on its line), each line starting with `indent`.
pub fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.chars().count() > width {
            out.push_str(indent);
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(indent);
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_cells_read_as_words() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(10_000), "10,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        let mut r = crate::results::testing::report(&[], Vec::new());
        assert_eq!(
            cell_name(&r, "idle", 10_000),
            "idle, 10,000 idle connections"
        );
        assert_eq!(cell_name(&r, "http", 100), "http, 100 clients");
        r.client_hosts = vec!["ssh://a".into()];
        assert_eq!(cell_name(&r, "http", 100), "http, 100 clients", "one host");
    }

    #[test]
    fn with_several_load_hosts_a_count_is_per_host_and_in_all() {
        let mut r = crate::results::testing::report(&[], Vec::new());
        r.client_hosts = vec!["ssh://a".into(), "ssh://b".into()];
        assert_eq!(
            cell_name(&r, "http", 10),
            "http, 10 clients per host (20 in all)"
        );
        assert_eq!(
            cell_name(&r, "hold", 10_000),
            "hold, 10,000 connections per host (20,000 in all)"
        );
        assert_eq!(
            cell_name(&r, "idle", 1000),
            "idle, 1,000 idle connections, 50 active clients per host (100 in all)",
            "the idle connections are held once, from compare's machine"
        );
    }

    #[test]
    fn the_terminal_opens_with_the_pick() {
        use crate::results::testing::{cell, costs, report};
        let mut r = report(
            &[("http", &[10, 100])],
            vec![
                cell("epoll", "http", 10, 1, costs(1.0)),
                cell("epoll", "http", 100, 1, costs(1.0)),
                cell("poll", "http", 100, 2, costs(2.0)),
            ],
        );
        r.repeat = 5;
        let mut out = Vec::new();
        print_picks(&r, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "which model to pick\n  http: epoll: least CPU per request at 10 and 100 clients\n\n"
        );
        let mut out = Vec::new();
        print_picks(&report(&[], Vec::new()), &mut out).unwrap();
        assert!(out.is_empty(), "no pick, no heading");
    }

    #[test]
    fn a_long_line_is_wrapped_as_a_paragraph() {
        let text =
            "models rank by the server's CPU per request over the floor measured in the same round";
        let wrapped = wrap(text, 30, "  ");
        assert!(
            wrapped
                .lines()
                .all(|l| l.len() <= 30 && l.starts_with("  ")),
            "{wrapped}"
        );
        assert_eq!(
            wrapped.split_whitespace().collect::<Vec<_>>().join(" "),
            text
        );
        assert_eq!(wrap("", 30, ""), "");
    }

    #[test]
    fn a_cell_says_why_it_has_no_figure() {
        use crate::results::figures::Figures;
        use crate::results::testing::cell;
        let mut silent = cell("select", "idle", 10_000, 3, Figures::default());
        assert_eq!(
            why_no_figure(&silent).as_deref(),
            Some("no request answered")
        );
        silent.server_said = vec!["descriptor 1024 is not below FD_SETSIZE; closing it".into()];
        assert_eq!(
            why_no_figure(&silent).as_deref(),
            Some("descriptor 1024 is not below FD_SETSIZE")
        );
        silent.error = Some("round 2: server died (exit code 1)".into());
        assert_eq!(
            why_no_figure(&silent).as_deref(),
            Some("round 2: server died (exit code 1)")
        );
    }
}
