//! What a comparison runs: subjects (our models, external targets) × workloads × levels
//! × repeats, and the `iomodels bench` command line each step becomes.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

pub use crate::results::comparison::{CompareWorkload, Placement};

use crate::hosts::session::HostsConfig;
use crate::hosts::Host;

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
}

impl Plan {
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
