//! The PostgreSQL the database workloads (`db`, `queries`) read: the server given with
//! `--database`, or a private cluster compare starts for the whole comparison and stops
//! at its end ([`Postgres::open`]). Its processes are sampled beside each run's server
//! (a private cluster's: they are this machine's, and ours), and `pgbench -S` measures
//! its own rate at each level of each round ([`Postgres::pgbench`]), the reference the
//! models' x pgbench is taken against.
//!
//! A private cluster is stopped and its directory removed when the comparison ends, when
//! it fails (the [`Postgres`] is dropped), and when compare is interrupted (SIGINT,
//! SIGTERM, SIGHUP: a thread stops it, then lets the signal end compare as it would
//! have); a compare killed outright takes its postmaster along (its parent-death
//! signal), and the next cluster started removes the directory left behind.

use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::bench::SAMPLE_INTERVAL;
use crate::db::{Cluster, Settings};
use crate::results::db::{self as figures, pgbench_clients, DbUsage, Pgbench};
use crate::sample::{ProcessTree, Sampler, TreeUsage};

/// How long the cluster's processes at rest are watched for their count to settle
/// (a connection that just closed leaves a backend exiting).
const AT_REST: Duration = Duration::from_millis(300);

/// The private cluster while it runs: where the signal thread finds it.
static PRIVATE: Mutex<Option<Cluster>> = Mutex::new(None);

/// The database of one comparison.
#[derive(Debug)]
pub struct Postgres {
    url: String,
    /// The private cluster's postmaster, whose tree is sampled; `None` for a server
    /// given with `--database`.
    postmaster: Option<u32>,
    /// The postmaster's tree at rest, in processes: its helpers, no client.
    rest_processes: u32,
    record: figures::DbServer,
}

impl Postgres {
    /// The database of a plan that runs db or queries: `given` (`--database`), checked,
    /// or a private cluster started now; rows of `/queries` as `queries`.
    pub fn open(given: Option<&str>, queries: u16) -> Result<Postgres> {
        match given {
            Some(url) => Self::given(url, queries),
            None => Self::private(queries),
        }
    }

    fn given(url: &str, queries: u16) -> Result<Postgres> {
        let limits = Limits::ask(url)
            .map_err(|err| crate::error::usage(format!("--database {}: {err}", redacted(url))))?;
        Ok(Postgres {
            url: url.to_string(),
            postmaster: None,
            rest_processes: 0,
            record: figures::DbServer {
                private: false,
                version: limits.version,
                settings: None,
                max_connections: Some(limits.max_connections),
                reserved_connections: Some(limits.reserved),
                queries,
                sampled: false,
            },
        })
    }

    fn private(queries: u16) -> Result<Postgres> {
        // The cluster's own defaults: 200 connections, fewer than a thousand clients
        // each holding one, so a model with a connection per client shows what happens
        // past max_connections, as on a server set up the usual way.
        let settings = Settings::default();
        stop_on_signals();
        let cluster = Cluster::start(&settings)
            .context("cannot start a private PostgreSQL for the db and queries workloads")?;
        let url = cluster.url().to_string();
        let postmaster = cluster.postmaster_pid();
        let version = cluster.version().to_string();
        let settings = cluster.settings().to_string();
        *PRIVATE.lock().unwrap_or_else(|e| e.into_inner()) = Some(cluster);
        let limits = Limits::ask(&url)?;
        Ok(Postgres {
            url,
            postmaster: Some(postmaster),
            rest_processes: at_rest(postmaster),
            record: figures::DbServer {
                private: true,
                version: Some(version),
                settings: Some(settings),
                max_connections: Some(limits.max_connections),
                reserved_connections: Some(limits.reserved),
                queries,
                sampled: true,
            },
        })
    }

    /// Where the servers read it: `serve --database`'s argument.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What report.json records of it.
    pub fn record(&self) -> figures::DbServer {
        self.record.clone()
    }

    /// A sampler of PostgreSQL's processes, started now; `None` for a server not ours.
    pub fn sampler(&self) -> Option<Sampler> {
        let tree = ProcessTree::new(self.postmaster?).ok()?;
        Some(Sampler::start(tree, SAMPLE_INTERVAL))
    }

    /// What a finished [`Self::sampler`] saw, with the cluster's processes at rest.
    pub fn usage(&self, sampled: TreeUsage) -> DbUsage {
        DbUsage {
            usage: sampled,
            rest_processes: self.rest_processes,
        }
    }

    /// `pgbench -S` at `level` clients (fewer if the server has fewer connections
    /// free) for `duration` (whole seconds, one at the least): PostgreSQL's own rate,
    /// and its CPU per lookup where its processes are ours to sample.
    pub fn pgbench(&self, level: usize, duration: Duration) -> Pgbench {
        let free = Limits::ask(&self.url).ok().map(|l| l.free);
        let clients = pgbench_clients(level, free);
        let sampler = self.sampler();
        let ran = crate::db::pgbench::run(&self.url, clients, duration);
        let usage = sampler.map(Sampler::finish);
        match ran {
            Ok(result) => Pgbench {
                level,
                clients,
                tps: Some(result.tps).filter(|tps| tps.is_finite()),
                db_cpu_us_per_tx: usage
                    .filter(|_| result.transactions > 0)
                    .map(|u| u.cpu_ns as f64 / 1e3 / result.transactions as f64),
                error: None,
            },
            Err(err) => Pgbench {
                level,
                clients,
                tps: None,
                db_cpu_us_per_tx: None,
                error: Some(one_line(&format!("{err:#}"))),
            },
        }
    }

