//! `uring`: io_uring, one ring per thread, N threads each with its own SO_REUSEPORT
//! listener (beyond the seeds).
//!
//! Completion-based: instead of asking which sockets are ready and then reading, the
//! thread keeps operations queued in the kernel and reaps their results. One multishot
//! accept per listener yields every new connection; one multishot receive per
//! connection yields its requests, each in a buffer the kernel takes from the thread's
//! provided-buffer ring (an idle connection owns none); replies are queued as sends
//! and submitted in a batch with the next wait, so a busy thread makes one system call
//! (io_uring_enter) per batch of requests rather than several per request.
//!
//! Each wait asks for as many requests as the last one brought, but never for more
//! than half the thread's connections, if they come within [`PATIENCE`] (Linux 6.12's
//! bounded batch wait; older kernels wake for each one): under load a thread wakes
//! once per batch, not once per request, and with a single client nothing waits at all
//! (see [`Batch`]).
//!
//! Each reactor gives the memory of finished connections back once their number has
//! fallen ([`IdleTrim`], looked at with the deadline sweep).
//!
//! Where io_uring is unavailable (an old kernel, `kernel.io_uring_disabled`, seccomp)
//! the model refuses at start-up with a clear error and exit code 2.

use std::io;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use slab::Slab;

use super::{Family, ModelInfo, Workers};
use super::{Server, Stop, STOP_POLL};
use crate::conn::accept::{self, AcceptError};
use crate::conn::completion::{SparePool, UringConn};
use crate::conn::ready::Sweeper;
use crate::conn::trim::IdleTrim;
use crate::conn::{reactors, ConnOptions};
use crate::sys::uring::{Completion, Ring};

pub static INFO: ModelInfo = ModelInfo {
    name: "uring",
    family: Family::Completion,
    workers: Workers::Cpus,
    mechanism: "io_uring: multishot accept and receive, provided buffers",
    origin: "beyond",
    reuse_port: true,
    descriptor_ceiling: None,
    announces_when_ready: false,
    precheck: Some(precheck),
    run,
};

/// Submission queue entries per ring.
const RING_ENTRIES: u32 = 4096;
/// Provided buffers per ring, and their size: received bytes wait here only until the
/// session has consumed them.
const BUFFERS: u16 = 512;
const BUFFER_LEN: usize = 4096;

/// How long a wait may hold the requests that have arrived while it waits for the rest
/// of its batch: the most latency batching adds to a request. Measured against 50 µs
/// (docs/results-log.md): under wrk with 100 connections, 2.5% less CPU per request and
/// the same p99; with 10, where the cap of [`Batch::want`] binds, more throughput and
/// a lower p99 than 50 µs without it.
pub const PATIENCE: Duration = Duration::from_micros(100);

/// How many requests (receive and accept completions) the next wait asks for: as many
/// as arrived last time. A batch that filled up with more to spare asks for more next
/// time (up to [`Batch::MAX`]); one that ran out of patience asks for what arrived.
/// With one client at a time it stays at one, and nobody waits for a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    want: usize,
}

impl Default for Batch {
    fn default() -> Self {
        Batch { want: 1 }
    }
}

impl Batch {
    /// The largest batch a wait asks for.
    pub const MAX: usize = 64;

    /// Requests to wait for next, on a thread serving `connections`: never more than
    /// half of them. A wait for nearly every connection would wait on clients that are
    /// themselves waiting for the replies it holds (10 wrk connections: 15% more
    /// throughput and a lower p99 with the cap than without).
    pub fn want(&self, connections: usize) -> usize {
        self.want.min((connections / 2).max(1))
    }

    /// Learns from a wait that brought `arrived` requests.
    pub fn arrived(&mut self, arrived: usize) {
        self.want = if arrived > self.want {
            arrived.min(self.want * 2).min(Self::MAX)
        } else {
            arrived.clamp(1, self.want)
        };
    }
}

/// Can this thread set up a ring with multishot accept and receive and a buffer ring?
fn precheck() -> io::Result<()> {
    Ring::new(8, 1, 64).map(drop).map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("io_uring is not available here ({err})"),
        )
    })
}

fn run(server: Server) -> io::Result<()> {
    let listeners = reactors::bind(server.listener, server.addr, server.backlog, server.workers)?;
    reactors::run(listeners, server.conn, &server.stop, reactor)
}

/// One ring serving the connections of `listener` until `stop` is set.
fn reactor(listener: TcpListener, opts: ConnOptions, stop: &Stop) -> io::Result<()> {
    let mut reactor = RingReactor::new(opts)?;
    while !stop.is_set() {
        reactor.turn(&listener)?;
    }
    // Dropping the reactor drops the ring first: it cancels what is in flight before
    // the sockets close.
    Ok(())
}

/// A ring and the connections it serves, with what its loop keeps between turns.
struct RingReactor {
    /// Declared first, so dropped first: it cancels what is in flight before the
    /// sockets in `conns` close.
    ring: Ring,
    conns: Slab<UringConn>,
    spares: SparePool,
    /// The connections a completion or the sweep touched this turn.
    touched: Vec<usize>,
    /// A multishot accept is armed.
    accepting: bool,
    pause: accept::Pause,
    sweeper: Sweeper,
    trim: IdleTrim,
    batch: Batch,
    opts: ConnOptions,
}

