//! `threads`: a thread per connection (seeds 000, 002).
//!
//! The main thread accepts; each connection gets a new thread that serves it with
//! blocking I/O and exits. Simple and fair, but every connection costs a stack and
//! the scheduler a context switch per wake-up. At most `--workers` connections are
//! served at once; beyond that, new connections wait in the listen backlog.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{Family, ModelInfo, Workers};
use crate::conn::{self, accept::AcceptError};
use crate::log::RateLimited;
use crate::server::{Server, STOP_POLL};
use crate::sys;

pub static INFO: ModelInfo = ModelInfo {
    name: "threads",
    family: Family::Blocking,
    workers: Workers::PerConnection { cap: 4096 },
    mechanism: "a new thread per connection, blocking I/O",
    origin: "seed 000, 002",
    reuse_port: false,
    precheck: None,
    run,
};

/// Per-connection threads need little stack: the connection loop keeps its buffers
/// on the heap.
pub(crate) const CONN_THREAD_STACK: usize = 64 * 1024;

static SPAWN_FAILED: RateLimited = RateLimited::new();

fn run(server: Server) -> io::Result<()> {
    sys::listener::set_accept_timeout(&server.listener, STOP_POLL)?;
    let live = Arc::new(AtomicUsize::new(0));
    while !server.stop.is_set() {
        if live.load(Ordering::Acquire) >= server.workers {
            // At the cap: leave new connections in the backlog until one finishes.
            std::thread::sleep(std::time::Duration::from_millis(1));
            continue;
        }
        let stream = match server.listener.accept() {
            Ok((stream, _)) => stream,
            Err(err) => {
                if conn::accept::classify(&err) == AcceptError::Backoff {
                    std::thread::sleep(conn::accept::BACKOFF);
                }
                continue;
            }
        };
        let opts = server.conn;
        let guard = LiveGuard::enter(&live);
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

/// Counts a live connection thread; the count drops when the guard does.
struct LiveGuard(Arc<AtomicUsize>);

impl LiveGuard {
    fn enter(live: &Arc<AtomicUsize>) -> Self {
        live.fetch_add(1, Ordering::AcqRel);
        LiveGuard(Arc::clone(live))
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
