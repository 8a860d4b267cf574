//! The database workloads of a comparison, `db` and `queries`: TechEmpower's single-
//! and multiple-query tests, keep-alive HTTP requests to `/db` (one row of PostgreSQL's
//! `World` table) and `/queries?queries=N` (N rows, a query each). What report.json
//! records of the database they read ([`DbServer`]) and of `pgbench`, PostgreSQL's own
//! rate for the same row lookup measured in each round ([`Pgbench`]); the variants they
//! run beside every model ([`variants`]: the list lives here alone); and the figures a
//! run of them adds ([`add_figures`]): `x pgbench`, the figure they rank by, and what
//! PostgreSQL's own processes spent and held.
//!
//! `x pgbench` is the rows a model read per second over the rows `pgbench -S` read per
//! second at as many clients in the same round: for `/db` its req/s over pgbench's
//! transactions per second (one lookup each), for `/queries` N times its req/s. 1.0 is
//! a model that adds nothing to what PostgreSQL costs; higher is better.

use serde::{Deserialize, Serialize};

use super::comparison::CompareWorkload;
use super::figures::Figures;
use super::run::BenchRun;
use crate::sample::TreeUsage;

/// The rows `/queries` asks for by default (`compare --queries`), as TechEmpower's
/// published runs chart it at 20.
pub const DEFAULT_QUERIES: u16 = 20;

/// The variant with seed 004's hybrid for the database: the event loop hands each
/// query to a pool of 8 threads, each with a connection of its own, beside the loop's
/// own way (its default).
pub const LOOP_POOL: &str = super::work::LOOP_POOL;
/// async with a pool of 16 tokio-postgres connections, beside async with its default
/// pool (2 per CPU): how far the pool's size moves an async server (`serve --db-pool`).
pub const ASYNC_POOL: &str = "async:--db-pool=16";

/// What ranks the database workloads, and why, for [`super::ideal::rule_of`].
pub const RANKED_BY_DB: &str = "db and queries rank by x pgbench instead, the rows a model read per second over the rows pgbench -S read per second at as many clients in the same round (PostgreSQL's own rate for the same lookup), higher is better, because what such a service can serve is set by how much of the database's rate a model passes on";

/// What the tier rule says of the database workloads.
pub const RULE_DB: &str =
    "for db and queries, the same rule on the reciprocal of x pgbench, paired by round";

/// Is `workload` one whose requests read PostgreSQL (`db`, `queries`)?
pub fn is_db(workload: &str) -> bool {
    matches!(
        workload.parse::<CompareWorkload>(),
        Ok(CompareWorkload::Db | CompareWorkload::Queries)
    )
}

/// The path a database workload's requests ask for: `/db`, or `/queries?queries=N`
/// with `queries` rows; `None` for another workload.
pub fn path(workload: CompareWorkload, queries: u16) -> Option<String> {
    match workload {
        CompareWorkload::Db => Some("/db".to_string()),
        CompareWorkload::Queries => Some(format!("/queries?queries={queries}")),
        _ => None,
    }
}

/// The rows one request of `workload` reads: 1 for `db`, `queries` for `queries`;
/// `None` for a workload that reads none.
pub fn rows_per_request(workload: &str, queries: u16) -> Option<f64> {
    match workload.parse::<CompareWorkload>() {
        Ok(CompareWorkload::Db) => Some(1.0),
        Ok(CompareWorkload::Queries) => Some(f64::from(queries)),
        _ => None,
    }
}

/// The variants a database workload runs beside every model when `--models` is `all`:
/// epoll with a pool of threads (a connection each) beside epoll's own way, and async
/// with a larger pool beside its default one.
pub fn variants(workload: CompareWorkload) -> &'static [&'static str] {
    match workload {
        CompareWorkload::Db | CompareWorkload::Queries => &[LOOP_POOL, ASYNC_POOL],
        _ => &[],
    }
}

