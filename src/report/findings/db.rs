//! The findings of the database workloads (`db`, `queries`), computed from their cells:
//! the questions a reader of the seeds brings to a service that reads a row per request.
//! In the order the report gives them:
//!
//! - [`closest`]: which model comes closest to PostgreSQL's own rate (`pgbench -S` in
//!   the same round), and what a request cost it, server and database together;
//! - [`per_client`]: what a connection per client costs against a pool of them (threads
//!   against threadpool, prethread or prefork): rate, CPU, memory, and where the
//!   database's `max_connections` refuses the connections past it;
//! - [`hybrid`]: whether seed 004's hybrid (an event loop handing each query to a pool
//!   of threads with a connection each, `epoll:--offload=8`) beats thread-per-connection
//!   and async here, and by how much.
//!
//! Each speaks of 100 clients where that level was measured (else the most clients),
//! of `db` where it ran (else `queries`), and says where the rounds cannot tell two of
//! its figures apart ([`apart`]).

use super::work::{apart, focus, listed, measured, not_told, rate, slowness};
use super::{served_all, Finding};
use crate::report::db::{refusal, x_pgbench_figure, Refusal};
use crate::report::{cell_name, grouped};
use crate::results::comparison::{Cell, Comparison};
use crate::results::db::{rows_per_request, total_cpu_us_per_req, LOOP_POOL};
use crate::results::figures::Figures;
use crate::results::tiers::RoundFigure;

/// The models that hold a connection per client, the first measured taken.
const PER_CLIENT: [&str; 2] = ["threads", "fork"];
/// The blocking models whose pool of workers holds a connection each.
const POOLED: [&str; 3] = ["threadpool", "prethread", "prefork"];
/// The async models: the subjects whose model is one of these, with whatever flags.
const ASYNC: [&str; 2] = ["async", "async-mt"];

/// Every finding of the database workloads the report has data for.
pub(super) fn all(report: &Comparison) -> Vec<Finding> {
    let mut out: Vec<Finding> = ["db", "queries"]
        .into_iter()
        .filter_map(|w| closest(report, w))
        .collect();
    let ran = |w: &str| report.workloads.iter().any(|(name, _)| name == w);
    if let Some(workload) = ["db", "queries"].into_iter().find(|w| ran(w)) {
        out.extend(per_client(report, workload));
        out.extend(hybrid(report, workload));
    }
    out
}

/// x pgbench, 0 where there is none, to sort by.
fn x_of(figures: &Figures) -> f64 {
    figures.x_pgbench.unwrap_or(0.0)
}

/// x pgbench as a cost, for the rounds to tell two cells apart.
fn distance(figures: &Figures) -> Option<f64> {
    figures.x_pgbench.filter(|&x| x > 0.0).map(|x| 1.0 / x)
}

/// CPU per request, server and database together, as a cost.
fn total_cpu(figures: &Figures) -> Option<f64> {
    total_cpu_us_per_req(figures)
}

/// `41,200 req/s (0.85x pgbench)`, or for `queries` `2,060 req/s, 41,200 rows/s (0.85x
/// pgbench)`.
fn served(figures: &Figures, rows: f64) -> String {
    let rows_s = if rows > 1.0 {
        format!(
            ", {} rows/s",
            grouped((figures.throughput_per_s * rows).round() as usize)
        )
    } else {
        String::new()
    };
    match figures.x_pgbench {
        Some(x) => format!(
            "{}{rows_s} ({}x pgbench)",
            rate(figures),
            x_pgbench_figure(x)
        ),
        None => format!("{}{rows_s}", rate(figures)),
    }
}

/// The rows one request of `workload` reads in this report.
fn rows(report: &Comparison, workload: &str) -> f64 {
    let queries = report.database.as_ref().map_or(1, |d| d.queries);
    rows_per_request(workload, queries).unwrap_or(1.0)
}

