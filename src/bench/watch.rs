//! What the main thread watches while connections are held, from the live counters:
//! when the ramp first had every connection held; the kernel's TCP memory, its slab
//! caches and the load generator's own memory (all its processes) at the moment the
//! most were held, against readings before the run; once, near the end of the hold,
//! the connection caches again with what the server holds counted
//! ([`crate::sample::census`]), which splits them between the ends; and the kernel's
//! TCP counters over the run.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::engine::LiveTotals;
use crate::results::hold::{HoldMemory, PingCost};
use crate::sample::census::Census;
use crate::sample::netstat::TcpCounters;
use crate::sample::procfs::process_cpu_ns;
use crate::sample::slab::{self, CacheGroup, Ends, ServerCount, SlabLine};
use crate::sample::{tcp_sockets, ProcessTree, TcpSockets, TreeUsage};

/// The light readings (TCP memory, slab, the load generator's memory) are taken at
/// most this often.
const READING_EVERY: Duration = Duration::from_millis(250);
/// How long before the end of the hold the census is taken, at most (a tenth of a
/// short hold).
const CENSUS_BEFORE_END: Duration = Duration::from_secs(2);

/// One reading while holding.
#[derive(Debug)]
struct Reading {
    held: u64,
    sockets: TcpSockets,
    slab: Option<HashMap<String, SlabLine>>,
    /// The load generator's processes: their PSS summed, in kB, and how many.
    client: Option<(u64, u32)>,
}

/// The census near the end: the caches, and what the server holds.
#[derive(Debug)]
struct CensusReading {
    held: u64,
    slab: HashMap<String, SlabLine>,
    server: Option<ServerCount>,
}

/// Where the server runs: here (with its pid, if given), or on another machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerAt {
    Here(Option<u32>),
    Elsewhere,
}

/// The watch over one hold run (of one process, or of several merged).
#[derive(Debug)]
pub struct HoldWatch {
    start: Instant,
    target: u64,
    census_at: Instant,
    ramp: Option<Duration>,
    before: Option<TcpSockets>,
    slab_before: Option<HashMap<String, SlabLine>>,
    groups: Vec<CacheGroup>,
    page: u64,
    counters_before: Option<TcpCounters>,
    /// Whether the server runs here, and its census if it is known.
    local: bool,
    server: Option<Census>,
    client: Option<ProcessTree>,
    holding: Option<Reading>,
    census: Option<CensusReading>,
    last_reading: Option<Instant>,
    /// The server's tree, when it runs here and is known: its CPU counts in the pings'.
    server_tree: Option<ProcessTree>,
    /// (when, requests answered, CPU of both ends in ns) when every connection was
    /// first held, and at the census.
    steady: Option<(Instant, u64, u64)>,
    steady_end: Option<(Instant, u64, u64)>,
}

impl HoldWatch {
    /// A watch for a run of `target` connections that started at `start` and lasts
    /// `duration`, of the server `server_pid` if given; reads the kernel before any
    /// connection is opened.
    pub fn new(start: Instant, target: usize, duration: Duration, server: ServerAt) -> Self {
        let slab_before = slab::read_slabinfo().ok();
        let groups = slab_before
            .as_ref()
            .map_or_else(Vec::new, slab::connection_groups);
        Self {
            start,
            target: target as u64,
            census_at: start + duration - CENSUS_BEFORE_END.min(duration / 10),
            ramp: None,
            before: tcp_sockets().ok(),
            slab_before,
            groups,
            page: nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
                .ok()
                .flatten()
                .map_or(4096, |p| p as u64),
            counters_before: TcpCounters::now().ok(),
            local: !matches!(server, ServerAt::Elsewhere),
            server: match server {
                ServerAt::Here(Some(pid)) => Census::before(pid),
                _ => None,
            },
            server_tree: match server {
                ServerAt::Here(Some(pid)) => ProcessTree::new(pid).ok(),
                _ => None,
            },
            steady: None,
            steady_end: None,
            client: ProcessTree::new(std::process::id()).ok(),
            holding: None,
            census: None,
            last_reading: None,
        }
    }

    /// Takes the live counters into account.
    pub fn observe(&mut self, live: LiveTotals) {
        let now = Instant::now();
        if self.ramp.is_none() && live.open >= self.target {
            self.ramp = Some(now - self.start);
            self.steady = self.cpu_ns().map(|ns| (now, live.requests, ns));
        }
        let most = self.holding.as_ref().map_or(0, |r| r.held);
        let due = self
            .last_reading
            .map_or(true, |at| now - at >= READING_EVERY);
        if live.open > most && due {
            self.last_reading = Some(now);
            if let Ok(sockets) = tcp_sockets() {
                self.holding = Some(Reading {
                    held: live.open,
                    sockets,
                    slab: slab::read_slabinfo().ok(),
                    client: self
                        .client
                        .as_ref()
                        .and_then(|t| t.sample().ok())
                        .map(|s| (s.pss_kb, s.processes)),
                });
            }
        }
        if self.census.is_none() && now >= self.census_at && live.open > 0 {
            if self.steady.is_some() {
                self.steady_end = self.cpu_ns().map(|ns| (now, live.requests, ns));
            }
            // The caches first: counting the server reads /proc, which allocates too.
            if let Ok(slab) = slab::read_slabinfo() {
                let server = match (&self.server, self.local) {
                    (Some(census), _) => census.growth(),
                    (None, false) => Some(ServerCount::default()),
                    (None, true) => None,
                };
                self.census = Some(CensusReading {
                    held: live.open,
                    slab,
                    server,
                });
            }
        }
    }

