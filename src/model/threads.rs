//! `threads`: a thread per connection (seeds 000, 002).
//!
//! The main thread accepts; each connection gets a new thread that serves it with
//! blocking I/O and exits. Simple and fair, but every connection costs a stack and
//! the scheduler a context switch per wake-up. At most `--workers` connections are
//! served at once; beyond that, new connections wait in the listen backlog. The
//! accept loop, which wakes at least every [`STOP_POLL`](super::STOP_POLL), gives the
//! memory of finished connections back once their number has fallen ([`IdleTrim`]).

use std::io;

use super::Launch;
use super::{Family, ModelInfo, OffloadUse, Workers};
use crate::conn::trim::{IdleTrim, LiveCount};
use crate::conn::{self, accept::Acceptor};
use crate::log::RateLimited;
use crate::sys;

pub static INFO: ModelInfo = ModelInfo {
    name: "threads",
    family: Family::Blocking,
    workers: Workers::PerConnection { cap: 4096 },
    mechanism: "a new thread per connection, blocking I/O",
    origin: "seed 000, 002",
    reuse_port: false,
    descriptor_ceiling: None,
    announces_when_ready: false,
    offload: OffloadUse::OWN_THREAD,
    precheck: None,
    run,
};

/// A per-connection thread's stack. The connection loop keeps its buffers on the heap
/// and touches a few pages of it; the rest is address space, never memory. It is not
/// smaller because glibc keeps the stacks of exited threads for reuse, up to 40 MiB of
/// them (the `glibc.pthread.stack_cache_size` tunable), each with its top pages still
/// resident: the smaller the stacks, the more of them the cache keeps, and the more
/// memory stays resident after a burst of connections (docs/results.md, *What a held
/// connection costs in memory*, has both sizes measured).
pub(crate) const CONN_THREAD_STACK: usize = 256 * 1024;

static SPAWN_FAILED: RateLimited = RateLimited::new();

fn run(launch: Launch) -> io::Result<()> {
    // At most as many threads run at once as there are CPUs, so as many arenas keep
    // contention low; glibc's default (8 per CPU) would leave the top of each (up to
    // 128 KiB) resident after a burst, 2 MiB on two CPUs.
    sys::malloc::limit_arenas(super::cpus());
    let acceptor = Acceptor::new(launch.listener, launch.stop)?;
    let live = LiveCount::new();
    let mut trim = IdleTrim::new();
    let mut has_room = || {
        let serving = live.count();
        trim.observe(serving);
        serving < launch.workers
    };
    while let Some(stream) = acceptor.accept_below_cap(&mut has_room) {
        let opts = launch.conn;
        let guard = live.enter();
        let spawned = std::thread::Builder::new()
            .name("conn".into())
            .stack_size(CONN_THREAD_STACK)
            .spawn(move || {
                let _guard = guard;
                conn::blocking::serve(stream, &opts, None);
            });
        if let Err(err) = spawned {
            SPAWN_FAILED.warn(format_args!(
                "cannot start a connection thread: {err}; connection closed"
            ));
        }
    }
    Ok(())
}
