//! What a comparison runs: subjects (our models, external targets) × workloads × levels
//! × repeats, and the `iomodels bench` command line each step becomes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

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

/// A workload of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum CompareWorkload {
    /// Seed 000: connect, 50 round trips of 32 bytes, close; repeated.
    Echo,
    /// Keep-alive HTTP requests.
    Http,
    /// Seed 001 (`ab` without `-k`): a new connection per request.
    HttpClose,
    /// Seed 003: hold many connections, each sending a HEAD now and then.
    Hold,
    /// Throughput of 50 active clients while K idle connections are held.
    Idle,
}

/// Active keep-alive clients measured by the `idle` workload.
pub const IDLE_ACTIVE_CLIENTS: usize = 50;

impl CompareWorkload {
    pub fn name(self) -> &'static str {
        match self {
            CompareWorkload::Echo => "echo",
            CompareWorkload::Http => "http",
            CompareWorkload::HttpClose => "http-close",
            CompareWorkload::Hold => "hold",
            CompareWorkload::Idle => "idle",
        }
    }

    /// The protocol the server must speak for it.
    pub fn proto(self) -> &'static str {
        match self {
            CompareWorkload::Echo => "echo",
            _ => "http",
        }
    }

    /// What a level means for this workload (the x axis of its chart).
    pub fn level_name(self) -> &'static str {
        match self {
            CompareWorkload::Echo | CompareWorkload::Http | CompareWorkload::HttpClose => {
                "concurrent clients"
            }
            CompareWorkload::Hold => "connections held",
            CompareWorkload::Idle => "idle connections (50 active clients)",
        }
    }
}

/// The whole comparison.
#[derive(Debug, Clone)]
pub struct Plan {
    pub subjects: Vec<Subject>,
    /// Each workload with its levels, ascending.
    pub workloads: Vec<(CompareWorkload, Vec<usize>)>,
    pub duration: Duration,
    pub repeat: usize,
    pub out: PathBuf,
}

impl Plan {
    /// The number of measurements the plan makes (for the progress bar).
    pub fn steps(&self) -> u64 {
        let per_subject: usize = self
            .workloads
            .iter()
            .map(|(_, levels)| levels.len() * self.repeat)
            .sum();
        (per_subject * self.subjects.len()) as u64
    }
}

/// Connections per ramp step when holding: fast enough that 10,000 connections take a
/// fraction of a second, slow enough not to overflow the listen backlog.
pub const HOLD_RAMP: &str = "200/10ms";
/// Connections a ramp of [`HOLD_RAMP`] adds per second.
pub const HOLD_RAMP_PER_S: f64 = 20_000.0;

/// The `iomodels bench` arguments (after `bench`) for one measurement.
pub fn bench_args(
    workload: CompareWorkload,
    level: usize,
    addr: SocketAddr,
    duration: Duration,
) -> Vec<String> {
    let d = format!("{}ms", duration.as_millis().max(1));
    let addr_s = addr.to_string();
    let url = format!("http://{addr}/");
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
        CompareWorkload::Http | CompareWorkload::HttpClose => {
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
    args.extend(["--timeout".into(), "2s".into()]);
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