    /// Seconds until every connection was held at once, if that happened.
    pub fn ramp_s(&self) -> Option<f64> {
        self.ramp
            .map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0)
    }

    /// The CPU both ends have used so far, in nanoseconds: bench's processes and the
    /// server's tree when it is known.
    fn cpu_ns(&self) -> Option<u64> {
        let tree_ns = |tree: &ProcessTree| -> Option<u64> {
            Some(
                tree.pids()
                    .ok()?
                    .into_iter()
                    .filter_map(process_cpu_ns)
                    .sum(),
            )
        };
        let client = tree_ns(self.client.as_ref()?)?;
        Some(client + self.server_tree.as_ref().and_then(tree_ns).unwrap_or(0))
    }

    /// What the pings cost while every connection was held, if the ramp ended before
    /// the census.
    pub fn ping_cost(&self) -> Option<PingCost> {
        let ((t0, r0, c0), (t1, r1, c1)) = (self.steady?, self.steady_end?);
        let seconds = (t1 - t0).as_secs_f64();
        let requests = r1.saturating_sub(r0);
        if seconds <= 0.0 || requests == 0 {
            return None;
        }
        let cpu_s = c1.saturating_sub(c0) as f64 / 1e9;
        let round = |x: f64, places: i32| (x * 10f64.powi(places)).round() / 10f64.powi(places);
        Some(PingCost {
            seconds: round(seconds, 3),
            requests_per_s: round(requests as f64 / seconds, 0),
            cpu_us_per_request: round(cpu_s * 1e6 / requests as f64, 1),
            cores: round(cpu_s / seconds, 2),
            server_counted: self.server_tree.is_some(),
        })
    }

    /// The kernel's TCP counters' growth since the watch began.
    pub fn counters(&self) -> Option<TcpCounters> {
        Some(
            TcpCounters::now()
                .ok()?
                .since(self.counters_before.as_ref()?),
        )
    }

    /// What holding cost in memory: the kernel's, the load generator's, and the
    /// server's when it was sampled (its private memory growth over the most
    /// connections held at once).
    pub fn memory(&self, server: Option<&TreeUsage>, held_peak: u64) -> Option<HoldMemory> {
        let before = self.before?;
        let holding = self.holding.as_ref()?;
        let held = holding.held;
        let per_conn = |kb: u64| kb as f64 * 1024.0 / held as f64;
        let server_growth = server.map(|s| {
            s.private_dirty_peak_kb
                .saturating_sub(s.private_dirty_start_kb)
        });
        let mut memory = HoldMemory {
            server_private_per_conn_b: server_growth
                .filter(|_| held_peak > 0)
                .map(|kb| (kb as f64 * 1024.0 / held_peak as f64).round()),
            kernel_tcp_before_kb: before.mem_kb,
            kernel_tcp_holding_kb: holding.sockets.mem_kb,
            held_at_reading: held,
            kernel_tcp_per_conn_b: per_conn(holding.sockets.mem_kb.saturating_sub(before.mem_kb))
                .round(),
            kernel_slab_before_kb: before.slab_kb,
            kernel_slab_holding_kb: holding.sockets.slab_kb,
            kernel_slab_per_conn_b: per_conn(
                holding.sockets.slab_kb.saturating_sub(before.slab_kb),
            )
            .round(),
            client_pss_kb: holding.client.map(|c| c.0),
            client_processes: holding.client.map(|c| c.1),
            client_per_conn_b: holding.client.map(|c| per_conn(c.0).round()),
            ..HoldMemory::default()
        };
        self.add_caches(&mut memory);
        Some(memory)
    }

    /// The connection caches' growth, from the census, or else from the reading with
    /// the most held (not split between the ends).
    fn add_caches(&self, memory: &mut HoldMemory) {
        let Some(before) = &self.slab_before else {
            return;
        };
        let (held, slab, server) = match (&self.census, &self.holding) {
            (Some(c), _) => (c.held, &c.slab, c.server),
            (
                None,
                Some(Reading {
                    held,
                    slab: Some(slab),
                    ..
                }),
            ) => (*held, slab, None),
            _ => return,
        };
        let ends = Ends {
            server,
            client_sockets: held,
        };
        let rows = slab::growth(before, slab, &self.groups, self.page, held, ends);
        let sum = |get: fn(&slab::CacheGrowth) -> Option<f64>| -> Option<f64> {
            rows.iter().map(get).sum::<Option<f64>>()
        };
        memory.kernel_caches_per_conn_b = sum(|r| Some(r.per_conn_b));
        memory.kernel_server_per_conn_b = sum(|r| r.server_per_conn_b);
        memory.kernel_client_per_conn_b = sum(|r| r.client_per_conn_b);
        memory.kernel_other_per_conn_b = sum(|r| r.other_per_conn_b);
        memory.held_at_census = Some(held);
        memory.kernel_caches = rows;
    }
}
