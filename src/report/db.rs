//! What the report shows of the database workloads (`db`, `queries`) beside what every
//! workload shows: x pgbench, the figure they rank by (rows read per second over
//! `pgbench -S`'s in the same round, [`crate::results::db`]; higher is better);
//! PostgreSQL's own CPU per request and memory; the database connections each server
//! held and the pool it was given; `pgbench`'s rate above each table; and, under it,
//! why a model's requests failed where PostgreSQL refused its connections. The tables,
//! the summary, the charts and the page's header take them from here.

use super::ideal::x_figure;
use super::{grouped, per_host};
use crate::model::{self, Family, Workers};
use crate::results::comparison::{Cell, Comparison};
use crate::results::db::{is_db, total_cpu_us_per_req};
use crate::results::figures::Figures;

/// The columns a database workload's table adds, each after the column it follows.
const COLUMNS: [(&str, &[&str]); 3] = [
    ("p99 ms", &["x pgbench"]),
    ("CPU us/req", &["PG us/req", "+PG us/req"]),
    ("PSS MB", &["PG MB", "db conns", "pool"]),
];

/// The axis title of a database workload's charts.
pub const AXIS: &str = "rows/s over pgbench -S's in the same round, x pgbench (higher is better)";

/// Where a database workload's table puts its own columns: an index into the row and
/// what goes there, in the order they are inserted.
#[derive(Debug, Clone)]
pub struct DbColumns {
    at: Vec<(usize, &'static str)>,
}

impl DbColumns {
    /// The columns of a table of `workload` whose other columns are `headers`; `None`
    /// for a workload that reads no database.
    pub fn of(workload: &str, headers: &[&str]) -> Option<DbColumns> {
        if !is_db(workload) {
            return None;
        }
        let at = super::columns::placed(headers, &COLUMNS);
        Some(DbColumns { at })
    }

    /// `headers` with these columns inserted.
    pub fn add_headers(&self, headers: &mut Vec<&'static str>) {
        super::columns::insert_headers(&self.at, headers);
    }

