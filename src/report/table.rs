//! The ranked tables: one per workload and level, rows ranked by tier (the `#` column:
//! `=3` for a tier three models share), then by the median ranking figure. The same
//! [`Table`] is printed to the terminal (aligned columns) and to Markdown.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::results::comparison::{Cell, Comparison, Disturbance, IDLE_ACTIVE_CLIENTS};
use crate::results::figures::{Figures, Spread};
use crate::results::tiers::held_short;

use super::{grouped, per_host};

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

/// The title of the table of `workload` at `level`: what each load-generating host
/// ran, and in all when there were several ([`per_host`]).
fn table_title(report: &Comparison, workload: &str, level: usize) -> String {
    match workload {
        "hold" => format!("hold: {}", per_host(report, level, "connections held")),
        "idle" => format!(
            "idle: {}, {} idle connections",
            per_host(report, IDLE_ACTIVE_CLIENTS, "active keep-alive clients"),
            grouped(level)
        ),
        _ => format!(
            "{workload}: {}",
            per_host(report, level, "concurrent clients")
        ),
    }
}

pub(super) fn table(report: &Comparison, workload: &str, level: usize) -> Table {
    let hold = workload == "hold";
    let idle = workload == "idle";
    let title = table_title(report, workload, level);
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
        headers.extend(["kernel B/conn", "srv kernel B/conn"]);
    }
    headers.push("thr/proc");
    let work = super::ideal::Columns::of(report, workload, &headers);
    if let Some(work) = &work {
        work.add_headers(&mut headers);
    }
    let database = super::db::DbColumns::of(workload, &headers);
    if let Some(database) = &database {
        database.add_headers(&mut headers);
    }
    let mut rows = Vec::new();
    let mut notes = super::db::notes(report, workload, level);
    let mut client_bound = false;
    for cell in report.ranked(workload, level) {
        if let Some(error) = &cell.error {
            notes.push(format!("{}: {}", cell.subject, error));
        }
        for line in &cell.server_said {
            notes.push(format!("{}: the server said: {line}", cell.subject));
        }
        if let Some(note) = disturbed_note(cell) {
            notes.push(note);
        }
        notes.extend(held_note(report, cell));
        notes.extend(below_floor_note(cell));
        let Some(spread) = cell.figures else {
            let mut row = vec!["-".to_string(), cell.subject.clone(), "failed".to_string()];
            row.resize(headers.len(), String::new());
            rows.push(row);
            continue;
        };
        let bound = spread.median.client_cpu_share > CLIENT_BOUND;
        client_bound |= bound;
        let mut row = row(
            tier_label(report, cell),
            cell,
            &spread,
            hold || idle,
            bound,
            report.floor_us_per_req,
        );
        if let Some(work) = &work {
            work.add_values(&mut row, &spread.median);
        }
        if let Some(database) = &database {
            database.add_values(&mut row, cell, &spread.median);
        }
        rows.push(row);
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

/// How many connections a cell held, when fewer than its level asked for, and the
/// descriptor limit that capped it, when one did: one line for both (`epoll: held 19,993
/// of 100,000 connections: capped at 20,000 by the descriptor limit, ...`).
fn held_note(report: &Comparison, cell: &Cell) -> Option<String> {
    let held = cell
        .figures
        .and_then(|s| s.median.held)
        .filter(|_| held_short(cell));
    let held = held.map(|held| {
        format!(
            "held {} of {} {}connections",
            grouped(held as usize),
            grouped(report.connections_asked(&cell.workload, cell.level)),
            if cell.workload == "idle" { "idle " } else { "" }
        )
    });
    let capped = report.capped_by_descriptors(cell).map(|nofile| {
        format!(
            "capped at {} by the descriptor limit, the most descriptors one process may hold here",
            grouped(nofile as usize)
        )
    });
    let note = match (held, capped) {
        (Some(held), Some(capped)) => format!("{held}: {capped}"),
        (held, capped) => held.or(capped)?,
    };
    Some(format!("{}: {note}", cell.subject))
}

/// A cell whose median x floor came out below 1: the floor is a minimal loop's median,
/// measured apart from the model, not a bound.
fn below_floor_note(cell: &Cell) -> Option<String> {
    let x = cell.figures?.median.x_floor.filter(|&x| x < 1.0)?;
    Some(format!(
        "{}: {x:.2}x, below the floor (the floor is the median CPU per request of a minimal server loop in the same round, not a bound)",
        cell.subject
    ))
}

/// Which of a cell's rounds were measured while other processes used the machine.
fn disturbed_note(cell: &Cell) -> Option<String> {
    let d = Disturbance::of(cell)?;
    Some(format!(
        "{}: {} of {} rounds measured under interference (other processes took up to {:.0}% of a core, {:.1}% steal)",
        cell.subject,
        d.rounds,
        cell.rounds.len(),
        d.worst_outside_pct,
        d.worst_steal_pct
    ))
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
        row.push(opt(m.kernel_server_per_conn_b, 0));
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
    let drift = report
        .floor_drift()
        .filter(|d| d.ratio() > FLOOR_DRIFT_WARNING)?;
    Some(format!(
        "warning: the floor moved by {:.0}% during the {} rounds ({:.2} us in the first and {:.2} us in the last): the host's speed changed (load from elsewhere?); x floor is taken within each round, so the rounds still compare",
        (drift.ratio() - 1.0) * 100.0,
        drift.workload,
        drift.first_us,
        drift.last_us
    ))
}

/// Prints every table with aligned columns.
pub fn print_terminal(report: &Comparison, out: &mut impl Write) -> io::Result<()> {
    if let Some(floor) = report.floor_us_per_req {
        let line = format!(
            "floor here: {floor:.2} us of CPU per request (a minimal server loop: one read, one write; median of {} rounds); x floor = a server's CPU per request / its round's floor, a reference, not a bound",
            report.rounds.len()
        );
        writeln!(out, "{}", super::wrap(&line, 88, "  "))?;
    }
    if let Some(line) = super::ideal::explanation(report) {
        write!(out, "{}", super::wrap(&line, 88, "  "))?;
    }
    if let Some(line) = super::db::explanation(report) {
        write!(out, "{}", super::wrap(&line, 88, "  "))?;
    }
    if !report.ranked_by.is_empty() {
        let rule = format!(
            "Ranking: {}. # is the tier: {}.",
            report.ranked_by, report.tier_rule
        );
        write!(out, "\n{}\n", super::wrap(&rule, 88, ""))?;
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

/// One table in Markdown, every title, cell and note escaped
/// ([`super::escape::markdown`]): a `|` in a name stays in its column.
pub fn markdown_table(table: &Table) -> String {
    let text = super::escape::markdown;
    let headers: Vec<String> = table.headers.iter().map(|h| text(h)).collect();
    let mut md = format!(
        "## {}\n\n| {} |\n|",
        text(&table.title),
        headers.join(" | ")
    );
    for _ in &table.headers {
        md.push_str("---|");
    }
    md.push('\n');
    for row in &table.rows {
        let cells: Vec<String> = row.iter().map(|c| text(c)).collect();
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    for note in &table.notes {
        let _ = writeln!(md, "\n- {}", text(note));
    }
    md.push('\n');
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report with no cells, and rounds of each workload with these floors (`None`
    /// for one not measured).
    fn report(rounds: &[(&str, &[Option<f64>])]) -> Comparison {
        let mut r = crate::results::testing::report(&[], Vec::new());
        for (workload, floors) in rounds {
            r.workloads.push((workload.to_string(), vec![10]));
            for (index, floor) in floors.iter().enumerate() {
                r.rounds.push(crate::results::comparison::Round {
                    workload: workload.to_string(),
                    index,
                    floor_us_per_req: *floor,
                    order: Vec::new(),
                    pgbench: Vec::new(),
                });
            }
        }
        r.floor_before_us_per_req = r.rounds.first().and_then(|r| r.floor_us_per_req);
        r.floor_after_us_per_req = r.rounds.last().and_then(|r| r.floor_us_per_req);
        r
    }

    #[test]
    fn a_floor_that_moved_during_a_workloads_rounds_is_a_warning_in_the_report() {
        let moved = report(&[
            ("echo", &[Some(2.0), Some(2.1)]),
            ("http", &[Some(2.0), Some(2.5), Some(3.0)]),
        ]);
        let warning = floor_drift_warning(&moved).expect("a warning");
        assert!(
            warning.contains("moved by 50% during the http rounds (2.00 us in the first and 3.00 us in the last)"),
            "{warning}"
        );
        assert!(super::super::markdown::page(&moved, &[]).contains(&warning));
        let mut terminal = Vec::new();
        print_terminal(&moved, &mut terminal).unwrap();
        assert!(String::from_utf8(terminal).unwrap().contains(&warning));
    }

    #[test]
    fn the_ranking_rule_is_a_wrapped_paragraph() {
        let mut r = report(&[("echo", &[Some(2.0), Some(2.0)])]);
        r.ranked_by = crate::results::tiers::RANKED_BY.into();
        r.tier_rule = crate::results::tiers::RULE.into();
        let mut terminal = Vec::new();
        print_terminal(&r, &mut terminal).unwrap();
        let text = String::from_utf8(terminal).unwrap();
        assert!(text.contains("Ranking: models rank by"), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 160), "{text}");
        let rule: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("Ranking"))
            .collect();
        assert!(
            rule.len() > 3 && rule[..3].iter().all(|l| l.len() <= 88),
            "{text}"
        );
    }

    #[test]
    fn floors_of_different_workloads_are_not_set_against_each_other() {
        let apart = report(&[
            ("echo", &[Some(2.0), Some(2.1)]),
            ("idle", &[Some(3.0), Some(3.1)]),
        ]);
        assert_eq!(floor_drift_warning(&apart), None);
        assert_eq!(
            floor_drift_warning(&report(&[("echo", &[Some(2.0), None])])),
            None
        );
        assert_eq!(
            floor_drift_warning(&report(&[("echo", &[Some(2.0)])])),
            None
        );
        assert!(super::super::markdown::page(&apart, &[]).contains("2.00 us in the first round"));
    }

    #[test]
    fn a_cell_below_the_floor_or_short_of_its_connections_is_noted() {
        use crate::results::figures::Figures;
        use crate::results::testing::{cell, costs};
        let below = cell("epoll", "http", 10, 1, costs(0.97));
        let note = below_floor_note(&below).expect("a note");
        assert!(note.starts_with("epoll: 0.97x, below the floor"), "{note}");
        assert_eq!(
            below_floor_note(&cell("poll", "http", 10, 1, costs(1.02))),
            None
        );
        let short = Figures {
            held: Some(960.0),
            ..costs(4.8)
        };
        let select = cell("select", "idle", 10_000, 2, short);
        let r = crate::results::testing::report(&[], Vec::new());
        assert_eq!(
            held_note(&r, &select).as_deref(),
            Some("select: held 960 of 10,000 idle connections")
        );
    }

    #[test]
    fn with_several_load_hosts_the_tables_say_per_host_and_in_all() {
        use crate::results::testing::{cell, costs};
        let mut r = crate::results::testing::report(
            &[("http", &[10]), ("hold", &[10_000]), ("idle", &[1000])],
            vec![
                cell("epoll", "http", 10, 1, costs(1.0)),
                cell("epoll", "hold", 10_000, 1, costs(1.0)),
                cell("epoll", "idle", 1000, 1, costs(1.0)),
            ],
        );
        let titles =
            |r: &Comparison| -> Vec<String> { tables(r).into_iter().map(|t| t.title).collect() };
        assert_eq!(
            titles(&r),
            [
                "http: 10 concurrent clients",
                "hold: 10,000 connections held",
                "idle: 50 active keep-alive clients, 1,000 idle connections"
            ]
        );
        r.client_hosts = vec!["ssh://a".into(), "ssh://b".into()];
        let expected = [
            "http: 10 concurrent clients per host (20 in all)",
            "hold: 10,000 connections held per host (20,000 in all)",
            "idle: 50 active keep-alive clients per host (100 in all), 1,000 idle connections",
        ];
        assert_eq!(titles(&r), expected);
        let mut terminal = Vec::new();
        print_terminal(&r, &mut terminal).unwrap();
        let terminal = String::from_utf8(terminal).unwrap();
        let md = super::super::markdown::page(&r, &[]);
        for title in expected {
            assert!(terminal.contains(&format!("\n{title}\n")), "{terminal}");
            assert!(md.contains(&format!("## {title}\n")), "{md}");
        }
    }

    #[test]
    fn a_model_capped_by_the_descriptor_limit_gets_one_note_that_says_both() {
        use crate::results::figures::Figures;
        use crate::results::testing::{cell, costs};
        let holding = |held: Option<f64>| Figures {
            held,
            processes: Some(1.0),
            ..costs(4.8)
        };
        let r = crate::results::testing::report(
            &[("hold", &[100_000])],
            vec![
                cell("epoll", "hold", 100_000, 2, holding(Some(19_993.0))),
                cell("reuseport", "hold", 100_000, 2, holding(None)),
            ],
        );
        assert_eq!(r.machine.nofile, Some(20_000));
        let notes = table(&r, "hold", 100_000).notes;
        let about = |model: &str| -> Vec<&String> {
            notes.iter().filter(|n| n.starts_with(model)).collect()
        };
        assert_eq!(
            about("epoll:"),
            ["epoll: held 19,993 of 100,000 connections: capped at 20,000 by the descriptor limit, the most descriptors one process may hold here"]
        );
        assert_eq!(
            about("reuseport:"),
            ["reuseport: capped at 20,000 by the descriptor limit, the most descriptors one process may hold here"],
            "capped, with no count of what it held"
        );
    }
}
