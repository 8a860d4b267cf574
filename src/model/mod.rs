//! The concurrency models: one file per model, each holding only its multiplexing
//! mechanism, plus this registry.
//!
//! # The contract every model keeps
//!
//! A model's `run` receives a [`Launch`]: a bound listener, the connection settings and
//! a stop flag. It must:
//!
//! - serve every connection with the shared machinery: [`crate::conn::blocking`] for
//!   blocking I/O, [`crate::conn::ready`] for readiness events, or a driver of its own
//!   for async and completion models; never re-implement buffering or framing;
//! - check [`Launch::stop`] at least every [`STOP_POLL`], then return
//!   within a second, its sockets closed and every child process reaped;
//! - fork, if it forks, before starting any thread;
//! - survive any client: a reset, garbage, a client that never reads costs that client
//!   its connection, never the server its life or other clients their service;
//! - keep per-connection memory bounded, and report a limit it hits (FD_SETSIZE, file
//!   descriptors, processes) as a clear error line, not a crash;
//! - come back near its starting memory once the connections it served are gone: a
//!   model that serves from many threads hands what the allocator kept back to the
//!   system when its live connection count falls ([`crate::conn::trim`]), never per request;
//! - back off when accept(2) runs out of descriptors ([`crate::conn::accept`]);
//! - carry out the work a request needs (`/cpu`, `/wait`) its family's way, and accept
//!   of `--offload` only what its [`ModelInfo::offload`] declares (`serve` refuses the
//!   rest);
//! - say `listening on ADDR` ([`Launch::announce`]) once it is ready, if it was left
//!   to say it: `serve` says it before `run` for every model whose listener alone makes
//!   it ready ([`ModelInfo::announces_when_ready`]).

mod async_mt;
mod asyncio;
mod blocking;
mod coroutines;
mod epoll;
mod epoll_et;
mod epoll_prefork;
mod epoll_threads;
mod fork;
mod poll;
mod pool;
mod prefork;
mod prethread;
mod reuseport;
mod select;
mod select_threads;
mod selector;
mod threadpool;
mod threads;
mod uring;

use std::fmt;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use crate::conn::{ConnOptions, Offload};
pub use crate::sys::signal::{Stop, STOP_POLL};

/// How long a forking model's children get to exit on SIGTERM before SIGKILL, when it
/// stops: within the second a model has to stop.
pub const CHILD_GRACE: Duration = Duration::from_millis(500);

/// What a model is given to launch with: a bound listener, the connection settings,
/// the worker count and the stop flag.
#[derive(Debug)]
pub struct Launch {
    pub listener: TcpListener,
    /// The address actually bound (the real port when 0 was asked for).
    pub addr: SocketAddr,
    pub conn: ConnOptions,
    pub workers: usize,
    pub backlog: u32,
    pub stop: Stop,
    /// `listening on ADDR`, when it is the model's to say once it is ready; `None`:
    /// said already.
    pub announce: Option<Announce>,
}

/// The line scripts and `compare` wait for before they connect, said once.
pub struct Announce(Box<dyn FnOnce() -> io::Result<()> + Send>);

impl Announce {
    /// Says `say` when announced (tests listen this way).
    pub fn new(say: impl FnOnce() -> io::Result<()> + Send + 'static) -> Self {
        Announce(Box::new(say))
    }

    /// Prints `listening on ADDR` on stdout.
    pub fn stdout(addr: SocketAddr) -> Self {
        Announce::new(move || {
            let mut out = io::stdout().lock();
            writeln!(out, "listening on {addr}")?;
            out.flush()
        })
    }

    pub fn say(self) -> io::Result<()> {
        (self.0)()
    }
}

impl fmt::Debug for Announce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Announce")
    }
}

impl Launch {
    /// What an event-loop model starts from: the listener, made non-blocking, the
    /// connection settings and the stop flag.
    pub fn into_event_loop(self) -> io::Result<(TcpListener, ConnOptions, Stop)> {
        self.listener.set_nonblocking(true)?;
        Ok((self.listener, self.conn, self.stop))
    }
}

/// How a model's work is organised, for `list` and the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Blocking I/O: one connection per process or thread at a time.
    Blocking,
    /// Readiness notification: one thread multiplexes many non-blocking sockets.
    Readiness,
    /// An async runtime drives futures over a readiness reactor.
    Async,
    /// Stackful coroutines that look blocking but yield on would-block.
    Coroutine,
    /// Completion-based I/O: operations are submitted and their results reaped.
    Completion,
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Family::Blocking => "blocking",
            Family::Readiness => "readiness",
            Family::Async => "async",
            Family::Coroutine => "coroutine",
            Family::Completion => "completion",
        })
    }
}

/// What `--workers` means for a model, and its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workers {
    /// A single thread of control; `--workers` is ignored.
    One,
    /// A fixed pool of this many processes or threads.
    Pool(usize),
    /// A pool as large as the machine has CPUs.
    Cpus,
    /// One process or thread per connection, at most this many at once.
    PerConnection { cap: usize },
}

/// What `--offload` may ask of a model: the ways its family has of carrying out the
/// work a request needs (`/cpu`, `/wait`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffloadUse {
    /// `0`: in the event loop, which a wait stalls; `N`: a pool of N threads per loop
    /// that hands each reply back to the loop. Without it, a wait is the loop's own
    /// timer and CPU work runs in the loop (the readiness loops and uring).
    LoopOrPool,
    /// `N` (at least 1): CPU work on the runtime's blocking pool, at most N threads;
    /// waits stay awaited timers, CPU work runs inline without it (async, async-mt).
    BlockingPool,
    /// None: each connection's own thread, process or coroutine carries out its work.
    /// Why, for the refusal.
    Never(&'static str),
}

