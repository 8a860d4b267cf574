//! `epoll-prefork`: nginx's design. A master process pre-forks N worker processes, each
//! an epoll reactor with a SO_REUSEPORT listener of its own (beyond the seeds).
//!
//! Each worker is the `epoll` model's loop ([`crate::conn::epoll::reactor`]) in a
//! process of its own, so it has a descriptor table of its own: N workers hold N times
//! the per-process descriptor limit, which is how this model reaches C100K where one
//! process stops at its limit.
//!
//! How the workers share the port: a listener each, bound with SO_REUSEPORT, rather than
//! one listener that every worker watches with EPOLLEXCLUSIVE. The kernel spreads
//! connections over SO_REUSEPORT listeners by a hash of their addresses, so each worker
//! gets an even share, under a process's descriptor limit. EPOLLEXCLUSIVE wakes one
//! waiter, not a chosen one: a busy worker keeps winning, and nothing keeps its share
//! under its descriptor limit (what 8 workers held at 100,000 connections, both ways:
//! docs/results.md, *C100K on 2 cores*). nginx offers both (`listen ... reuseport` and
//! `accept_mutex`/EPOLLEXCLUSIVE).
//!
//! The master binds every listener before it forks, and keeps them all, so a worker
//! that dies is replaced by one that serves the same listener and no queued connection
//! is lost ([`crate::conn::preforked`], which says on stderr which worker died, of what,
//! and that it was replaced). On SIGTERM the master terminates and reaps its workers within
//! [`CHILD_GRACE`].
//!
//! Without `--offload`, each worker keeps its waits as timers folded into its
//! epoll_wait timeout and burns `/cpu` itself: no thread, and the workers already use
//! every core. `--offload N` gives each worker a pool of N threads, started in the
//! worker after the fork (threads do not survive one). Queries go down each worker's
//! own pipelined PostgreSQL connection, opened after the fork too.

use std::io;
use std::net::TcpListener;

use super::{Family, ModelInfo, OffloadUse, Workers};
use super::{Launch, Stop, CHILD_GRACE};
use crate::conn::{epoll, preforked, reactors, ConnOptions};
use crate::sys;

pub static INFO: ModelInfo = ModelInfo {
    name: "epoll-prefork",
    family: Family::Readiness,
    workers: Workers::Cpus,
    mechanism: "master + N pre-forked epoll workers, a SO_REUSEPORT listener each",
    origin: "beyond",
    reuse_port: true,
    descriptor_ceiling: None,
    announces_when_ready: false,
    offload: OffloadUse::LoopOrPool,
    precheck: None,
    run,
};

fn run(launch: Launch) -> io::Result<()> {
    let listeners = reactors::bind(launch.listener, launch.addr, launch.backlog, launch.workers)?;
    // Worker i serves listener i: a dead worker's replacement serves the same one.
    preforked::supervise(
        INFO.name,
        listeners.len(),
        &launch.stop,
        CHILD_GRACE,
        |index| worker(&listeners[index], launch.conn),
    )
}

/// A worker's life: the epoll reactor on its listener until SIGTERM kills it (its copy
/// of the stop flag is never set). A reactor that fails ends the worker, and the master
/// starts another.
fn worker(listener: &TcpListener, opts: ConnOptions) -> ! {
    let served = listener
        .try_clone()
        .and_then(|listener| epoll::reactor(listener, opts, &Stop::new()));
    match served {
        Ok(()) => sys::process::exit_child(0),
        Err(err) => {
            eprintln!("epoll-prefork worker {}: {err}", std::process::id());
            sys::process::exit_child(1)
        }
    }
}