impl RingReactor {
    fn new(opts: ConnOptions) -> io::Result<Self> {
        Ok(RingReactor {
            ring: Ring::new(RING_ENTRIES, BUFFERS, BUFFER_LEN)?,
            conns: Slab::new(),
            spares: SparePool::default(),
            touched: Vec::new(),
            accepting: false,
            pause: accept::Pause::default(),
            sweeper: Sweeper::new(Instant::now()),
            trim: IdleTrim::new(),
            batch: Batch::default(),
            opts,
        })
    }

    /// One turn: arm the accept, submit what is queued and wait for a batch, handle
    /// what completed, sweep when due, and move every touched connection on.
    fn turn(&mut self, listener: &TcpListener) -> io::Result<()> {
        self.arm_accept(listener)?;
        let want = self.batch.want(self.conns.len());
        self.ring.submit_and_wait(want, PATIENCE, STOP_POLL)?;
        self.batch.arrived(self.ring.reap());
        let now = Instant::now();
        while let Some(completion) = self.ring.next_completion() {
            self.complete(completion, listener, now)?;
        }
        if self.sweeper.due(now) {
            for (key, conn) in self.conns.iter_mut() {
                conn.expire(now, &self.opts);
                self.touched.push(key);
            }
            self.trim.observe(self.conns.len());
        }
        self.advance_touched(now)
    }

    /// Arms a multishot accept unless one is armed or a resource limit paused it.
    fn arm_accept(&mut self, listener: &TcpListener) -> io::Result<()> {
        self.pause.resume_due(Instant::now());
        if !self.accepting && !self.pause.is_paused() {
            self.ring.accept_multi(listener)?;
            self.accepting = true;
        }
        Ok(())
    }

    /// Hands one completion to its connection (a new one for an accept).
    fn complete(
        &mut self,
        completion: Completion,
        listener: &TcpListener,
        now: Instant,
    ) -> io::Result<()> {
        match completion {
            Completion::Accepted { result, more } => {
                self.accepting = more;
                match result {
                    Ok(stream) => {
                        if let Ok(conn) = UringConn::new(stream, &self.opts, now) {
                            self.touched.push(self.conns.insert(conn));
                        }
                    }
                    Err(err) => {
                        if accept::classify(&err, listener) == AcceptError::Backoff {
                            self.pause.start(now);
                        }
                    }
                }
            }
            Completion::Received {
                conn: key,
                result,
                buf,
                more,
            } => self.received(key, result, buf, more, now),
            Completion::Sent {
                conn: key,
                result,
                buf,
            } => {
                let conn = self
                    .conns
                    .get_mut(key)
                    .expect("a send in flight keeps its connection");
                conn.on_sent(key, result, buf, &mut self.ring, &mut self.spares, now)?;
                self.touched.push(key);
            }
        }
        Ok(())
    }

    /// A receive completed for connection `key`: feed its bytes, give the buffer back,
    /// and note the end of input or of the multishot receive.
    fn received(
        &mut self,
        key: usize,
        result: io::Result<usize>,
        buf: Option<u16>,
        more: bool,
        now: Instant,
    ) {
        let conn = self
            .conns
            .get_mut(key)
            .expect("a receive in flight keeps its connection");
        if let (Some(buf), Ok(n)) = (buf, &result) {
            conn.absorb(self.ring.buffer(buf, *n), &self.opts, &mut self.spares, now);
        }
        if let Some(buf) = buf {
            self.ring.recycle(buf);
        }
        if matches!(result, Ok(0)) {
            conn.on_eof();
        }
        if !more {
            let fatal = result.as_ref().is_err_and(|err| {
                !matches!(err.raw_os_error(), Some(libc::ENOBUFS | libc::ECANCELED))
            });
            conn.on_recv_ended(fatal);
        }
        self.touched.push(key);
    }

    /// Moves every touched connection on (sends, receive armed or cancelled), and
    /// drops those that are done.
    fn advance_touched(&mut self, now: Instant) -> io::Result<()> {
        for key in self.touched.drain(..) {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            conn.advance(key, &mut self.ring, &self.opts, &mut self.spares, now)?;
            if conn.can_drop() {
                self.ring.forget(key);
                drop(self.conns.remove(key));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Batch;

    fn after(arrivals: &[usize]) -> Vec<usize> {
        let mut batch = Batch::default();
        arrivals
            .iter()
            .map(|&n| {
                batch.arrived(n);
                batch.want(1000)
            })
            .collect()
    }

    #[test]
    fn one_client_never_waits_for_a_batch() {
        assert_eq!(after(&[1, 1, 1, 0, 1]), [1, 1, 1, 1, 1]);
    }

    #[test]
    fn a_queue_grows_the_batch_at_most_twofold_per_wait_up_to_the_cap() {
        assert_eq!(after(&[5, 9, 30, 100, 100]), [2, 4, 8, 16, 32]);
        assert_eq!(after(&[100; 8]).last(), Some(&Batch::MAX));
    }

    #[test]
    fn a_wait_asks_for_at_most_half_the_connections() {
        let mut batch = Batch::default();
        for _ in 0..8 {
            batch.arrived(100);
        }
        assert_eq!(batch.want(1000), Batch::MAX);
        assert_eq!(batch.want(10), 5);
        assert_eq!(batch.want(1), 1);
        assert_eq!(batch.want(0), 1);
    }

    #[test]
    fn a_batch_that_ran_out_of_patience_asks_for_what_came() {
        assert_eq!(after(&[8, 8, 8, 3]), [2, 4, 8, 3]);
    }
}