    /// The row of `cell` (its median `figures`) with these columns' values inserted.
    pub fn add_values(&self, row: &mut Vec<String>, cell: &Cell, figures: &Figures) {
        let decimals = |v: Option<f64>, d: usize| v.map(|v| format!("{v:.d$}"));
        for &(i, name) in &self.at {
            let value = match name {
                "x pgbench" => figures.x_pgbench.map(x_figure),
                "PG us/req" => decimals(figures.db_cpu_us_per_req, 1),
                "+PG us/req" => decimals(total_cpu_us_per_req(figures), 1),
                "PG MB" => decimals(figures.db_pss_peak_kb.map(|kb| kb / 1024.0), 1),
                "db conns" => decimals(figures.db_connections, 0),
                _ => Some(pool(&cell.subject)),
            };
            row.insert(i.min(row.len()), value.unwrap_or_else(|| "-".into()));
        }
    }
}

/// The database connections a subject's server holds, by its flags and its family: a
/// pool the flags size (`--offload=N`, `--db-pool=N`), a connection per thread or
/// process of the blocking family; the event loops' own way, and async's and the
/// coroutines' default pool, otherwise (the `db conns` column says how many that came
/// to).
pub fn pool(subject: &str) -> String {
    let flag = |name: &str| -> Option<usize> {
        subject
            .split(':')
            .skip(1)
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
    };
    if let Some(n) = flag("--offload").filter(|&n| n > 0) {
        return format!("{n} threads");
    }
    let Some(info) = model::find(subject.split(':').next().unwrap_or(subject)) else {
        return "-".into();
    };
    match (flag("--db-pool"), info.family) {
        (Some(n), Family::Coroutine) => return format!("{n} threads"),
        (Some(n), _) => return format!("{n} conns"),
        (None, _) => {}
    }
    match (info.family, info.workers) {
        (Family::Blocking, Workers::PerConnection { .. }) => "1 per client".into(),
        (Family::Blocking, _) => {
            let workers = flag("--workers").unwrap_or_else(|| info.default_workers());
            format!("1 per worker ({workers})")
        }
        (Family::Coroutine | Family::Async, _) => "default pool".into(),
        (Family::Readiness | Family::Completion, _) => "loop's own".into(),
    }
}

/// The lines under a database workload's table: pgbench's rate at that level (and
/// where `max_connections` capped its clients or it failed), then, for each model whose
/// requests failed because PostgreSQL refused its connections, why.
pub fn notes(report: &Comparison, workload: &str, level: usize) -> Vec<String> {
    if !is_db(workload) {
        return Vec::new();
    }
    let mut notes = vec![pgbench_line(report, workload, level)];
    for cell in report.ranked(workload, level) {
        notes.extend(refused(report, cell));
    }
    notes
}

/// `pgbench -S at 100 clients: 41,200 lookups/s (the median of 5 rounds)`, with why
/// it ran fewer clients or measured nothing.
fn pgbench_line(report: &Comparison, workload: &str, level: usize) -> String {
    let runs: Vec<_> = report
        .rounds
        .iter()
        .filter(|r| r.workload == workload)
        .filter_map(|r| r.pgbench.iter().find(|p| p.level == level))
        .collect();
    let Some((tps, clients)) = report.pgbench_median(workload, level) else {
        let why = runs.iter().find_map(|p| p.error.as_deref());
        return format!(
            "pgbench -S at {}: no rate ({}), so no x pgbench",
            per_host(report, level, "clients"),
            why.unwrap_or("not measured")
        );
    };
    let rounds = runs.iter().filter(|p| p.tps.is_some()).count();
    let mut line = format!(
        "pgbench -S (PostgreSQL's own rate for the same lookup, prepared) at {} clients: {} lookups/s ({})",
        grouped(clients as usize),
        grouped(tps.round() as usize),
        match rounds {
            1 => "one round".to_string(),
            n => format!("the median of {n} rounds"),
        }
    );
    if (clients as usize) < level {
        let limit = report
            .database
            .as_ref()
            .and_then(|d| Some((d.max_connections?, d.usable_connections()?)));
        line.push_str(&format!(
            ", not {}: the connections free on the server{}",
            grouped(level),
            limit.map_or_else(String::new, |(max, usable)| format!(
                " (max_connections={max}, {usable} for clients)"
            ))
        ));
    }
    if let Some(db_cpu) = runs.iter().find_map(|p| p.db_cpu_us_per_tx) {
        line.push_str(&format!(
            "; PostgreSQL's CPU per lookup meanwhile {db_cpu:.1} us, its connections' start included"
        ));
    }
    let per_request = report
        .database
        .as_ref()
        .filter(|_| workload == "queries")
        .map(|d| d.queries);
    if let Some(rows) = per_request {
        line.push_str(&format!(
            "; a /queries request reads {rows} rows, so x pgbench is {rows} x req/s over it"
        ));
    }
    line
}

/// How PostgreSQL turned a server's connections away, as the server heard it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every connection `max_connections` allows was taken: "sorry, too many clients
    /// already".
    MaxConnections,
    /// Connections arrived faster than the postmaster took them, past its listen
    /// queue, so a connect failed at once (EAGAIN on its Unix socket).
    ListenQueue,
}

