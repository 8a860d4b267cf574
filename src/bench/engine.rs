//! The engine every workload runs on: one event loop (mio) per thread ([`drive`], with
//! the workload's side as a [`EngineWorkload`]), the connections split across the threads, a
//! timer heap per loop, and live counters the progress line reads. Each thread records
//! into its own [`Recorder`]; the engine returns them all for merging.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::config::BenchConfig;
use crate::stats::Recorder;

/// How often a loop looks at timeouts and the stop flag when nothing else wakes it.
pub const TICK: Duration = Duration::from_millis(50);

/// How often the calling thread of [`run_threads`] looks at the loops: often enough
/// that a run ends soon after its last thread does.
pub const PROGRESS_TICK: Duration = Duration::from_millis(20);

/// Bytes of the per-thread read buffer every connection of the thread shares.
pub const READ_BUF: usize = 64 * 1024;

/// State shared by the loops and the main thread.
#[derive(Debug)]
pub struct Shared {
    /// Set by SIGINT/SIGTERM: every loop ends at its next tick.
    pub stop: Arc<AtomicBool>,
    progress: Box<[ThreadProgress]>,
}

/// One loop's live counters, published once per loop turn, on its own cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
struct ThreadProgress {
    requests: AtomicU64,
    errors: AtomicU64,
    open: AtomicU64,
}

/// The loops' live counters, summed, for the progress line.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveTotals {
    pub requests: u64,
    pub errors: u64,
    pub open: u64,
}

impl Shared {
    pub fn new(threads: usize, stop: Arc<AtomicBool>) -> Self {
        Self {
            stop,
            progress: (0..threads).map(|_| ThreadProgress::default()).collect(),
        }
    }

    /// The sum of every loop's last published counters.
    pub fn live(&self) -> LiveTotals {
        let mut live = LiveTotals::default();
        for p in self.progress.iter() {
            live.requests += p.requests.load(Ordering::Relaxed);
            live.errors += p.errors.load(Ordering::Relaxed);
            live.open += p.open.load(Ordering::Relaxed);
        }
        live
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// What one loop thread is given.
#[derive(Debug, Clone, Copy)]
pub struct ThreadCtx<'a> {
    pub index: usize,
    pub threads: usize,
    pub config: &'a BenchConfig,
    pub shared: &'a Shared,
    /// When the run started (the same for every thread).
    pub start: Instant,
}

impl ThreadCtx<'_> {
    /// This thread's share of `total` items, and the global index of its first one.
    pub fn share(&self, total: usize) -> (usize, usize) {
        share(total, self.threads, self.index)
    }

    /// The local address for this process's connection `n` (round-robin over the
    /// sources by the connection's index among all processes of the run).
    pub fn source(&self, n: usize) -> Option<IpAddr> {
        let sources = &self.config.sources;
        let global = self.config.first_connection + n;
        (!sources.is_empty()).then(|| sources[global % sources.len()])
    }

    /// Starts a non-blocking connect of this process's connection `n` to the target,
    /// from its source address, registered with `registry` as `token`.
    pub fn connect(
        &self,
        registry: &mio::Registry,
        token: usize,
        n: usize,
    ) -> io::Result<mio::net::TcpStream> {
        let (addr, source) = (self.config.target.addr, self.source(n));
        super::net::connect_registered(registry, mio::Token(token), addr, source)
    }

    /// Publishes the final counters and hands the thread's measurements back.
    pub fn finish(
        &self,
        recorder: &mut Recorder,
        open: usize,
        held: usize,
        held_peak: usize,
    ) -> ThreadResult {
        self.publish(recorder, open);
        ThreadResult {
            recorder: std::mem::take(recorder),
            held: held as u64,
            held_peak: held_peak as u64,
            ended: Instant::now(),
        }
    }

    /// Publishes this thread's counters for the progress line.
    pub fn publish(&self, recorder: &Recorder, open: usize) {
        let p = &self.shared.progress[self.index];
        p.requests.store(recorder.requests, Ordering::Relaxed);
        p.errors.store(recorder.errors.total(), Ordering::Relaxed);
        p.open.store(open as u64, Ordering::Relaxed);
    }
}

/// Part `index`'s share of `total` items split over `parts` as evenly as they go (the
/// first ones take one more), and the index of its first item.
pub fn share(total: usize, parts: usize, index: usize) -> (usize, usize) {
    let base = total / parts;
    let extra = total % parts;
    (
        base + usize::from(index < extra),
        index * base + index.min(extra),
    )
}

/// Waits for events at most `wait`; a signal's interruption is an empty wake-up.
fn poll_events(poll: &mut mio::Poll, events: &mut mio::Events, wait: Duration) -> io::Result<()> {
    match poll.poll(events, Some(wait)) {
        Err(err) if err.kind() != io::ErrorKind::Interrupted => Err(err),
        _ => Ok(()),
    }
}

/// A thread's poller, which [`drive`] waits on, and its registry, where the
/// workload registers its connections.
pub fn poller() -> io::Result<(mio::Poll, mio::Registry)> {
    let poll = mio::Poll::new()?;
    let registry = poll.registry().try_clone()?;
    Ok((poll, registry))
}

