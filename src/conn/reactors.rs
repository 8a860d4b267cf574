//! N reactors, a thread each, each with its own SO_REUSEPORT listener on the same
//! address (reuseport's epoll reactors, uring's rings): the kernel spreads incoming
//! connections over the listeners, and the reactors share nothing.
//!
//! Every listener is bound before any thread starts, so a port that cannot be shared
//! is reported at start-up.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::thread;

use super::ConnOptions;
use crate::sys;
use crate::sys::signal::Stop;

/// A reactor: serves the connections of its own listener until stopped.
pub type Reactor = fn(TcpListener, ConnOptions, &Stop) -> io::Result<()>;

/// `count` listeners on `addr`: `first`, the one `serve` bound with SO_REUSEPORT, and
/// `count - 1` more bound the same way. `addr` must hold the real port, so that port 0
/// gives every reactor the same one.
pub fn bind(
    first: TcpListener,
    addr: SocketAddr,
    backlog: u32,
    count: usize,
) -> io::Result<Vec<TcpListener>> {
    let mut listeners = vec![first];
    for _ in 1..count.max(1) {
        listeners.push(sys::listener::bind(addr, backlog, true)?);
    }
    Ok(listeners)
}

/// Runs `reactor` on every listener, a thread each, until `stop` is set; if one
/// reactor fails (or panics), the others are stopped and the first error is returned.
pub fn run(
    listeners: Vec<TcpListener>,
    opts: ConnOptions,
    stop: &Stop,
    reactor: Reactor,
) -> io::Result<()> {
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
