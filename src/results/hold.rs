//! What a `hold` run adds to its document: the limits checked before it started, what
//! holding cost in memory (the server's, the load generator's, the kernel's cache by
//! cache), and each kind of lost connection with its cause.

use serde::{Deserialize, Serialize};

use crate::sample::netstat::TcpCounters;
use crate::sample::slab::CacheGrowth;

/// What this machine allows the hold, checked before it started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// The ping interval, in seconds (low, high), and whether bench derived it from the
    /// count and the machine (no `--interval` given).
    pub interval_s: [f64; 2],
    pub interval_derived: bool,
    /// CPU per keep-alive request, measured before the hold; absent if no request of
    /// the measurement was answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_per_request: Option<CpuPerRequest>,
    /// One row per limit, in the order bench checks them.
    pub rows: Vec<LimitRow>,
    /// The name of the row that allows the fewest connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
}

/// The CPU one keep-alive request costs, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CpuPerRequest {
    pub client_us: f64,
    /// The server's: measured from its process tree (`--server-pid`), else taken to be
    /// the client's (`server_measured` false); 0 for a server on another machine,
    /// whose CPU is not this machine's.
    pub server_us: f64,
    pub server_measured: bool,
    /// Requests the measurement made.
    pub requests: u64,
}

impl CpuPerRequest {
    /// The CPU a request costs this machine, in microseconds: both ends.
    pub fn here_us(&self) -> f64 {
        self.client_us + self.server_us
    }
}

/// One limit: how many connections it allows, what it is, and what would lift it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitRow {
    pub name: String,
    /// Connections it allows; absent where it sets no bound, or could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allows: Option<u64>,
    /// The figures it rests on, in words.
    pub detail: String,
    /// The setting that would lift it.
    pub lift: String,
}

/// What holding connections cost in memory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HoldMemory {
    /// The server tree's private dirty memory while holding, less what it had before
    /// the first connection, per connection held then (bytes); absent without
    /// `--server-pid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_private_per_conn_b: Option<f64>,
    /// The kernel's TCP memory (`/proc/net/sockstat`, `mem` pages), in kB, before the
    /// run and when the most connections were held.
    pub kernel_tcp_before_kb: u64,
    pub kernel_tcp_holding_kb: u64,
    /// Connections held when the kernel's TCP memory was read while holding.
    pub held_at_reading: u64,
    /// The kernel's TCP memory growth per held connection (bytes). On one machine it
    /// counts both ends of each connection, the client's socket and the server's.
    pub kernel_tcp_per_conn_b: f64,
    /// The kernel's slab memory (`/proc/meminfo`), in kB, at the same two moments, and
    /// its growth per held connection (bytes): the socket structures themselves, both
    /// ends on one machine, and whatever else the machine allocated meanwhile.
    #[serde(default)]
    pub kernel_slab_before_kb: u64,
    #[serde(default)]
    pub kernel_slab_holding_kb: u64,
    #[serde(default)]
    pub kernel_slab_per_conn_b: f64,
    /// The connection caches' growth (`/proc/slabinfo`), read near the end of the hold
    /// with `held_at_census` connections held: cache by cache, and their sum per
    /// connection, split between the server's end, the client's and the rest no end
    /// explains, when the server was counted (`--server-pid`, or a server elsewhere).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernel_caches: Vec<CacheGrowth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_at_census: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_caches_per_conn_b: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_server_per_conn_b: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_client_per_conn_b: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_other_per_conn_b: Option<f64>,
    /// The load generator, all its processes: their memory summed as PSS (a page
    /// they share counts once) when the most connections were held, in kB, how many
    /// processes, and the memory per connection held then, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_pss_kb: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_processes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_per_conn_b: Option<f64>,
}

/// Why connections were lost, as far as can be known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Losses {
    /// How busy this machine's CPUs were over the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuLoad>,
    /// The kernel's TCP counters' growth over the run.
    pub kernel: TcpCounters,
    /// One line per kind of loss (and per kernel event that lost nothing yet).
    pub causes: Vec<LossCause>,
}

/// The machine's CPU over the run, against what the pings asked of it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CpuLoad {
    pub cores: u32,
    /// Percent of all the CPUs' time that was busy (anyone's), and the part of it other
    /// processes than the server and the load generator took.
    pub busy_pct: f64,
    #[serde(default)]
    pub others_pct: f64,
    /// Cores the ping rate asked for at the CPU per request measured before the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked_cores: Option<f64>,
    /// Busy nearly all the time: the CPU, not the server's design, set the pace.
    pub saturated: bool,
    /// What the pings cost while every connection was held, measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holding: Option<PingCost>,
}

/// The pings' cost while every connection was held, from the end of the ramp to near
/// the end of the run: the requests answered and the CPU both ends used meanwhile
/// (the server's tree when it is known, and every process of bench).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PingCost {
    pub seconds: f64,
    pub requests_per_s: f64,
    pub cpu_us_per_request: f64,
    /// The CPU used, in cores.
    pub cores: f64,
    /// Whether the server's CPU is in it (known and on this machine).
    pub server_counted: bool,
}

/// One kind of lost connection, how many, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossCause {
    /// The error kind (`timeout`, `reset`, ...), or a kernel event (`tcp_mem`).
    pub kind: String,
    pub count: u64,
    pub cause: String,
}
