//! `prefork`: N processes forked up front, taking turns at accept(2) under a file lock
//! (seeds 000, 001).
//!
//! Each child loops: take the lock, accept one connection, release the lock, serve the
//! connection. The lock is seed 000's: it serialises accept so that one child, not all
//! of them, wakes for each connection (the thundering herd old kernels had). The parent
//! only supervises ([`crate::conn::preforked`]): it replaces a child that dies, saying
//! so on stderr, and on stop terminates and reaps them all.

use std::io;

use super::{Family, ModelInfo, OffloadUse, Workers};
use super::{Launch, CHILD_GRACE};
use crate::conn::{self, accept::Acceptor, preforked, ConnOptions};
use crate::sys;
use crate::sys::lockfile::AcceptLock;

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

fn run(launch: Launch) -> io::Result<()> {
    let acceptor = Acceptor::new(launch.listener, launch.stop.clone())?;
    let lock = AcceptLock::new()?;
    preforked::supervise(INFO.name, launch.workers, &launch.stop, CHILD_GRACE, |_| {
        child(&acceptor, &lock, &launch.conn)
    })
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