/// The model closest to PostgreSQL's own rate at 100 clients (or the most), of those
/// that served every client; the next two; what a request cost it against what a
/// lookup cost PostgreSQL under pgbench.
pub(super) fn closest(report: &Comparison, workload: &str) -> Option<Finding> {
    let (_, level) = focus(report, workload, 100)?;
    let (tps, clients) = report.pgbench_median(workload, level)?;
    let mut cells: Vec<(&Cell, Figures)> = report
        .ranked(workload, level)
        .into_iter()
        .filter_map(|c| Some((c, c.figures?.median)))
        .filter(|(_, f)| f.x_pgbench.is_some())
        .collect();
    cells.sort_by(|a, b| x_of(&b.1).total_cmp(&x_of(&a.1)));
    let all_served = cells.iter().any(|(c, _)| served_all(c));
    // The nearest of all, when it left clients without a reply or failed requests.
    let nearer = cells
        .first()
        .filter(|(c, _)| all_served && !served_all(c))
        .copied();
    if all_served {
        cells.retain(|(c, _)| served_all(c));
    }
    let (best, figures) = *cells.first()?;
    let rows = rows(report, workload);
    let mut text = format!(
        "pgbench -S read {} rows/s at {} clients here, PostgreSQL's own rate for the same lookup. At {}, {} came closest to it, at {}",
        grouped(tps.round() as usize),
        grouped(clients as usize),
        cell_name(report, workload, level),
        best.subject,
        served(&figures, rows)
    );
    let next: Vec<String> = cells[1..]
        .iter()
        .take(2)
        .filter_map(|(c, f)| Some(format!("{} {}x", c.subject, x_pgbench_figure(f.x_pgbench?))))
        .collect();
    if !next.is_empty() {
        text.push_str(&format!(", ahead of {}", listed(&next)));
    }
    text.push('.');
    if !all_served {
        text.push_str(" No model served every client there without an error.");
    }
    if let Some((cell, f)) = nearer {
        text.push_str(&format!(
            " {} read more ({}x pgbench) but {}.",
            cell.subject,
            x_pgbench_figure(x_of(&f)),
            shortfall(report, cell, &f)
        ));
    }
    let pgbench_cpu = report
        .rounds
        .iter()
        .filter(|r| r.workload == workload)
        .find_map(|r| {
            r.pgbench
                .iter()
                .find(|p| p.level == level)?
                .db_cpu_us_per_tx
        });
    if let (Some(total), Some(server)) = (total_cpu(&figures), figures.cpu_us_per_req) {
        let per = if rows > 1.0 {
            format!(" ({:.1} µs a row)", total / rows)
        } else {
            String::new()
        };
        text.push_str(&format!(
            " A request cost it {total:.1} µs of CPU{per}, server and PostgreSQL together ({server:.1} µs the server's)"
        ));
        match pgbench_cpu {
            Some(lookup) => text.push_str(&format!(
                ", against {lookup:.1} µs of PostgreSQL's per lookup under pgbench."
            )),
            None => text.push('.'),
        }
    }
    if let Some((second, _)) = cells.get(1) {
        if !apart(best, second, &distance) {
            text.push_str(&not_told("x pgbench", &[(best, second)]));
        }
    }
    Some(Finding {
        topic: format!(
            "{}: closest to PostgreSQL",
            cell_name(report, workload, level)
        ),
        text,
    })
}

/// What a cell that read fast failed to do: `left 92 of 100 clients without a reply`,
/// `failed 12 requests`.
fn shortfall(report: &Comparison, cell: &Cell, figures: &Figures) -> String {
    let starved = figures.starved.unwrap_or(0.0);
    let mut words = Vec::new();
    if starved > 0.0 {
        words.push(format!(
            "left {} of {} clients without a reply",
            grouped(starved.round() as usize),
            grouped(report.clients_in_all(&cell.workload, cell.level))
        ));
    }
    if figures.errors > 0.0 {
        words.push(format!(
            "failed {} requests",
            grouped(figures.errors.round() as usize)
        ));
    }
    if cell.error.is_some() {
        words.push("failed in a round".to_string());
    }
    listed(&words)
}