/// A workload's side of a thread's event loop; [`drive`] runs the loop itself.
pub trait EngineWorkload {
    /// When the run ends, if it ends at a time.
    fn deadline(&self) -> Option<Instant>;
    /// The workload's timers, if it has any: [`drive`] fires them with
    /// [`EngineWorkload::on_timer`].
    fn timers(&mut self) -> Option<&mut Timers> {
        None
    }
    /// Timer `token` is due.
    fn on_timer(&mut self, _token: usize, _now: Instant) {}
    /// Called at the start of every turn, before the deadline is checked: the workload
    /// may open connections here; `false` ends the run (its work is done).
    fn proceed(&mut self) -> bool {
        true
    }
    /// One readiness event for connection `token`; `buf` is the thread's read buffer.
    fn on_event(&mut self, token: usize, event: &mio::event::Event, buf: &mut [u8]);
    /// Once per [`TICK`]: looks for connections past their deadlines.
    fn sweep(&mut self, now: Instant);
    /// Publishes the live counters for the progress line.
    fn publish(&self);
}

/// Runs a workload's event loop on `poll` until its deadline, the stop flag (in `ctx`)
/// or [`EngineWorkload::proceed`] ends it.
pub fn drive(
    ctx: ThreadCtx<'_>,
    poll: &mut mio::Poll,
    workload: &mut impl EngineWorkload,
) -> io::Result<()> {
    let mut events = mio::Events::with_capacity(1024);
    let mut buf = vec![0u8; READ_BUF];
    let mut next_sweep = Instant::now() + TICK;
    loop {
        if !workload.proceed() {
            return Ok(());
        }
        let now = Instant::now();
        let deadline = workload.deadline();
        if deadline.is_some_and(|d| now >= d) || ctx.shared.stopped() {
            return Ok(());
        }
        let next_timer = workload.timers().and_then(|timers| timers.next());
        let wait = poll_timeout(now, next_timer, deadline).min(next_sweep - now);
        poll_events(poll, &mut events, wait)?;
        for event in events.iter() {
            workload.on_event(event.token().0, event, &mut buf);
        }
        let now = Instant::now();
        while let Some(token) = workload.timers().and_then(|timers| timers.pop_due(now)) {
            workload.on_timer(token, now);
        }
        if now >= next_sweep {
            workload.sweep(now);
            next_sweep = now + TICK;
        }
        workload.publish();
    }
}

/// Does this event tell a connection to read (data, the peer's close, or an error that
/// the read will report)?
pub fn is_readable(event: &mio::event::Event) -> bool {
    event.is_readable() || event.is_read_closed() || event.is_error()
}

/// What a loop thread returns: its measurements and when it finished.
#[derive(Debug)]
pub struct ThreadResult {
    pub recorder: Recorder,
    pub held: u64,
    pub held_peak: u64,
    pub ended: Instant,
}

/// Runs `body` on `config.threads` threads and, while they run, calls `tick` every
/// [`PROGRESS_TICK`] on the calling thread (the progress line, which redraws at its own
/// pace). Returns every thread's result.
pub fn run_threads<F>(
    config: &BenchConfig,
    shared: &Shared,
    start: Instant,
    body: F,
    mut tick: impl FnMut(&Shared),
) -> Result<Vec<ThreadResult>>
where
    F: Fn(ThreadCtx<'_>) -> io::Result<ThreadResult> + Sync,
{
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..config.threads)
            .map(|index| {
                let ctx = ThreadCtx {
                    index,
                    threads: config.threads,
                    config,
                    shared,
                    start,
                };
                let body = &body;
                std::thread::Builder::new()
                    .name(format!("bench-{index}"))
                    .spawn_scoped(scope, move || body(ctx))
            })
            .collect::<io::Result<_>>()
            .context("cannot start the bench threads")?;
        while !handles.iter().all(|h| h.is_finished()) {
            tick(shared);
            std::thread::sleep(PROGRESS_TICK);
        }
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(result) => result.context("a bench thread failed"),
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// A min-heap of (when, token). Entries are not cancelled: whoever pops one checks
/// whether it still means something.
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
}

impl Timers {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            heap: BinaryHeap::with_capacity(n),
        }
    }

    pub fn arm(&mut self, at: Instant, token: usize) {
        self.heap.push(Reverse((at, token)));
    }

    /// The earliest pending deadline.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Pops one entry that is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<usize> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse((_, t))| t),
            _ => None,
        }
    }
}

/// How long a loop may block in poll: until the next timer, the deadline or the tick.
fn poll_timeout(now: Instant, timers: Option<Instant>, deadline: Option<Instant>) -> Duration {
    let mut wait = TICK;
    for at in [timers, deadline].into_iter().flatten() {
        wait = wait.min(at.saturating_duration_since(now));
    }
    wait
}

/// A small, fast pseudo-random generator (xorshift64*) for hold's intervals.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A duration uniformly drawn from `low..=high`.
    pub fn between(&mut self, low: Duration, high: Duration) -> Duration {
        let span = (high - low).as_nanos() as u64;
        if span == 0 {
            return low;
        }
        low + Duration::from_nanos(self.next_u64() % (span + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_pop_in_order_when_due() {
        let now = Instant::now();
        let mut t = Timers::default();
        t.arm(now + Duration::from_millis(5), 2);
        t.arm(now, 1);
        assert_eq!(t.next(), Some(now));
        assert_eq!(t.pop_due(now), Some(1));
        assert_eq!(t.pop_due(now), None);
        assert_eq!(t.pop_due(now + Duration::from_millis(5)), Some(2));
    }

    #[test]
    fn rng_stays_in_range() {
        let mut rng = Rng::new(7);
        let (low, high) = (Duration::from_millis(10), Duration::from_millis(20));
        for _ in 0..1000 {
            let d = rng.between(low, high);
            assert!(d >= low && d <= high);
        }
    }
}