    /// Stops the private cluster and removes its directory (nothing for a server given);
    /// says what could not be done.
    pub fn close(self) -> Result<()> {
        let cluster = self
            .postmaster
            .and_then(|_| PRIVATE.lock().unwrap_or_else(|e| e.into_inner()).take());
        match cluster {
            Some(cluster) => cluster
                .stop()
                .context("stopping the private PostgreSQL of db and queries"),
            None => Ok(()),
        }
    }
}

/// A comparison that ends early (an error, a panic) stops its private cluster too.
impl Drop for Postgres {
    fn drop(&mut self) {
        if self.postmaster.is_some() {
            let cluster = PRIVATE.lock().unwrap_or_else(|e| e.into_inner()).take();
            drop(cluster);
        }
    }
}

/// What a server says of its connections.
struct Limits {
    max_connections: u32,
    /// `superuser_reserved_connections`.
    reserved: u32,
    /// The connections free for clients now, one kept spare (the asking connection's
    /// backend may not have exited yet when the next client connects).
    free: u32,
    /// `PostgreSQL 15.18`, the first two words of `version()`.
    version: Option<String>,
}

impl Limits {
    const QUERY: &'static str = "SELECT current_setting('max_connections')::int, \
         current_setting('superuser_reserved_connections')::int, \
         (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int, \
         version()";

    /// Asks the server at `url` (one connection, closed again).
    fn ask(url: &str) -> Result<Limits> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|err| anyhow!("not a PostgreSQL URL: {}", one_line(&format!("{err}"))))?;
        config.connect_timeout(Duration::from_secs(5));
        let mut client = config
            .connect(postgres::NoTls)
            .map_err(|err| anyhow!("{}", crate::db::client::reason(&err)))?;
        let row = client
            .query_one(Self::QUERY, &[])
            .map_err(|err| anyhow!("{}", crate::db::client::reason(&err)))?;
        let number = |i: usize| -> Result<u32> {
            let n: i32 = row.try_get(i)?;
            Ok(u32::try_from(n).unwrap_or(0))
        };
        let (max_connections, reserved, connected) = (number(0)?, number(1)?, number(2)?);
        let version: Option<String> = row
            .try_get::<_, String>(3)
            .ok()
            .map(|v| v.split_whitespace().take(2).collect::<Vec<_>>().join(" "));
        Ok(Limits {
            max_connections,
            reserved,
            free: max_connections.saturating_sub(reserved + connected),
            version,
        })
    }
}

/// The processes of the cluster at rest: the fewest seen over [`AT_REST`].
fn at_rest(postmaster: u32) -> u32 {
    let Ok(tree) = ProcessTree::new(postmaster) else {
        return 0;
    };
    let started = Instant::now();
    let mut fewest = u32::MAX;
    while started.elapsed() < AT_REST {
        if let Ok(snapshot) = tree.sample() {
            fewest = fewest.min(snapshot.processes);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if fewest == u32::MAX {
        0
    } else {
        fewest
    }
}

/// Starts, once, the thread that stops the private cluster when compare is asked to
/// end, then ends compare as the signal would have.
fn stop_on_signals() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        let signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]);
        let Ok(mut signals) = signals else {
            eprintln!("iomodels: compare cannot catch SIGINT: a private PostgreSQL interrupted is removed by the next one started");
            return;
        };
        let started = std::thread::Builder::new()
            .name("pg-stop".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    let cluster = PRIVATE.lock().unwrap_or_else(|e| e.into_inner()).take();
                    if let Some(cluster) = cluster {
                        let _ = cluster.stop();
                    }
                    let _ = signal_hook::low_level::emulate_default_handler(signal);
                    std::process::exit(128 + signal);
                }
            });
        if started.is_err() {
            eprintln!("iomodels: compare cannot watch for SIGINT: a private PostgreSQL interrupted is removed by the next one started");
        }
    });
}

/// A URL without its password, to quote in an error.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_string(),
    }
}

/// `text` on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_never_quoted() {
        assert_eq!(
            redacted("postgres://bench:secret@db.example:5432/hello_world"),
            "postgres://bench@db.example:5432/hello_world"
        );
        assert_eq!(redacted("postgres://db:5432/x"), "postgres://db:5432/x");
        assert_eq!(redacted("host=/tmp dbname=x"), "host=/tmp dbname=x");
    }

    #[test]
    fn a_server_that_cannot_be_reached_is_one_line() {
        let err = Postgres::open(Some("postgres://nobody@127.0.0.1:1/none"), 20).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("--database postgres://nobody@127.0.0.1:1/none: database: "),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
        let err = Postgres::open(Some("not a url at all ="), 20).unwrap_err();
        assert!(err.to_string().contains("not a PostgreSQL URL"), "{err}");
    }
}
