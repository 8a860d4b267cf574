//! `prethread`: N threads started up front, taking turns at accept(2) under a mutex
//! (seed 000).
//!
//! The thread analogue of `prefork`: each thread loops: take the lock, accept one
//! connection, release the lock, serve the connection to its end. The mutex is seed
//! 000's `LOCK.acquire(); accept(); LOCK.release()`: one thread, not all of them, waits
//! in accept at a time. With N threads at most N clients are served at once; the rest
//! wait in the listen backlog, and a keep-alive client holds its thread until it goes
//! quiet for the idle timeout. The main thread only supervises: it replaces a worker
//! that dies (a panic), as prefork's parent replaces a child process.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use super::pool::Pool;
use super::{Family, ModelInfo, OffloadUse, Workers};
use super::{Launch, STOP_POLL};
use crate::conn::{self, accept::Acceptor, ConnOptions};

pub static INFO: ModelInfo = ModelInfo {
    name: "prethread",
    family: Family::Blocking,
    workers: Workers::Pool(10),
    mechanism: "N pre-spawned threads, accept serialised by a mutex",
    origin: "seed 000",
    reuse_port: false,
    descriptor_ceiling: None,
    announces_when_ready: false,
    offload: OffloadUse::OWN_THREAD,
    precheck: None,
    run,
};

/// What every worker thread shares.
struct Shared {
    acceptor: Acceptor,
    /// Held around accept(2): the seed's `LOCK`.
    accept_lock: Mutex<()>,
    opts: ConnOptions,
}

fn run(launch: Launch) -> io::Result<()> {
    // The accept timeout lets the thread holding the lock wake to check the stop flag;
    // the others wait on the mutex, which it releases at least every STOP_POLL.
    let shared = Arc::new(Shared {
        acceptor: Acceptor::new(launch.listener, launch.stop.clone())?,
        accept_lock: Mutex::new(()),
        opts: launch.conn,
    });
    let mut pool = Pool::start(launch.workers, "prethread", move || worker(&shared))?;
    while !launch.stop.is_set() {
        pool.replace_exited();
        std::thread::sleep(STOP_POLL);
    }
    Ok(())
}

/// A worker's life: accept under the lock, serve, repeat, until stop.
fn worker(shared: &Shared) {
    // A poisoned lock guards no data: a panic elsewhere does not stop accepting.
    let take_turn = || {
        shared
            .accept_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    };
    while let Some(stream) = shared.acceptor.accept_in_turn(take_turn) {
        conn::blocking::serve(stream, &shared.opts, None);
    }
}