/// A cell's figures in a comparison of connections: `held 100 database connections and
/// read 8,000 req/s (0.45x pgbench) at 60.0 µs of CPU per request with PostgreSQL's,
/// 250.0 MB of memory between them`.
fn connections_cost(figures: &Figures, rows: f64) -> String {
    let held = figures.db_connections.map_or_else(String::new, |n| {
        format!(
            "held {} database connections and ",
            grouped(n.round() as usize)
        )
    });
    let mut text = format!("{held}read {}", served(figures, rows));
    if let Some(total) = total_cpu(figures) {
        text.push_str(&format!(
            " at {total:.1} µs of CPU per request with PostgreSQL's"
        ));
    }
    if let (Some(server), Some(database)) = (figures.pss_peak_kb, figures.db_pss_peak_kb) {
        text.push_str(&format!(
            ", {:.1} MB of memory between them",
            (server + database) / 1024.0
        ));
    }
    text
}

/// `a` over `b` in words: `1.52x`.
fn times(a: f64, b: f64) -> String {
    format!("{:.2}x", a / b)
}

/// The first of `names` measured at `level` of `workload`.
fn first_of<'a>(
    report: &'a Comparison,
    workload: &str,
    level: usize,
    names: &[&str],
) -> Option<(&'a Cell, Figures)> {
    names
        .iter()
        .find_map(|name| measured(report, name, workload, level))
}

/// Of the subjects `keep` picks at `level` of `workload`, the one nearest pgbench.
fn best_of<'a>(
    report: &'a Comparison,
    workload: &str,
    level: usize,
    keep: impl Fn(&str) -> bool,
) -> Option<(&'a Cell, Figures)> {
    report
        .cells
        .iter()
        .filter(|c| c.workload == workload && c.level == level && keep(&c.subject))
        .filter_map(|c| Some((c, c.figures?.median)))
        .filter(|(_, f)| f.x_pgbench.is_some())
        .max_by(|a, b| x_of(&a.1).total_cmp(&x_of(&b.1)))
}

/// The most clients at which `subject` could not hold a connection per client: how
/// PostgreSQL refused them, and the figures there.
fn refused_at(
    report: &Comparison,
    subject: &str,
    workload: &str,
) -> Option<(usize, Refusal, Figures)> {
    report
        .cells
        .iter()
        .filter(|c| c.subject == subject && c.workload == workload)
        .filter_map(|c| Some((c.level, refusal(c)?.0, c.figures?.median)))
        .max_by_key(|&(level, _, _)| level)
}

/// What a connection per client (threads, or fork) costs against a pool of them (the
/// pooled blocking model nearest pgbench), and where `max_connections` refuses it.
pub(super) fn per_client(report: &Comparison, workload: &str) -> Option<Finding> {
    let (_, level) = focus(report, workload, 100)?;
    let (each, each_figures) = first_of(report, workload, level, &PER_CLIENT)?;
    let (pool, pool_figures) = best_of(report, workload, level, |s| POOLED.contains(&s))?;
    let rows = rows(report, workload);
    let mut text = format!(
        "At {}, {} (a connection per client) {}; {} (1 per worker) {}.",
        cell_name(report, workload, level),
        each.subject,
        connections_cost(&each_figures, rows),
        pool.subject,
        connections_cost(&pool_figures, rows)
    );
    let faster: RoundFigure = &slowness;
    if apart(each, pool, faster) {
        let (lead, lead_f, behind, behind_f) =
            if pool_figures.throughput_per_s >= each_figures.throughput_per_s {
                (pool, &pool_figures, each, &each_figures)
            } else {
                (each, &each_figures, pool, &pool_figures)
            };
        text.push_str(&format!(
            " {} served {} the requests of {}",
            lead.subject,
            times(lead_f.throughput_per_s, behind_f.throughput_per_s),
            behind.subject
        ));
        if let (Some(a), Some(b)) = (total_cpu(&each_figures), total_cpu(&pool_figures)) {
            text.push_str(&format!(
                "; a connection per client cost {} the CPU per request of the pool",
                times(a, b)
            ));
        }
        text.push('.');
    } else {
        text.push_str(&not_told("req/s", &[(each, pool)]));
    }
    if let Some((at, kind, there)) = refused_at(report, &each.subject, workload) {
        let max = report.database.as_ref().and_then(|d| d.max_connections);
        let pool_there = measured(report, &pool.subject, workload, at);
        let pool_words = match pool_there {
            Some((cell, _)) if served_all(cell) => {
                format!(", while {} served them all", pool.subject)
            }
            _ => String::new(),
        };
        let lost = match (there.errors, there.starved.unwrap_or(0.0)) {
            (e, _) if e > 0.0 => format!("{} requests failed (503)", grouped(e.round() as usize)),
            (_, s) if s > 0.0 => format!("{} clients got no answer", grouped(s.round() as usize)),
            _ => "its requests slowed".to_string(),
        };
        text.push_str(&format!(
            " At {} clients {} could not hold a connection per client: {}, and {lost}{pool_words}.",
            grouped(at),
            each.subject,
            kind.why(max)
        ));
    }
    Some(Finding {
        topic: "a connection per client against a pool".to_string(),
        text,
    })
}

