//! `reuseport`: N epoll reactors, a thread each, each with its own SO_REUSEPORT
//! listener on the same address (beyond the seeds: nginx's `reuseport`, the fastest
//! TechEmpower entries).
//!
//! The kernel spreads incoming connections over the listeners by a hash of the
//! connection's addresses, so the reactors share nothing: no accept lock, no queue, no
//! thundering herd, no connection ever moving between threads. Each reactor is exactly
//! the `epoll` model's loop ([`super::epoll::reactor`]).
//!
//! Every listener is bound before any thread starts, so a port that cannot be shared
//! is reported at start-up; if one reactor fails, the others are stopped and the error
//! is returned.

use std::io;
use std::net::TcpListener;
use std::thread;

use super::{epoll, Family, ModelInfo, Workers};
use super::{Server, Stop};
use crate::conn::ConnOptions;
use crate::sys;

pub static INFO: ModelInfo = ModelInfo {
    name: "reuseport",
    family: Family::Readiness,
    workers: Workers::Cpus,
    mechanism: "N epoll reactors, each its own SO_REUSEPORT listener",
    origin: "beyond",
    reuse_port: true,
    precheck: None,
    run,
};

fn run(server: Server) -> io::Result<()> {
    run_reactors(server, epoll::reactor)
}

/// A reactor: serves the connections of its own listener until stopped.
pub(super) type Reactor = fn(TcpListener, ConnOptions, &Stop) -> io::Result<()>;

/// Runs `server.workers` reactors, a thread each, each with its own SO_REUSEPORT
/// listener on `server.addr` (the first is the one `serve` bound).
pub(super) fn run_reactors(server: Server, reactor: Reactor) -> io::Result<()> {
    let mut listeners = vec![server.listener];
    for _ in 1..server.workers.max(1) {
        // `server.addr` holds the real port, so port 0 gives every reactor the same one.
        listeners.push(sys::listener::bind(server.addr, server.backlog, true)?);
    }
    let (opts, stop) = (server.conn, &server.stop);
    thread::scope(|scope| {
        let reactors: Vec<_> = listeners
            .into_iter()
            .enumerate()
            .map(|(i, listener)| {
                thread::Builder::new()
                    .name(format!("reactor-{i}"))
                    .spawn_scoped(scope, move || {
                        let result = reactor(listener, opts, stop);
                        if result.is_err() {
                            stop.set();
                        }
                        result
                    })
            })
            .collect();
        let mut outcome = Ok(());
        for reactor in reactors {
            let result = match reactor {
                Ok(handle) => handle.join().unwrap_or_else(|_| {
                    stop.set();
                    Err(io::Error::other("a reactor thread panicked"))
                }),
                Err(err) => {
                    stop.set();
                    Err(err)
                }
            };
            if outcome.is_ok() {
                outcome = result;
            }
        }
        outcome
    })
}
