//! One `iomodels bench` run: the JSON document bench writes (`--json`,
//! `schema/bench.schema.json`) and compare reads back, one type both ways.

use serde::{Deserialize, Serialize};

use crate::sample::{HostTimes, OwnUsage, TreeUsage};
use crate::stats::{Errors, Summary};

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
    /// With `--server-pid`: the server tree's CPU per request served, in microseconds
    /// (absent when no request succeeded); [`BenchRun::server_cpu_us_per_request`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cpu_us_per_request: Option<f64>,
}

impl BenchRun {
    /// The server tree's CPU (user + system) per request served, in microseconds: none
    /// without a sample of the server, or when no request succeeded (a per-request cost
    /// of nothing served is undefined, not huge).
    pub fn server_cpu_us_per_request(&self) -> Option<f64> {
        let server = self.server.filter(|_| self.requests > 0)?;
        let cpu = cpu_seconds(server.cpu_ns, server.cpu_user_s + server.cpu_sys_s);
        Some(cpu * 1e6 / self.requests as f64)
    }
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