/// The database the database workloads read, as report.json records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbServer {
    /// A private cluster compare started and stopped itself; else a server given with
    /// `compare --database`.
    pub private: bool,
    /// What `postgres --version` says, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The private cluster's settings, as its server was started with them
    /// (`max_connections=200 shared_buffers=128MB fsync=off ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<String>,
    /// The server's `max_connections`, where it could be asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// The connections only superusers may take (`superuser_reserved_connections`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_connections: Option<u32>,
    /// The rows each `/queries` request asked for (`compare --queries`).
    pub queries: u16,
    /// Were PostgreSQL's processes sampled (a private cluster's are), so that CPU per
    /// request counts the database's CPU too?
    pub sampled: bool,
}

impl DbServer {
    /// The most connections clients other than superusers may open at once.
    pub fn usable_connections(&self) -> Option<u32> {
        let max = self.max_connections?;
        Some(max.saturating_sub(self.reserved_connections.unwrap_or(0)))
    }
}

/// `pgbench -S` (the row lookup, prepared statements) at one level of one round:
/// PostgreSQL's own rate on this machine, the reference of that level's runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pgbench {
    /// The level (clients) of the runs it is the reference of.
    pub level: usize,
    /// The clients pgbench ran, each with a connection: the level, or fewer where the
    /// server's `max_connections` left fewer free.
    pub clients: u32,
    /// Lookups (transactions) per second; `None` when it measured none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tps: Option<f64>,
    /// PostgreSQL's CPU per lookup during the run, in µs, where its processes were
    /// sampled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_cpu_us_per_tx: Option<f64>,
    /// Why it measured no rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Pgbench {
    /// Ran it fewer clients than its level?
    pub fn capped(&self) -> bool {
        (self.clients as usize) < self.level
    }
}

/// The clients pgbench runs for `level`: as many, or the `free` connections the server
/// has, if fewer (at least one).
pub fn pgbench_clients(level: usize, free: Option<u32>) -> u32 {
    let level = u32::try_from(level).unwrap_or(u32::MAX).max(1);
    free.map_or(level, |free| level.min(free.max(1)))
}

/// What PostgreSQL's processes did during one run of a database workload: their usage
/// over the run, and how many processes the cluster has at rest (the postmaster and
/// its helpers, no client connected), so the peak less these is the connections the
/// server held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DbUsage {
    pub usage: TreeUsage,
    pub rest_processes: u32,
}

/// Adds to the figures of one run of a database workload what only those runs have:
/// x pgbench against the round's `pgbench` at the run's level (reading `rows` rows a
/// request), and, where PostgreSQL was sampled (`db`), its CPU per request, its peak
/// memory and the connections the server held at the peak.
pub fn add_figures(
    figures: &mut Figures,
    run: &BenchRun,
    rows: f64,
    pgbench: Option<&Pgbench>,
    db: Option<&DbUsage>,
) {
    figures.x_pgbench = pgbench
        .and_then(|p| p.tps)
        .filter(|&tps| tps > 0.0)
        .map(|tps| figures.throughput_per_s * rows / tps);
    let Some(db) = db else { return };
    figures.db_cpu_us_per_req =
        (run.requests > 0).then(|| db.usage.cpu_ns as f64 / 1e3 / run.requests as f64);
    figures.db_pss_peak_kb = Some(db.usage.pss_peak_kb as f64);
    figures.db_connections = Some(f64::from(
        db.usage.processes.saturating_sub(db.rest_processes),
    ));
}

