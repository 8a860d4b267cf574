//! What a comparison runs: subjects (our models, external targets) × workloads × levels
//! × repeats, and the `iomodels bench` command line each step becomes.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

pub use crate::results::comparison::{CompareWorkload, Placement};

use crate::hosts::session::HostsConfig;
use crate::hosts::Host;
use crate::protocol::Handlers;
use crate::results::db;
use crate::results::ideal::Cores;
use crate::results::work;

/// A server being compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// One of our models, run as `iomodels serve MODEL FLAGS...`.
    Model {
        label: String,
        model: &'static str,
        flags: Vec<String>,
    },
    /// A server someone else started (nginx...), speaking HTTP.
    Target {
        label: String,
        addr: SocketAddr,
        pid: Option<u32>,
    },
}

impl Subject {
    /// The row label: the model name with its flags, or the target's name.
    pub fn label(&self) -> &str {
        match self {
            Subject::Model { label, .. } | Subject::Target { label, .. } => label,
        }
    }
}

use crate::results::comparison::IDLE_ACTIVE_CLIENTS;

/// One workload of a comparison: its levels and the subjects it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub workload: CompareWorkload,
    /// Ascending.
    pub levels: Vec<usize>,
    /// Indices into [`Plan::subjects`], in plan order.
    pub subjects: Vec<usize>,
}

/// The whole comparison.
#[derive(Debug, Clone)]
pub struct Plan {
    pub subjects: Vec<Subject>,
    /// The workloads, in the order they run.
    pub stages: Vec<Stage>,
    pub duration: Duration,
    /// Rounds: each measures every subject once at every level.
    pub repeat: usize,
    pub out: PathBuf,
    /// The CPUs the servers and the load generator are pinned to; `None`: not pinned.
    pub placement: Option<Placement>,
    /// The machine's CPUs.
    pub cpus: usize,
    /// Where the servers run (`--server-host`).
    pub server_host: Host,
    /// Where clients reach them; `None`: loopback, everything runs here.
    pub server_ip: Option<IpAddr>,
    /// Where the load comes from (`--client-host`): bench runs on each at once, merged;
    /// empty: here alone.
    pub client_hosts: Vec<Host>,
    /// How hosts other than this one are reached.
    pub reach: HostsConfig,
    /// The work each request of cpu and wait asks (`--cpu-work`, `--wait`), given to
    /// every server of those workloads.
    pub handlers: Handlers,
    /// The rows each request of `queries` asks for (`--queries`).
    pub queries: u16,
    /// The PostgreSQL server db and queries read (`--database`); `None`: a private
    /// cluster compare starts for the comparison and stops at its end.
    pub database: Option<String>,
}

impl Plan {
    /// Does the plan run a work workload (cpu, wait)?
    pub fn runs_work(&self) -> bool {
        self.stages.iter().any(|s| work::is_work(s.workload.name()))
    }

    /// Does the plan run a database workload (db, queries)?
    pub fn runs_db(&self) -> bool {
        self.stages.iter().any(|s| db::is_db(s.workload.name()))
    }

    /// The path the requests of `workload` ask for.
    pub fn path(&self, workload: CompareWorkload) -> String {
        db::path(workload, self.queries).unwrap_or_else(|| work::path(workload).to_string())
    }

    /// The `serve` flags that give a server of `workload` its work amounts; none for a
    /// workload that asks no work.
    pub fn work_flags(&self, workload: CompareWorkload) -> Vec<String> {
        if !work::is_work(workload.name()) {
            return Vec::new();
        }
        let ns = |d: Duration| format!("{}ns", d.as_nanos());
        vec![
            "--cpu-work".into(),
            ns(self.handlers.cpu),
            "--wait".into(),
            ns(self.handlers.wait),
        ]
    }

    /// The CPUs the servers run on, for the cpu workload's ideal bound: the server CPUs
    /// of the placement, or every CPU, which the load generator shares unless it runs
    /// elsewhere; `None` for servers on another host, whose CPUs are not known here.
    pub fn server_cores(&self) -> Option<Cores> {
        if !self.server_host.is_local() {
            return None;
        }
        Some(match &self.placement {
            Some(placement) => Cores {
                count: placement.server_cpus.len(),
                shared_with_load: false,
            },
            None => Cores {
                count: self.cpus,
                shared_with_load: self.client_hosts.iter().all(Host::is_local),
            },
        })
    }

    /// The number of measurements the plan makes (for the progress bar).
    pub fn steps(&self) -> u64 {
        let steps: usize = self
            .stages
            .iter()
            .map(|s| s.levels.len() * s.subjects.len() * self.repeat)
            .sum();
        steps as u64
    }
}

/// Connections per ramp step when holding: fast enough that 10,000 connections take a
/// fraction of a second, slow enough not to overflow the listen backlog.
pub const HOLD_RAMP: &str = "200/10ms";
/// Connections a ramp of [`HOLD_RAMP`] adds per second.
pub const HOLD_RAMP_PER_S: f64 = 20_000.0;

/// How long the load generator waits for a reply at the least.
const TIMEOUT: Duration = Duration::from_secs(2);

/// How long the load generator waits for a reply of db and queries: a thousand clients
/// queued on a pool of a few connections, each request reading up to 500 rows, wait
/// their turn for seconds.
const DB_TIMEOUT: Duration = Duration::from_secs(10);

/// bench's event-loop threads for `wait`: one thread turning round a hundred
/// connections adds its own turn to every wait (at 100 clients, epoll's /wait reached
/// 0.91 of the ideal against 0.97 with two: docs/results.md, *Handlers that work*).
const WAIT_CLIENT_THREADS: usize = 2;

