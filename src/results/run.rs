//! One `iomodels bench` run: the JSON document bench writes (`--json`,
//! `schema/bench.schema.json`), compare and `iomodels merge` read back, one type both
//! ways.

use serde::{Deserialize, Serialize};

pub use super::hold::HoldMemory;
use super::hold::{Limits, Losses};
use crate::sample::{HostTimes, OwnUsage, TreeUsage};
use crate::stats::{Errors, Summary};

/// The version of the bench document: 2 added the connect and session histograms, the
/// start time and the loss reasons that make runs mergeable. A document without the
/// key is version 1.
pub const BENCH_VERSION: u32 = 2;

/// The JSON document of one run. Keys up to `histogram` are fixed: scripts and compare
/// read them; the rest are workload-specific additions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchRun {
    pub workload: String,
    pub target: String,
    pub connections: usize,
    pub duration_s: f64,
    pub requests: u64,
    pub throughput_per_s: f64,
    pub errors: Errors,
    pub latency_us: Summary,
    pub connect_us: Summary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<TreeUsage>,
    pub client: OwnUsage,
    /// The latency histogram (microseconds), HdrHistogram V2 compressed, base64. Bench
    /// always writes it; a comparison drops it from the runs it keeps (its report
    /// carries the summaries, not every histogram).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<String>,
    pub threads: usize,
    pub connections_opened: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_peak: Option<u64>,
    /// http only: connections that got no reply at all during the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starved: Option<u64>,
    /// Echo only: completed sessions and their total time (connect to last byte).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_us: Option<Summary>,
    /// The whole machine's CPU time over the run (`/proc/stat`), summed over its CPUs:
    /// what else used the machine meanwhile is this less the server's and the client's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostTimes>,
    /// The document's version ([`BENCH_VERSION`]); absent in version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// The connect-time and (echo) session-time histograms, encoded as `histogram` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_histogram: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_histogram: Option<String>,
    /// When the run started, in seconds since the Unix epoch (wall clock): what lines
    /// up the runs of several processes or machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<f64>,
    /// Who made the run: the host's name and the process id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// hold: seconds from the start until every connection was held at once; absent if
    /// that never happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_s: Option<f64>,
    /// hold: what a held connection costs in memory, the server's and the kernel's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<HoldMemory>,
    /// hold: what this machine allows, checked before the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// hold: each kind of lost connection and its cause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub losses: Option<Losses>,
    /// A merged run: one row for each run merged, and how far apart they started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<PartRow>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_spread_s: Option<f64>,
    /// With `--server-pid`: the server tree's CPU per request served, in microseconds
    /// (absent when no request succeeded); [`BenchRun::server_cpu_us_per_request`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cpu_us_per_request: Option<f64>,
}

/// One run of a merged run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartRow {
    /// The run's origin (host and process), or its position in the merge.
    pub origin: String,
    /// Seconds after the earliest run's start that this one started.
    pub started_after_s: f64,
    pub duration_s: f64,
    pub requests: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<u64>,
    pub errors: u64,
    pub client_rss_peak_kb: u64,
}

impl BenchRun {
    /// Reads a bench run's JSON (as `bench --json` writes it), refusing a file that is
    /// not one, or whose figures or names no run writes ([`super::validate`]).
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text =
            std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
        Self::from_json(&text).map_err(|err| format!("{}: not a bench run ({err})", path.display()))
    }

    /// A bench run's JSON text as a run, checked as [`Self::load`] says.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|err| super::validate::brief(&err))?;
        super::validate::document(&value)?;
        let run: Self =
            serde_json::from_value(value).map_err(|err| super::validate::brief(&err))?;
        super::validate::workload(&run.workload).map_err(|err| format!("workload: {err}"))?;
        let parts = run
            .parts
            .iter()
            .flatten()
            .map(|p| ("parts.origin", &p.origin));
        let labels = [("target", &run.target)]
            .into_iter()
            .chain(run.origin.iter().map(|o| ("origin", o)));
        for (field, text) in labels.chain(parts) {
            super::validate::label(text).map_err(|err| format!("{field}: {err}"))?;
        }
        Ok(run)
    }

    /// The server tree's CPU (user + system) per request served, in microseconds: none
    /// without a sample of the server, or when no request succeeded (a per-request cost
    /// of nothing served is undefined, not huge).
    pub fn server_cpu_us_per_request(&self) -> Option<f64> {
        let server = self.server.filter(|_| self.requests > 0)?;
        let cpu = cpu_seconds(server.cpu_ns, server.cpu_user_s + server.cpu_sys_s);
        Some(cpu * 1e6 / self.requests as f64)
    }
}

/// `x` to three decimals, as the documents give times, rates and CPU seconds.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Seconds of CPU: the nanosecond clock where it was read, else the tick-based figure
/// (reports written before the clocks were).
pub fn cpu_seconds(ns: u64, ticks_s: f64) -> f64 {
    if ns > 0 {
        ns as f64 / 1e9
    } else {
        ticks_s
    }
}
