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

use crossbeam_channel::{Receiver, SendTimeoutError, Sender};

use super::pool::Pool;
use super::{Family, ModelInfo, Workers};
use super::{Server, Stop, STOP_POLL};
use crate::conn::{self, accept::Acceptor, ConnOptions};

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
    let acceptor = Acceptor::new(server.listener, server.stop.clone())?;
    // One connection waiting per worker: enough that a worker finishing a client finds
    // the next one ready, small enough that the backlog, not the queue, holds the rest.
    let (queue, taken) = crossbeam_channel::bounded::<TcpStream>(server.workers);
    let opts = server.conn;
    let _pool = Pool::start(server.workers, "pool", move || worker(&taken, &opts))?;
    while let Some(stream) = acceptor.accept() {
        hand_over(&queue, stream, &server.stop)?;
    }
    Ok(())
}

/// Puts a connection on the queue; while it is full, waits for a worker, waking to
/// check the stop flag (a connection still waiting then is closed).
fn hand_over(queue: &Sender<TcpStream>, mut stream: TcpStream, stop: &Stop) -> io::Result<()> {
    loop {
        match queue.send_timeout(stream, STOP_POLL) {
            Ok(()) => return Ok(()),
            Err(SendTimeoutError::Timeout(_)) if stop.is_set() => return Ok(()),
            Err(SendTimeoutError::Timeout(back)) => stream = back,
            Err(SendTimeoutError::Disconnected(_)) => {
                return Err(io::Error::other("every worker thread has exited"))
            }
        }
    }
}

/// A worker's life: take a connection, serve it, repeat until the queue closes.
fn worker(taken: &Receiver<TcpStream>, opts: &ConnOptions) {
    for stream in taken.iter() {
        conn::blocking::serve(stream, opts, None);
    }
}
