//! The findings of the database workloads (`db`, `queries`), computed from their cells:
//! the questions a reader of the seeds brings to a service that reads a row per request.
//! In the order the report gives them:
//!
//! - [`closest`]: which model comes closest to PostgreSQL's own rate (`pgbench -S` in
//!   the same round), and what a request cost it, server and database together;
//! - [`connections`]: what a connection per client costs against a pool of them
//!   (threads against threadpool, prethread or prefork): rate, CPU, memory, and where
//!   the database refuses the connections past it; and whether seed 004's hybrid (an
//!   event loop handing each query to a pool of threads with a connection each,
//!   `epoll:--offload=8`) beats thread-per-connection and async here, and by how much.
//!
//! Each speaks of 100 clients where that level was measured (else the most clients),
//! of `db` where it ran (else `queries`), and says where the rounds cannot tell two of
//! its figures apart ([`apart`](super::work::apart)).

mod closest;
mod connections;

use super::work::{measured, rate};
use super::Finding;
use crate::report::grouped;
use crate::report::ideal::x_figure;
use crate::results::comparison::{Cell, Comparison};
use crate::results::db::{rows_per_request, total_cpu_us_per_req};
use crate::results::figures::Figures;

/// Every finding of the database workloads the report has data for.
pub(super) fn all(report: &Comparison) -> Vec<Finding> {
    let mut out: Vec<Finding> = ["db", "queries"]
        .into_iter()
        .filter_map(|w| closest::closest(report, w))
        .collect();
    let ran = |w: &str| report.workloads.iter().any(|(name, _)| name == w);
    if let Some(workload) = ["db", "queries"].into_iter().find(|w| ran(w)) {
        out.extend(connections::per_client(report, workload));
        out.extend(connections::hybrid(report, workload));
    }
    out
}

/// x pgbench, 0 where there is none, to sort by.
pub(super) fn x_of(figures: &Figures) -> f64 {
    figures.x_pgbench.unwrap_or(0.0)
}

/// x pgbench as a cost, for the rounds to tell two cells apart.
pub(super) fn distance(figures: &Figures) -> Option<f64> {
    figures.x_pgbench.filter(|&x| x > 0.0).map(|x| 1.0 / x)
}

/// CPU per request, server and database together, as a cost.
pub(super) fn total_cpu(figures: &Figures) -> Option<f64> {
    total_cpu_us_per_req(figures)
}

/// `41,200 req/s (0.85x pgbench)`, or for `queries` `2,060 req/s, 41,200 rows/s (0.85x
/// pgbench)`.
pub(super) fn served(figures: &Figures, rows: f64) -> String {
    let rows_s = if rows > 1.0 {
        format!(
            ", {} rows/s",
            grouped((figures.throughput_per_s * rows).round() as usize)
        )
    } else {
        String::new()
    };
    match figures.x_pgbench {
        Some(x) => format!("{}{rows_s} ({}x pgbench)", rate(figures), x_figure(x)),
        None => format!("{}{rows_s}", rate(figures)),
    }
}

/// The rows one request of `workload` reads in this report.
pub(super) fn rows(report: &Comparison, workload: &str) -> f64 {
    let queries = report.database.as_ref().map_or(1, |d| d.queries);
    rows_per_request(workload, queries).unwrap_or(1.0)
}

/// `a` over `b` in words: `1.52x`.
pub(super) fn times(a: f64, b: f64) -> String {
    format!("{:.2}x", a / b)
}

/// The first of `names` measured at `level` of `workload`.
pub(super) fn first_of<'a>(
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
pub(super) fn best_of<'a>(
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

#[cfg(test)]
mod testing {
    //! Cells of the database workloads made by hand: five rounds whose figures rise and
    //! fall together by 2%, against pgbench's 40,000 lookups a second.

    use super::*;
    use crate::results::comparison::Round;
    use crate::results::db::{DbServer, Pgbench};
    use crate::results::testing::{cell_of_rounds, report};

    /// A db cell at `level` whose five rounds served `req_s` (give or take 2%, all
    /// figures together), against pgbench's 40,000 lookups/s, with `server_us` and
    /// `db_us` of CPU per request and `conns` database connections.
    pub fn read(subject: &str, level: usize, req_s: f64, cpu: (f64, f64), conns: f64) -> Cell {
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
    pub fn db_report(levels: &'static [usize], cells: Vec<Cell>) -> Comparison {
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

    pub fn finding(r: &Comparison, topic: &str) -> Option<String> {
        all(r)
            .into_iter()
            .find(|f| f.topic == topic)
            .map(|f| f.text)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{db_report, read};
    use super::*;
    use crate::results::testing::report;

    #[test]
    fn nothing_is_found_without_the_database_workloads_or_their_models() {
        let none = report(&[("http", &[100])], Vec::new());
        assert!(all(&none).is_empty());
        let alone = db_report(&[100], vec![read("epoll", 100, 9_000.0, (20.0, 20.0), 1.0)]);
        let topics: Vec<String> = all(&alone).into_iter().map(|f| f.topic).collect();
        assert_eq!(topics, ["db, 100 clients: closest to PostgreSQL"]);
    }
}