/// Why `--offload` means nothing to the blocking family.
const OWN_THREAD: &str = "each connection's own thread or process carries out its work \
     (it burns the CPU and blocks through a wait itself): there is no loop to offload from";

impl OffloadUse {
    /// The blocking family's (blocking, fork, threads, prefork, prethread, threadpool).
    pub const OWN_THREAD: OffloadUse = OffloadUse::Never(OWN_THREAD);

    /// Refuses what the model cannot do: the one-line reason, if `offload` is that.
    pub fn check(self, offload: Offload) -> Result<(), String> {
        match (self, offload) {
            (_, Offload::Unset) | (OffloadUse::LoopOrPool, _) => Ok(()),
            (OffloadUse::BlockingPool, Offload::Pool(_)) => Ok(()),
            (OffloadUse::BlockingPool, Offload::Inline) => Err(
                "--offload 0 would block the runtime's thread through a wait, which an \
                 async model never does: waits are awaited timers, and CPU work already \
                 runs inline without --offload (N >= 1 sends it to spawn_blocking)"
                    .into(),
            ),
            (OffloadUse::Never(why), _) => Err(format!("--offload does not apply: {why}")),
        }
    }
}

/// A model's entry in the registry.
#[derive(Debug)]
pub struct ModelInfo {
    pub name: &'static str,
    pub family: Family,
    pub workers: Workers,
    /// The mechanism in a few words.
    pub mechanism: &'static str,
    /// Which seed article it comes from, or "beyond".
    pub origin: &'static str,
    /// The listener is bound with SO_REUSEPORT (models that bind one per thread).
    pub reuse_port: bool,
    /// The descriptors the model can serve at most, when it has a limit of its own
    /// (select(2)'s `fd_set` holds descriptors below FD_SETSIZE only): compare gives
    /// it no more idle connections than fit below it.
    pub descriptor_ceiling: Option<usize>,
    /// The model says `listening on` itself, once it is ready. Every model is ready
    /// once its listener is bound (the kernel queues connections until it accepts),
    /// except `coroutines`, whose accept loop waits for may's scheduler to start.
    pub announces_when_ready: bool,
    /// What `--offload` may ask of it.
    pub offload: OffloadUse,
    /// What the model needs from the system, checked before the server binds and
    /// announces itself: an error here refuses to start with a usage error (exit 2).
    pub precheck: Option<fn() -> io::Result<()>>,
    pub run: fn(Launch) -> io::Result<()>,
}

impl ModelInfo {
    /// The worker count used when `--workers` is not given.
    pub fn default_workers(&self) -> usize {
        match self.workers {
            Workers::One => 1,
            Workers::Pool(n) => n,
            Workers::Cpus => cpus(),
            Workers::PerConnection { cap } => cap,
        }
    }
}

/// The number of CPUs this process may run on.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Every model, in the order `list` and `compare` show them.
pub static MODELS: &[&ModelInfo] = &[
    &blocking::INFO,
    &select::INFO,
    &poll::INFO,
    &epoll::INFO,
    &epoll_et::INFO,
    &selector::INFO,
    &fork::INFO,
    &threads::INFO,
    &prefork::INFO,
    &prethread::INFO,
    &threadpool::INFO,
    &select_threads::INFO,
    &asyncio::INFO,
    &coroutines::INFO,
    &epoll_threads::INFO,
    &async_mt::INFO,
    &reuseport::INFO,
    &uring::INFO,
    &epoll_prefork::INFO,
];

/// The model with this name.
pub fn find(name: &str) -> Option<&'static ModelInfo> {
    MODELS.iter().copied().find(|m| m.name == name)
}

/// `iomodels list`: one line per model, its name first; under the table, where the FROM
/// column's seeds are described.
pub fn print_list(out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "{:<15} {:<11} {:<16} {:<62} FROM",
        "MODEL", "FAMILY", "WORKERS", "MECHANISM"
    )?;
    for m in MODELS {
        let workers = match m.workers {
            Workers::One => "1".to_string(),
            Workers::Pool(n) => n.to_string(),
            Workers::Cpus => format!("{} (cpus)", cpus()),
            Workers::PerConnection { cap } => format!("per conn<={cap}"),
        };
        writeln!(
            out,
            "{:<15} {:<11} {:<16} {:<62} {}",
            m.name, m.family, workers, m.mechanism, m.origin
        )?;
    }
    writeln!(
        out,
        "\nFROM: the seed tutorial a model comes from (seed 000 to 004: each one's title, \
         language and benchmark, and what this project does with it, are in docs/seeds.md); \
         beyond: a design that came after them."
    )?;
    Ok(())
}

/// A launch for a model's unit tests: an echo listener on a free loopback port, one
/// worker, and its stop flag.
#[cfg(test)]
pub(crate) fn test_launch(announce: Option<Announce>) -> (Launch, Stop) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let addr = listener.local_addr().expect("a bound listener's address");
    let stop = Stop::new();
    let launch = Launch {
        listener,
        addr,
        conn: ConnOptions {
            protocol: crate::protocol::Protocol::Echo,
            timeout: None,
            nodelay: false,
            cork: false,
            handlers: &crate::protocol::Handlers::DEFAULT,
            offload: crate::conn::Offload::Unset,
        },
        workers: 1,
        backlog: 16,
        stop: stop.clone(),
        announce,
    };
    (launch, stop)
}