/// How `hybrid`'s req/s stands against `rival`'s: `52% ahead of threads (a connection
/// per client, 8,000 req/s)`, `2.7x the rate of`, `10% behind`, or that the rounds
/// cannot tell them apart.
fn against(hybrid: (&Cell, &Figures), rival: (&Cell, &Figures), what: &str) -> String {
    let (h, hf) = hybrid;
    let (r, rf) = rival;
    if rf.throughput_per_s <= 0.0 {
        return format!("{} ({what}) served nothing", r.subject);
    }
    let ratio = hf.throughput_per_s / rf.throughput_per_s;
    let told = apart(h, r, &slowness);
    let verdict = match (told, ratio >= 1.0) {
        (false, _) => "no more than noise apart from".to_string(),
        (true, true) if ratio >= 2.0 => format!("{ratio:.1}x the rate of"),
        (true, true) => format!("{:.0}% ahead of", (ratio - 1.0) * 100.0),
        (true, false) => format!("{:.0}% behind", (1.0 - ratio) * 100.0),
    };
    format!("{verdict} {} ({what}, {})", r.subject, rate(rf))
}

/// Seed 004's hybrid against thread-per-connection and async: at 100 clients (or the
/// most), and again at the most clients where that is another level.
pub(super) fn hybrid(report: &Comparison, workload: &str) -> Option<Finding> {
    let (levels, level) = focus(report, workload, 100)?;
    let rows = rows(report, workload);
    let mut parts = Vec::new();
    let mut seen = Vec::new();
    for at in [Some(level), levels.last().copied().filter(|&l| l != level)]
        .into_iter()
        .flatten()
    {
        let Some((hybrid, figures)) = measured(report, LOOP_POOL, workload, at) else {
            continue;
        };
        let rivals = [
            (
                first_of(report, workload, at, &PER_CLIENT),
                "a connection per client",
            ),
            (
                best_of(report, workload, at, |s| {
                    ASYNC.contains(&s.split(':').next().unwrap_or(s))
                }),
                "the nearest async",
            ),
        ];
        let words: Vec<String> = rivals
            .iter()
            .filter_map(|(rival, what)| {
                let (cell, f) = rival.as_ref()?;
                Some(against((hybrid, &figures), (cell, f), what))
            })
            .collect();
        if words.is_empty() {
            continue;
        }
        let failing = if served_all(hybrid) {
            String::new()
        } else {
            format!(
                ", though {} of its requests failed",
                grouped(figures.errors.round() as usize)
            )
        };
        parts.push(format!(
            "at {} clients it read {}{failing}: {}",
            grouped(at),
            served(&figures, rows),
            listed(&words)
        ));
        seen.push(at);
    }
    if parts.is_empty() {
        return None;
    }
    Some(Finding {
        topic: "seed 004's hybrid against the database".to_string(),
        text: format!(
            "Seed 004's hybrid, an event loop handing each query to a pool of 8 threads with a connection each ({LOOP_POOL}), on {}: {}.",
            workload,
            parts.join("; ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::comparison::Round;
    use crate::results::db::{DbServer, Pgbench};
    use crate::results::testing::{cell_of_rounds, report};

    /// A db cell at `level` whose five rounds served `req_s` (give or take 2%, all
    /// figures together), against pgbench's 40,000 lookups/s, with `server_us` and
    /// `db_us` of CPU per request and `conns` database connections.
    fn read(subject: &str, level: usize, req_s: f64, cpu: (f64, f64), conns: f64) -> Cell {
        let rounds: Vec<Figures> = [1.0, 1.02, 0.98, 1.01, 0.99]
            .iter()
            .map(|j| Figures {
                throughput_per_s: req_s * j,
                x_pgbench: Some(req_s * j / 40_000.0),
                cpu_us_per_req: Some(cpu.0 * j),
                db_cpu_us_per_req: Some(cpu.1 * j),
                pss_peak_kb: Some(10_240.0),
                db_pss_peak_kb: Some(conns * 3_072.0),
                db_connections: Some(conns),
                starved: Some(0.0),
                ..Figures::default()
            })
            .collect();
        cell_of_rounds(subject, "db", level, 1, &rounds)
    }

    /// A report of five rounds of db at `levels`, pgbench at 40,000 lookups/s (197
    /// clients at the most), with a private cluster of 200 connections.
    fn db_report(levels: &'static [usize], cells: Vec<Cell>) -> Comparison {
        let mut r = report(&[("db", levels)], cells);
        r.repeat = 5;
        r.database = Some(DbServer {
            private: true,
            version: Some("PostgreSQL 15.18".into()),
            settings: Some("max_connections=200".into()),
            max_connections: Some(200),
            reserved_connections: Some(3),
            queries: 20,
            sampled: true,
        });
        r.rounds = (0..5)
            .map(|index| Round {
                workload: "db".into(),
                index,
                floor_us_per_req: Some(5.0),
                order: Vec::new(),
                pgbench: levels
                    .iter()
                    .map(|&level| Pgbench {
                        level,
                        clients: level.min(197) as u32,
                        tps: Some(40_000.0),
                        db_cpu_us_per_tx: Some(20.0),
                        error: None,
                    })
                    .collect(),
            })
            .collect();
        r
    }

    fn finding(r: &Comparison, topic: &str) -> Option<String> {
        all(r)
            .into_iter()
            .find(|f| f.topic == topic)
            .map(|f| f.text)
    }

    #[test]
    fn names_the_model_closest_to_postgresqls_own_rate() {
        let r = db_report(
            &[10, 100],
            vec![
                read("threads", 100, 24_000.0, (30.0, 25.0), 100.0),
                read(LOOP_POOL, 100, 34_000.0, (20.0, 22.0), 8.0),
                read("async", 100, 33_000.0, (18.0, 22.0), 16.0),
                read("epoll", 10, 9_000.0, (20.0, 22.0), 1.0),
            ],
        );
        let text = finding(&r, "db, 100 clients: closest to PostgreSQL").expect("a finding");
        assert_eq!(
            text,
            "pgbench -S read 40,000 rows/s at 100 clients here, PostgreSQL's own rate for the same lookup. At db, 100 clients, epoll:--offload=8 came closest to it, at 34,000 req/s (0.85x pgbench), ahead of async 0.82x and threads 0.60x. A request cost it 42.0 µs of CPU, server and PostgreSQL together (20.0 µs the server's), against 20.0 µs of PostgreSQL's per lookup under pgbench. The rounds cannot tell apart the x pgbench of epoll:--offload=8 and async."
        );
    }

    #[test]
    fn a_model_that_failed_requests_is_not_the_closest() {
        let mut failing = read("threads", 100, 39_000.0, (30.0, 25.0), 100.0);
        for round in &mut failing.rounds {
            round.figures.errors = 12.0;
        }
        failing.figures = crate::results::figures::Spread::of(
            &failing.rounds.iter().map(|r| r.figures).collect::<Vec<_>>(),
        );
        let r = db_report(
            &[100],
            vec![
                failing,
                read("threadpool", 100, 20_000.0, (30.0, 25.0), 8.0),
            ],
        );
        let text = finding(&r, "db, 100 clients: closest to PostgreSQL").unwrap();
        assert!(text.contains("threadpool came closest"), "{text}");
        assert!(
            text.contains(" threads read more (0.97x pgbench) but failed 12 requests."),
            "{text}"
        );
    }

    #[test]
    fn a_connection_per_client_costs_against_a_pool_and_max_connections_refuses_it() {
        let mut refused = read("threads", 1000, 2_000.0, (200.0, 300.0), 188.0);
        refused.server_said = vec!["database: sorry, too many clients already".into()];
        for round in &mut refused.rounds {
            round.figures.errors = 803.0;
        }
        refused.figures = crate::results::figures::Spread::of(
            &refused.rounds.iter().map(|r| r.figures).collect::<Vec<_>>(),
        );
        let r = db_report(
            &[100, 1000],
            vec![
                read("threads", 100, 20_000.0, (30.0, 30.0), 100.0),
                refused,
                read("threadpool", 100, 30_000.0, (20.0, 20.0), 8.0),
                read("threadpool", 1000, 29_000.0, (20.0, 20.0), 8.0),
                read("prethread", 100, 25_000.0, (20.0, 20.0), 10.0),
            ],
        );
        let text = finding(&r, "a connection per client against a pool").expect("a finding");
        assert_eq!(
            text,
            "At db, 100 clients, threads (a connection per client) held 100 database connections and read 20,000 req/s (0.50x pgbench) at 60.0 µs of CPU per request with PostgreSQL's, 310.0 MB of memory between them; threadpool (1 per worker) held 8 database connections and read 30,000 req/s (0.75x pgbench) at 40.0 µs of CPU per request with PostgreSQL's, 34.0 MB of memory between them. threadpool served 1.50x the requests of threads; a connection per client cost 1.50x the CPU per request of the pool. At 1,000 clients threads could not hold a connection per client: PostgreSQL refused connections past its max_connections (200), and 803 requests failed (503), while threadpool served them all."
        );
    }

    #[test]
    fn the_hybrid_against_thread_per_connection_and_async_by_how_much() {
        let r = db_report(
            &[100, 1000],
            vec![
                read("threads", 100, 20_000.0, (30.0, 30.0), 100.0),
                read(LOOP_POOL, 100, 30_000.0, (20.0, 20.0), 8.0),
                read("async-mt", 100, 30_300.0, (20.0, 20.0), 16.0),
                read("async", 100, 28_000.0, (20.0, 20.0), 16.0),
                read(LOOP_POOL, 1000, 29_000.0, (20.0, 20.0), 8.0),
                read("async:--db-pool=32", 1000, 20_000.0, (20.0, 20.0), 32.0),
                read("threads", 1000, 1_000.0, (20.0, 20.0), 190.0),
            ],
        );
        let text = finding(&r, "seed 004's hybrid against the database").expect("a finding");
        assert_eq!(
            text,
            "Seed 004's hybrid, an event loop handing each query to a pool of 8 threads with a connection each (epoll:--offload=8), on db: at 100 clients it read 30,000 req/s (0.75x pgbench): 50% ahead of threads (a connection per client, 20,000 req/s) and no more than noise apart from async-mt (the nearest async, 30,300 req/s); at 1,000 clients it read 29,000 req/s (0.72x pgbench): 29.0x the rate of threads (a connection per client, 1,000 req/s) and 45% ahead of async:--db-pool=32 (the nearest async, 20,000 req/s)."
        );
    }

    #[test]
    fn nothing_is_found_without_the_database_workloads_or_their_models() {
        let none = report(&[("http", &[100])], Vec::new());
        assert!(all(&none).is_empty());
        let alone = db_report(&[100], vec![read("epoll", 100, 9_000.0, (20.0, 20.0), 1.0)]);
        let topics: Vec<String> = all(&alone).into_iter().map(|f| f.topic).collect();
        assert_eq!(topics, ["db, 100 clients: closest to PostgreSQL"]);
    }
}
