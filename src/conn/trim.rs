//! Counting live connections, and handing the memory of finished ones back to the
//! system once they are gone (threads, coroutines, async, async-mt, uring).
//!
//! The allocator keeps what a program frees for its next allocations. A burst of
//! thousands of connections served from many threads (a thread each, may's and
//! tokio's workers, uring's reactors) leaves tens of MB free but resident in malloc's
//! arenas after it ends. [`IdleTrim`] gives them back ([`crate::sys::malloc::trim`])
//! once the burst is over: when the live connection count has fallen to half of its
//! high-water mark since the last trim, at most once every [`TRIM_EVERY`]. A steady
//! load never moves the count that far, so it never pays for a trim; and a model asks
//! only from the loop where it already looks at the stop flag, never per request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sys;

/// The least time between two trims.
pub const TRIM_EVERY: Duration = Duration::from_secs(1);

/// How many connections are being served, shared by the threads or coroutines
/// serving them.
#[derive(Debug, Clone, Default)]
pub struct LiveCount(Arc<AtomicUsize>);

impl LiveCount {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one more connection until the guard is dropped.
    pub fn enter(&self) -> LiveGuard {
        self.0.fetch_add(1, Ordering::AcqRel);
        LiveGuard(Arc::clone(&self.0))
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// One live connection; the count drops when the guard does.
#[derive(Debug)]
pub struct LiveGuard(Arc<AtomicUsize>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// When to trim, from the live connection count (see the module documentation).
#[derive(Debug, Default)]
pub struct IdleTrim {
    /// The most connections seen live since the last trim.
    high_water: usize,
    last_trim: Option<Instant>,
}

impl IdleTrim {
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks at the live count, and trims if it has fallen far enough. Reads the clock
    /// only when the count says a trim may be due.
    pub fn observe(&mut self, live: usize) {
        if self.fallen(live) && self.due(live, Instant::now()) {
            sys::malloc::trim();
        }
    }

    /// Records `live`; true if it is below the high-water mark and at most half of it.
    fn fallen(&mut self, live: usize) -> bool {
        self.high_water = self.high_water.max(live);
        live < self.high_water && live <= self.high_water / 2
    }

    /// True, and the trim counted as done, if none happened within [`TRIM_EVERY`]
    /// before `now`; the high-water mark starts again from `live`.
    fn due(&mut self, live: usize, now: Instant) -> bool {
        if self
            .last_trim
            .is_some_and(|last| now.saturating_duration_since(last) < TRIM_EVERY)
        {
            return false;
        }
        self.last_trim = Some(now);
        self.high_water = live;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `counts` one per 100 ms from `start`; returns the indices that trimmed.
    fn trims(counts: &[usize]) -> Vec<usize> {
        let start = Instant::now();
        let mut trim = IdleTrim::new();
        let mut at = Vec::new();
        for (i, &live) in counts.iter().enumerate() {
            let now = start + Duration::from_millis(100 * i as u64);
            if trim.fallen(live) && trim.due(live, now) {
                at.push(i);
            }
        }
        at
    }

    #[test]
    fn a_steady_load_never_trims() {
        assert_eq!(
            trims(&[50, 48, 51, 50, 49, 50, 47, 50, 52, 50]),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn an_idle_server_never_trims() {
        assert_eq!(trims(&[0; 30]), Vec::<usize>::new());
    }

    #[test]
    fn trims_once_when_a_burst_ends() {
        assert_eq!(trims(&[0, 4000, 4000, 3000, 2000, 8, 8, 8, 8]), vec![4]);
    }

    #[test]
    fn trims_at_most_once_a_second() {
        // Falls to half every other step, every 200 ms.
        let counts = [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0];
        assert_eq!(trims(&counts), vec![1, 11]);
    }

    #[test]
    fn the_high_water_mark_restarts_after_a_trim() {
        // Trimmed at 2000 (half of 4000); 1200 is not half of 2000, 1000 is, once a
        // second has passed.
        assert_eq!(
            trims(&[4000, 2000, 1200, 1100, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000]),
            vec![1, 11]
        );
    }

    #[test]
    fn live_counts_guards() {
        let live = LiveCount::new();
        let a = live.enter();
        let b = live.clone().enter();
        assert_eq!(live.count(), 2);
        drop(a);
        assert_eq!(live.count(), 1);
        drop(b);
        assert_eq!(live.count(), 0);
    }
}