/// The `iomodels bench` arguments (after `bench`) for one measurement of requests to
/// `path` ([`Plan::path`]); `handlers` are the work amounts of the servers, whose
/// replies a work workload waits for longer.
pub fn bench_args(
    workload: CompareWorkload,
    level: usize,
    addr: SocketAddr,
    duration: Duration,
    handlers: &Handlers,
    path: &str,
) -> Vec<String> {
    let d = format!("{}ms", duration.as_millis().max(1));
    let addr_s = addr.to_string();
    let url = format!("http://{addr}{path}");
    let mut args: Vec<String> = match workload {
        CompareWorkload::Echo => vec![
            "echo".into(),
            addr_s,
            "--workers".into(),
            level.to_string(),
            "--rounds".into(),
            "1000000".into(),
            "--duration".into(),
            d,
        ],
        CompareWorkload::Http
        | CompareWorkload::HttpClose
        | CompareWorkload::Cpu
        | CompareWorkload::Wait
        | CompareWorkload::Db
        | CompareWorkload::Queries => {
            let mut a = vec![
                "http".into(),
                url,
                "--connections".into(),
                level.to_string(),
                "--duration".into(),
                d,
            ];
            if workload == CompareWorkload::HttpClose {
                a.push("--close".into());
            }
            if workload == CompareWorkload::Wait {
                let threads = WAIT_CLIENT_THREADS.min(level.max(1));
                a.extend(["--threads".into(), threads.to_string()]);
            }
            a
        }
        CompareWorkload::Idle => vec![
            "http".into(),
            url,
            "--connections".into(),
            IDLE_ACTIVE_CLIENTS.to_string(),
            "--duration".into(),
            d,
        ],
        CompareWorkload::Hold => {
            let total = duration + ramp_time(level);
            vec![
                "hold".into(),
                addr_s,
                "--proto".into(),
                "http".into(),
                "--connections".into(),
                level.to_string(),
                "--ramp".into(),
                HOLD_RAMP.into(),
                "--interval".into(),
                "1s..5s".into(),
                "--duration".into(),
                format!("{}ms", total.as_millis()),
            ]
        }
    };
    let timeout = match workload {
        CompareWorkload::Cpu => TIMEOUT.max(4 * handlers.cpu),
        CompareWorkload::Wait => TIMEOUT.max(4 * handlers.wait),
        CompareWorkload::Db | CompareWorkload::Queries => DB_TIMEOUT,
        _ => TIMEOUT,
    };
    args.extend(["--timeout".into(), format!("{}ms", timeout.as_millis())]);
    args
}

/// The arguments of the silent connections held by `idle`: they never send (an
/// interval far beyond the run) and live until killed.
pub fn idle_holder_args(idle: usize, addr: SocketAddr, lifetime: Duration) -> Vec<String> {
    vec![
        "hold".into(),
        addr.to_string(),
        "--proto".into(),
        "http".into(),
        "--connections".into(),
        idle.to_string(),
        "--ramp".into(),
        HOLD_RAMP.into(),
        "--interval".into(),
        "3600s..3600s".into(),
        "--duration".into(),
        format!("{}ms", lifetime.as_millis()),
    ]
}

/// How long ramping up to `connections` takes.
pub fn ramp_time(connections: usize) -> Duration {
    Duration::from_secs_f64(connections as f64 / HOLD_RAMP_PER_S)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_is_asked_on_its_path_and_waited_for_longer_than_it_takes() {
        let addr: SocketAddr = "127.0.0.1:7777".parse().unwrap();
        let second = Duration::from_secs(1);
        let long = Handlers {
            cpu: Duration::from_micros(100),
            wait: Duration::from_secs(3),
            database: None,
        };
        let wait = bench_args(CompareWorkload::Wait, 100, addr, second, &long, "/wait");
        assert_eq!(
            wait[..4],
            ["http", "http://127.0.0.1:7777/wait", "--connections", "100"]
        );
        assert_eq!(wait[wait.len() - 2..], ["--timeout", "12000ms"]);
        let threads = |args: &[String]| {
            let at = args.iter().position(|a| a == "--threads")?;
            Some(args[at + 1].clone())
        };
        assert_eq!(threads(&wait).as_deref(), Some("2"), "two client loops");
        let one = bench_args(CompareWorkload::Wait, 1, addr, second, &long, "/wait");
        assert_eq!(
            threads(&one).as_deref(),
            Some("1"),
            "no more loops than clients"
        );
        let cpu = bench_args(CompareWorkload::Cpu, 10, addr, second, &long, "/cpu");
        assert_eq!(cpu[1], "http://127.0.0.1:7777/cpu");
        assert_eq!(cpu[cpu.len() - 1], "2000ms", "at least two seconds");
        let http = bench_args(CompareWorkload::Http, 10, addr, second, &long, "/");
        assert_eq!(http[1], "http://127.0.0.1:7777/");
        assert_eq!(http[http.len() - 1], "2000ms");
        assert_eq!(threads(&http), None, "the default workloads as they were");
        let queries = "/queries?queries=20";
        let db = bench_args(CompareWorkload::Queries, 1000, addr, second, &long, queries);
        assert_eq!(
            db[..4],
            [
                "http",
                "http://127.0.0.1:7777/queries?queries=20",
                "--connections",
                "1000"
            ]
        );
        assert_eq!(
            db[db.len() - 1],
            "10000ms",
            "a turn in a queue of a thousand"
        );
    }
}
