//! What a database connection costs a model: a connection per client (threads, or
//! fork) against a pool of them (the pooled blocking model nearest pgbench), and where
//! `max_connections` refuses it; and seed 004's hybrid (an event loop handing each query
//! to a pool of threads with a connection each) against thread-per-connection and the
//! nearest async subject, by how much.

use super::super::work::{apart, focus, listed, measured, not_told, rate, slowness};
use super::super::{served_all, Finding};
use super::{best_of, first_of, rows, served, times, total_cpu};
use crate::report::db::{refusal, Refusal};
use crate::report::{cell_name, grouped};
use crate::results::comparison::{Cell, Comparison};
use crate::results::db::LOOP_POOL;
use crate::results::figures::Figures;
use crate::results::tiers::RoundFigure;

/// The models that hold a connection per client, the first measured taken.
const PER_CLIENT: [&str; 2] = ["threads", "fork"];
/// The blocking models whose pool of workers holds a connection each.
const POOLED: [&str; 3] = ["threadpool", "prethread", "prefork"];
/// The async models: the subjects whose model is one of these, with whatever flags.
const ASYNC: [&str; 2] = ["async", "async-mt"];

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
    use super::super::testing::{db_report, finding, read};
    use super::LOOP_POOL;

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
}
