//! What the main thread watches while connections are held, from the live counters:
//! when the ramp first had every connection held, and the kernel's TCP memory at the
//! moment the most were held (against a reading before the run).

use std::time::{Duration, Instant};

use super::engine::LiveTotals;
use crate::results::run::HoldMemory;
use crate::sample::{tcp_sockets, TcpSockets, TreeUsage};

/// The kernel's TCP memory is read at most this often.
const READING_EVERY: Duration = Duration::from_millis(250);

/// The watch over one hold run (of one process, or of several merged).
#[derive(Debug)]
pub struct HoldWatch {
    start: Instant,
    target: u64,
    ramp: Option<Duration>,
    before: Option<TcpSockets>,
    /// The reading taken with the most connections held, and how many that was.
    holding: Option<(u64, TcpSockets)>,
    last_reading: Option<Instant>,
}

impl HoldWatch {
    /// A watch for a run of `target` connections that started at `start`; reads the
    /// kernel's TCP memory before any is opened.
    pub fn new(start: Instant, target: usize) -> Self {
        Self {
            start,
            target: target as u64,
            ramp: None,
            before: tcp_sockets().ok(),
            holding: None,
            last_reading: None,
        }
    }

    /// Takes the live counters into account.
    pub fn observe(&mut self, live: LiveTotals) {
        let now = Instant::now();
        if self.ramp.is_none() && live.open >= self.target {
            self.ramp = Some(now - self.start);
        }
        let most = self.holding.map_or(0, |(held, _)| held);
        let due = self
            .last_reading
            .map_or(true, |at| now - at >= READING_EVERY);
        if live.open > most && due {
            self.last_reading = Some(now);
            if let Ok(reading) = tcp_sockets() {
                self.holding = Some((live.open, reading));
            }
        }
    }

    /// Seconds until every connection was held at once, if that happened.
    pub fn ramp_s(&self) -> Option<f64> {
        self.ramp
            .map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0)
    }

    /// What holding cost in memory: the kernel's, and the server's when it was
    /// sampled (its private memory growth over the most connections held at once).
    pub fn memory(&self, server: Option<&TreeUsage>, held_peak: u64) -> Option<HoldMemory> {
        let before = self.before?;
        let (held, holding) = self.holding?;
        let per_conn = |kb: u64| kb as f64 * 1024.0 / held as f64;
        let server_growth = server.map(|s| {
            s.private_dirty_peak_kb
                .saturating_sub(s.private_dirty_start_kb)
        });
        Some(HoldMemory {
            server_private_per_conn_b: server_growth
                .filter(|_| held_peak > 0)
                .map(|kb| (kb as f64 * 1024.0 / held_peak as f64).round()),
            kernel_tcp_before_kb: before.mem_kb,
            kernel_tcp_holding_kb: holding.mem_kb,
            held_at_reading: held,
            kernel_tcp_per_conn_b: per_conn(holding.mem_kb.saturating_sub(before.mem_kb)).round(),
            kernel_slab_before_kb: before.slab_kb,
            kernel_slab_holding_kb: holding.slab_kb,
            kernel_slab_per_conn_b: per_conn(holding.slab_kb.saturating_sub(before.slab_kb))
                .round(),
        })
    }
}
