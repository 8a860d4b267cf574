//! `prefork`: N processes forked up front, taking turns at accept(2) under a file lock
//! (seeds 000, 001).
//!
//! Each child loops: take the lock, accept one connection, release the lock, serve the
//! connection. The lock is seed 000's: it serialises accept so that one child, not all
//! of them, wakes for each connection (the thundering herd old kernels had). The parent
//! only supervises: it replaces a child that dies, and on stop terminates and reaps
//! them all.

use std::io;

use super::{Family, ModelInfo, OffloadUse, Workers};
use super::{Server, CHILD_GRACE, STOP_POLL};
use crate::conn::{self, accept::Acceptor, ConnOptions};
use crate::sys;
use crate::sys::lockfile::AcceptLock;
use crate::sys::process::{Children, Forked};

pub static INFO: ModelInfo = ModelInfo {
    name: "prefork",
    family: Family::Blocking,
    workers: Workers::Pool(10),
    mechanism: "N pre-forked processes, accept serialised by a file lock",
    origin: "seed 000, 001",
    reuse_port: false,
    descriptor_ceiling: None,
    announces_when_ready: false,
    offload: OffloadUse::OWN_THREAD,
    precheck: None,
    run,
};

fn run(server: Server) -> io::Result<()> {
    let acceptor = Acceptor::new(server.listener, server.stop.clone())?;
    let lock = AcceptLock::new()?;
    let mut children = Children::new();
    while !server.stop.is_set() {
        children.reap();
        while children.len() < server.workers && !server.stop.is_set() {
            match sys::process::fork()? {
                Forked::Child => child(&acceptor, &lock, &server.conn),
                Forked::Parent { child } => children.add(child),
            }
        }
        std::thread::sleep(STOP_POLL);
    }
    children.stop_all(CHILD_GRACE);
    Ok(())
}

/// A child's life: accept under the lock, serve, repeat, until SIGTERM kills it (its
/// copy of the stop flag is never set). A child that cannot take the lock exits, and
/// the parent starts another.
fn child(acceptor: &Acceptor, lock: &AcceptLock, opts: &ConnOptions) -> ! {
    let take_turn = || lock.hold().unwrap_or_else(|_| sys::process::exit_child(1));
    while let Some(stream) = acceptor.accept_in_turn(take_turn) {
        conn::blocking::serve(stream, opts, None);
    }
    sys::process::exit_child(0)
}
