//! `threadpool`: one acceptor, a bounded queue, N worker threads (seed 001).
//!
//! The main thread accepts and puts each connection on a queue; N workers take
//! connections off it and serve each to its end with blocking I/O. The queue is
//! bounded: when every worker is busy and the queue is full, the acceptor stops
//! accepting, so waiting clients stay in the kernel's listen backlog instead of
//! costing the server memory and descriptors.
//!
//! The default of 8 workers is seed 001's `processors = 8`: a blocking worker spends
//! most of its time waiting on a client, so the pool is sized by how many clients may
//! be served at once, not by CPUs.

use std::io;
use std::net::TcpStream;

use crossbeam_channel::{Receiver, SendTimeoutError};

use super::pool::spawn_workers;
use super::{Family, ModelInfo, Workers};
use super::{Server, STOP_POLL};
use crate::conn::{self, accept::AcceptError, ConnOptions};
use crate::sys;

pub static INFO: ModelInfo = ModelInfo {
    name: "threadpool",
    family: Family::Blocking,
    workers: Workers::Pool(8),
    mechanism: "one acceptor thread, a bounded queue, N worker threads",
    origin: "seed 001",
    reuse_port: false,
    precheck: None,
    run,
};

fn run(server: Server) -> io::Result<()> {
    sys::listener::set_accept_timeout(&server.listener, STOP_POLL)?;
    // One connection waiting per worker: enough that a worker finishing a client finds
    // the next one ready, small enough that the backlog, not the queue, holds the rest.
    let (queue, taken) = crossbeam_channel::bounded::<TcpStream>(server.workers);
    let opts = server.conn;
    spawn_workers(server.workers, "pool", move || worker(&taken, &opts))?;
    while !server.stop.is_set() {
        let mut stream = match server.listener.accept() {
            Ok((stream, _)) => stream,
            Err(err) => {
                if conn::accept::classify(&err) == AcceptError::Backoff {
                    std::thread::sleep(conn::accept::BACKOFF);
                }
                continue;
            }
        };
        // Queue full: wait for a worker, waking to check the stop flag.
        loop {
            match queue.send_timeout(stream, STOP_POLL) {
                Ok(()) => break,
                Err(SendTimeoutError::Timeout(_)) if server.stop.is_set() => return Ok(()),
                Err(SendTimeoutError::Timeout(back)) => stream = back,
                Err(SendTimeoutError::Disconnected(_)) => {
                    return Err(io::Error::other("every worker thread has exited"))
                }
            }
        }
    }
    Ok(())
}

/// A worker's life: take a connection, serve it, repeat until the queue closes.
fn worker(taken: &Receiver<TcpStream>, opts: &ConnOptions) {
    for stream in taken.iter() {
        conn::blocking::serve(stream, opts, None);
    }
}