impl Refusal {
    /// What each refusal is, in the server's words.
    const SAID: [(&'static str, Refusal); 2] = [
        ("too many clients", Refusal::MaxConnections),
        ("Resource temporarily unavailable", Refusal::ListenQueue),
    ];

    /// Why, in words, with the server's `max_connections` where known.
    pub fn why(self, max_connections: Option<u32>) -> String {
        let limit = max_connections.map_or_else(String::new, |max| format!(" ({max})"));
        match self {
            Refusal::MaxConnections => {
                format!("PostgreSQL refused connections past its max_connections{limit}")
            }
            Refusal::ListenQueue => format!(
                "connections reached PostgreSQL faster than it took them, past its listen queue (about twice max_connections{limit}), so they failed at once"
            ),
        }
    }
}

/// How PostgreSQL refused `cell`'s server, if its server said so, and what it said
/// (the refusal of every connection first).
pub fn refusal(cell: &Cell) -> Option<(Refusal, &str)> {
    Refusal::SAID.iter().find_map(|&(words, kind)| {
        let said = cell.server_said.iter().find(|l| l.contains(words))?;
        Some((kind, said.as_str()))
    })
}

/// Why a cell's requests failed or starved, when PostgreSQL refused its server's
/// connections: its failed requests, the connections the model holds, why, and what
/// the server was told.
fn refused(report: &Comparison, cell: &Cell) -> Option<String> {
    let (kind, said) = refusal(cell)?;
    let errors = cell.figures.map_or(0.0, |s| s.median.errors);
    let failed = if errors > 0.0 {
        format!("{} requests failed (503)", grouped(errors.round() as usize))
    } else {
        "requests got no answer".to_string()
    };
    let max = report.database.as_ref().and_then(|d| d.max_connections);
    Some(format!(
        "{}: {failed} at {} clients: {}, and this model holds {} (the server said: {said})",
        cell.subject,
        grouped(report.clients_in_all(&cell.workload, cell.level)),
        kind.why(max),
        match pool(&cell.subject).as_str() {
            "1 per client" => "one per client".to_string(),
            other => other.to_string(),
        }
    ))
}

/// What x pgbench is, with the database the run read: one line for the header of the
/// tables and the page; `None` for a report without the database workloads.
pub fn explanation(report: &Comparison) -> Option<String> {
    let db = report.database.as_ref()?;
    let which = match (&db.settings, db.private) {
        (Some(settings), true) => format!(
            "a private cluster compare started and stopped ({}; {settings})",
            db.version.as_deref().unwrap_or("PostgreSQL")
        ),
        _ => format!(
            "the server given with --database ({}{})",
            db.version.as_deref().unwrap_or("PostgreSQL"),
            db.max_connections
                .map_or_else(String::new, |max| format!(", max_connections={max}"))
        ),
    };
    let cpu = if db.sampled {
        "PG us/req: PostgreSQL's processes' CPU per request; +PG us/req: the server's and PostgreSQL's together"
    } else {
        "PostgreSQL's processes were not sampled (not ours): its CPU and memory are not in these figures"
    };
    Some(format!(
        "x pgbench: rows read per second over pgbench -S's at as many clients in the same round (PostgreSQL's own rate for the same prepared lookup; /queries reads {} rows a request); higher is better, and db and queries rank by it. The database: {which}. {cpu}; PG MB: its memory (PSS) at the peak; db conns: the connections the server held at the peak; pool: the connections it was given",
        db.queries
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::comparison::Round;
    use crate::results::db::{DbServer, Pgbench};
    use crate::results::testing::{cell, costs, report};

    fn database() -> DbServer {
        DbServer {
            private: true,
            version: Some("PostgreSQL 15.18".into()),
            settings: Some("max_connections=200 fsync=off".into()),
            max_connections: Some(200),
            reserved_connections: Some(3),
            queries: 20,
            sampled: true,
        }
    }

    fn round(workload: &str, pgbench: Vec<Pgbench>) -> Round {
        Round {
            workload: workload.into(),
            index: 0,
            floor_us_per_req: Some(5.0),
            order: Vec::new(),
            pgbench,
        }
    }

    fn pgbench(level: usize, clients: u32, tps: f64) -> Pgbench {
        Pgbench {
            level,
            clients,
            tps: Some(tps),
            db_cpu_us_per_tx: Some(21.0),
            error: None,
        }
    }

    #[test]
    fn a_database_table_adds_x_pgbench_postgresqls_costs_and_the_pool() {
        let base = [
            "#",
            "model",
            "req/s",
            "p99 ms",
            "CPU us/req",
            "PSS MB",
            "thr/proc",
        ];
        let columns = DbColumns::of("db", &base).expect("db adds columns");
        let mut headers = base.to_vec();
        columns.add_headers(&mut headers);
        assert_eq!(
            headers,
            [
                "#",
                "model",
                "req/s",
                "p99 ms",
                "x pgbench",
                "CPU us/req",
                "PG us/req",
                "+PG us/req",
                "PSS MB",
                "PG MB",
                "db conns",
                "pool",
                "thr/proc"
            ]
        );
        let figures = Figures {
            x_pgbench: Some(0.853),
            db_cpu_us_per_req: Some(30.0),
            db_pss_peak_kb: Some(51_200.0),
            db_connections: Some(8.0),
            ..costs(4.0)
        };
        let c = cell("epoll:--offload=8", "db", 100, 1, figures);
        let mut row: Vec<String> = base.iter().map(|h| h.to_string()).collect();
        columns.add_values(&mut row, &c, &figures);
        assert_eq!(
            row,
            [
                "#",
                "model",
                "req/s",
                "p99 ms",
                "0.85",
                "CPU us/req",
                "30.0",
                "50.0",
                "PSS MB",
                "50.0",
                "8",
                "8 threads",
                "thr/proc"
            ]
        );
        assert!(DbColumns::of("wait", &base).is_none());
        assert_eq!(x_figure(0.0123), "0.012");
    }

    #[test]
    fn the_pool_is_what_the_flags_and_the_family_give() {
        assert_eq!(pool("threads"), "1 per client");
        assert_eq!(pool("fork"), "1 per client");
        assert!(
            pool("threadpool").starts_with("1 per worker ("),
            "{}",
            pool("threadpool")
        );
        assert_eq!(pool("prefork:--workers=4"), "1 per worker (4)");
        assert_eq!(pool("epoll:--offload=8"), "8 threads");
        assert_eq!(pool("epoll:--offload=0"), "loop's own");
        assert_eq!(pool("async:--db-pool=32"), "32 conns");
        assert_eq!(pool("async"), "default pool");
        assert_eq!(pool("coroutines"), "default pool");
        assert_eq!(pool("coroutines:--db-pool=4"), "4 threads");
        assert_eq!(pool("nginx"), "-");
    }

    #[test]
    fn under_a_table_pgbench_and_why_a_model_failed() {
        let failing = Figures {
            errors: 803.0,
            x_pgbench: Some(0.02),
            ..costs(9.0)
        };
        let mut threads = cell("threads", "db", 1000, 2, failing);
        threads.server_said = vec!["database: sorry, too many clients already".into()];
        let mut r = report(
            &[("db", &[1000])],
            vec![cell("epoll", "db", 1000, 1, costs(1.0)), threads],
        );
        r.database = Some(database());
        r.rounds = vec![round("db", vec![pgbench(1000, 196, 41_234.4)])];
        let notes = notes(&r, "db", 1000);
        assert_eq!(
            notes,
            [
                "pgbench -S (PostgreSQL's own rate for the same lookup, prepared) at 196 clients: 41,234 lookups/s (one round), not 1,000: the connections free on the server (max_connections=200, 197 for clients); PostgreSQL's CPU per lookup meanwhile 21.0 us, its connections' start included",
                "threads: 803 requests failed (503) at 1,000 clients: PostgreSQL refused connections past its max_connections (200), and this model holds one per client (the server said: database: sorry, too many clients already)"
            ]
        );
        assert!(super::notes(&r, "http", 1000).is_empty());
        let mut queued = cell("fork", "db", 1000, 2, costs(9.0));
        queued.server_said = vec![
            "database: error connecting to server: Resource temporarily unavailable (os error 11)"
                .into(),
        ];
        assert_eq!(refusal(&queued).map(|r| r.0), Some(Refusal::ListenQueue));
        r.cells.push(queued);
        assert!(
            super::notes(&r, "db", 1000).iter().any(|n| n.starts_with(
                "fork: requests got no answer at 1,000 clients: connections reached PostgreSQL faster than it took them, past its listen queue (about twice max_connections (200)), so they failed at once, and this model holds one per client"
            )),
            "{:?}",
            super::notes(&r, "db", 1000)
        );
    }

    #[test]
    fn a_pgbench_that_failed_says_why_and_queries_say_their_rows() {
        let mut r = report(&[("queries", &[100])], Vec::new());
        r.database = Some(database());
        let failed = Pgbench {
            error: Some("pgbench at 100 clients: the server refused connections".into()),
            tps: None,
            ..pgbench(100, 100, 0.0)
        };
        r.rounds = vec![round("queries", vec![failed])];
        assert_eq!(
            notes(&r, "queries", 100)[0],
            "pgbench -S at 100 clients: no rate (pgbench at 100 clients: the server refused connections), so no x pgbench"
        );
        r.rounds = vec![round("queries", vec![pgbench(100, 100, 40_000.0)])];
        assert!(
            notes(&r, "queries", 100)[0].ends_with(
                "; a /queries request reads 20 rows, so x pgbench is 20 x req/s over it"
            ),
            "{:?}",
            notes(&r, "queries", 100)
        );
    }

    #[test]
    fn the_header_names_the_database_and_its_settings() {
        let mut r = report(&[("db", &[100])], Vec::new());
        assert_eq!(explanation(&r), None);
        r.database = Some(database());
        let line = explanation(&r).unwrap();
        assert!(
            line.contains("a private cluster compare started and stopped (PostgreSQL 15.18; max_connections=200 fsync=off)"),
            "{line}"
        );
        r.database = Some(DbServer {
            private: false,
            settings: None,
            sampled: false,
            ..database()
        });
        let line = explanation(&r).unwrap();
        assert!(
            line.contains(
                "the server given with --database (PostgreSQL 15.18, max_connections=200)"
            ),
            "{line}"
        );
        assert!(line.contains("were not sampled"), "{line}");
    }
}