/// CPU per request of the server and PostgreSQL together, in µs, where both were
/// measured.
pub fn total_cpu_us_per_req(figures: &Figures) -> Option<f64> {
    Some(figures.cpu_us_per_req? + figures.db_cpu_us_per_req?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of `clients` connections that served `req_s` requests a second for a
    /// second.
    fn run(clients: usize, req_s: f64) -> BenchRun {
        let summary =
            serde_json::json!({"mean": 1.0, "p50": 1, "p90": 1, "p99": 900, "p999": 1, "max": 1});
        serde_json::from_value(serde_json::json!({
            "workload": "http", "target": "http://127.0.0.1:1/db", "connections": clients,
            "duration_s": 1.0, "requests": req_s as u64, "throughput_per_s": req_s,
            "errors": {"connect": 0, "reset": 0, "timeout": 0, "mismatch": 0, "http_status": 0},
            "latency_us": summary, "connect_us": summary,
            "client": {"cpu_user_s": 0.3, "cpu_sys_s": 0.2, "rss_peak_kb": 1000},
            "threads": 1, "connections_opened": clients
        }))
        .expect("a bench run")
    }

    fn pgbench(level: usize, clients: u32, tps: Option<f64>) -> Pgbench {
        Pgbench {
            level,
            clients,
            tps,
            db_cpu_us_per_tx: None,
            error: None,
        }
    }

    #[test]
    fn x_pgbench_is_rows_read_over_pgbenchs_rows() {
        let one = run(100, 8_000.0);
        let mut figures = Figures::of(&one, None, None);
        let reference = pgbench(100, 100, Some(10_000.0));
        add_figures(&mut figures, &one, 1.0, Some(&reference), None);
        assert_eq!(figures.x_pgbench, Some(0.8));
        assert_eq!(figures.db_cpu_us_per_req, None, "PostgreSQL not sampled");
        // /queries?queries=20 at 400 req/s reads 8,000 rows a second.
        let many = run(100, 400.0);
        let mut figures = Figures::of(&many, None, None);
        add_figures(&mut figures, &many, 20.0, Some(&reference), None);
        assert_eq!(figures.x_pgbench, Some(0.8));
        let failed = pgbench(100, 100, None);
        add_figures(&mut figures, &many, 20.0, Some(&failed), None);
        assert_eq!(figures.x_pgbench, None, "no rate, no figure");
    }

    #[test]
    fn postgresqls_cpu_memory_and_connections_come_from_its_processes() {
        let one = run(100, 10_000.0);
        let mut figures = Figures::of(&one, None, None);
        figures.cpu_us_per_req = Some(20.0);
        let db = DbUsage {
            usage: TreeUsage {
                cpu_ns: 300_000_000,
                pss_peak_kb: 90_000,
                processes: 106,
                ..TreeUsage::default()
            },
            rest_processes: 6,
        };
        add_figures(&mut figures, &one, 1.0, None, Some(&db));
        assert_eq!(figures.db_cpu_us_per_req, Some(30.0));
        assert_eq!(total_cpu_us_per_req(&figures), Some(50.0));
        assert_eq!(figures.db_pss_peak_kb, Some(90_000.0));
        assert_eq!(figures.db_connections, Some(100.0));
    }

    #[test]
    fn pgbench_runs_as_many_clients_as_the_server_leaves_free() {
        assert_eq!(pgbench_clients(100, Some(197)), 100);
        assert_eq!(pgbench_clients(1000, Some(197)), 197);
        assert_eq!(pgbench_clients(1000, None), 1000);
        assert_eq!(pgbench_clients(10, Some(0)), 1, "one client at the least");
        assert!(pgbench(1000, 197, Some(1.0)).capped());
        assert!(!pgbench(100, 100, Some(1.0)).capped());
        let db = DbServer {
            private: true,
            version: None,
            settings: None,
            max_connections: Some(200),
            reserved_connections: Some(3),
            queries: 20,
            sampled: true,
        };
        assert_eq!(db.usable_connections(), Some(197));
    }

    #[test]
    fn only_db_and_queries_read_the_database() {
        assert!(is_db("db") && is_db("queries"));
        assert!(!is_db("wait") && !is_db("http") && !is_db("nonsense"));
        assert_eq!(path(CompareWorkload::Db, 20).as_deref(), Some("/db"));
        assert_eq!(
            path(CompareWorkload::Queries, 20).as_deref(),
            Some("/queries?queries=20")
        );
        assert_eq!(path(CompareWorkload::Http, 20), None);
        assert_eq!(rows_per_request("queries", 7), Some(7.0));
        assert_eq!(rows_per_request("db", 7), Some(1.0));
        assert_eq!(rows_per_request("wait", 7), None);
        assert_eq!(variants(CompareWorkload::Db), [LOOP_POOL, ASYNC_POOL]);
        assert!(variants(CompareWorkload::Wait).is_empty());
    }
}
