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
//! gets an even share: at 100,000 connections and 8 workers about 12,500 each, well
//! under a process's 20,000 descriptors. EPOLLEXCLUSIVE wakes one waiter, not a chosen
//! one: a busy worker keeps winning, and nothing keeps its share under its descriptor
//! limit. nginx offers both (`listen ... reuseport` and `accept_mutex`/EPOLLEXCLUSIVE).
//!
//! The master binds every listener before it forks, and keeps them all, so a worker
//! that dies is replaced by one that serves the same listener and no queued connection
//! is lost. On SIGTERM the master terminates and reaps its workers within
//! [`CHILD_GRACE`].

use std::io;
use std::net::TcpListener;

use nix::unistd::Pid;

use super::{Family, ModelInfo, OffloadUse, Workers};
use super::{Server, Stop, CHILD_GRACE, STOP_POLL};
use crate::conn::{epoll, reactors, ConnOptions};
use crate::sys;
use crate::sys::process::{Children, Forked};

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

fn run(server: Server) -> io::Result<()> {
    let listeners = reactors::bind(server.listener, server.addr, server.backlog, server.workers)?;
    // Which worker serves which listener: a dead worker's slot is forked again.
    let mut slots: Vec<Option<Pid>> = vec![None; listeners.len()];
    let mut children = Children::new();
    while !server.stop.is_set() {
        children.reap();
        for (slot, listener) in slots.iter_mut().zip(&listeners) {
            if slot.is_some_and(|pid| children.contains(pid)) || server.stop.is_set() {
                continue;
            }
            match sys::process::fork()? {
                Forked::Child => worker(listener, server.conn),
                Forked::Parent { child } => {
                    children.add(child);
                    *slot = Some(child);
                }
            }
        }
        std::thread::sleep(STOP_POLL);
    }
    children.stop_all(CHILD_GRACE);
    Ok(())
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
