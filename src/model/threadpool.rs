//! `threadpool`: one acceptor, a bounded queue, N worker threads (seed 001).
//!
//! The main thread accepts and puts each connection on a queue; N workers take
//! connections off it and serve each to its end with blocking I/O. The queue is
//! bounded: when every worker is busy and the queue is full, the acceptor stops
//! accepting, so waiting clients stay in the kernel's listen backlog instead of
//! costing the server memory and descriptors.
//!
//! A worker whose connection panicked has exited: the acceptor starts another in its
//! place, as `prethread` and `prefork` do, so the pool keeps serving at its size.
//!
//! The default of 8 workers is seed 001's `processors = 8`: a blocking worker spends
//! most of its time waiting on a client, so the pool is sized by how many clients may
//! be served at once, not by CPUs.

use std::io;
use std::net::TcpStream;

use crossbeam_channel::{Receiver, SendTimeoutError, Sender};

use super::pool::Pool;
use super::{Family, ModelInfo, OffloadUse, Workers};
use super::{Launch, Stop, STOP_POLL};
use crate::conn::{self, accept::Acceptor, ConnOptions};

pub static INFO: ModelInfo = ModelInfo {
    name: "threadpool",
    family: Family::Blocking,
    workers: Workers::Pool(8),
    mechanism: "one acceptor thread, a bounded queue, N worker threads",
    origin: "seed 001",
    reuse_port: false,
    descriptor_ceiling: None,
    announces_when_ready: false,
    offload: OffloadUse::OWN_THREAD,
    precheck: None,
    run,
};

/// What a worker does with a connection.
type Work = fn(TcpStream, &ConnOptions);

fn run(launch: Launch) -> io::Result<()> {
    serve_with(launch, |stream, opts| {
        conn::blocking::serve(stream, opts, None)
    })
}

/// The pool, its workers doing `work` with each connection.
fn serve_with(launch: Launch, work: Work) -> io::Result<()> {
    let acceptor = Acceptor::new(launch.listener, launch.stop.clone())?;
    // One connection waiting per worker: enough that a worker finishing a client finds
    // the next one ready, small enough that the backlog, not the queue, holds the rest.
    let (queue, taken) = crossbeam_channel::bounded::<TcpStream>(launch.workers);
    let opts = launch.conn;
    let mut pool = Pool::start(launch.workers, "pool", move || worker(&taken, &opts, work))?;
    let mut replace = || {
        pool.replace_exited();
    };
    while let Some(stream) = acceptor.accept_tending(&mut replace) {
        hand_over(&queue, stream, &launch.stop, &mut replace)?;
    }
    Ok(())
}

/// Puts a connection on the queue; while it is full, waits for a worker, waking to
/// check the stop flag (a connection still waiting then is closed) and to `replace`
/// workers that exited.
fn hand_over(
    queue: &Sender<TcpStream>,
    mut stream: TcpStream,
    stop: &Stop,
    replace: &mut impl FnMut(),
) -> io::Result<()> {
    loop {
        match queue.send_timeout(stream, STOP_POLL) {
            Ok(()) => return Ok(()),
            Err(SendTimeoutError::Timeout(_)) if stop.is_set() => return Ok(()),
            Err(SendTimeoutError::Timeout(back)) => {
                replace();
                stream = back;
            }
            Err(SendTimeoutError::Disconnected(_)) => {
                return Err(io::Error::other("every worker thread has exited"))
            }
        }
    }
}

/// A worker's life: take a connection, serve it, repeat until the queue closes.
fn worker(taken: &Receiver<TcpStream>, opts: &ConnOptions, work: Work) {
    for stream in taken.iter() {
        work(stream, opts);
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    static TAKEN: AtomicUsize = AtomicUsize::new(0);

    /// The first connection's work panics, and so ends its worker; the others get `ok`.
    fn first_panics(mut stream: TcpStream, _: &ConnOptions) {
        if TAKEN.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("the first connection's work fails");
        }
        let _ = stream.write_all(b"ok");
    }

    #[test]
    fn a_worker_that_dies_is_replaced() {
        let (launch, stop) = crate::model::test_launch(None);
        let addr = launch.addr;
        let pool = std::thread::spawn(move || serve_with(launch, first_panics));
        let reply = || {
            let mut client = TcpStream::connect(addr).unwrap();
            client
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut got = Vec::new();
            client.read_to_end(&mut got).map(|_| got)
        };
        assert_eq!(
            reply().unwrap(),
            b"",
            "the only worker died on the first client"
        );
        assert_eq!(reply().unwrap(), b"ok", "another worker took its place");
        stop.set();
        pool.join().unwrap().unwrap();
    }
}
