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
/// (docs/results.md): under wrk with 100 connections, 2.5% less CPU per request and
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
    let mut ring = Ring::new(RING_ENTRIES, BUFFERS, BUFFER_LEN)?;
    let mut conns: Slab<UringConn> = Slab::new();
    let mut spares = SparePool::default();
    let mut touched = Vec::new();
    let mut accepting = false;
    let mut pause = accept::Pause::default();
    let mut sweeper = Sweeper::new(Instant::now());
    let mut trim = IdleTrim::new();
    let mut batch = Batch::default();
    while !stop.is_set() {
        let now = Instant::now();
        pause.resume_due(now);
        if !accepting && !pause.is_paused() {
            ring.accept_multi(&listener)?;
            accepting = true;
        }
        ring.submit_and_wait(batch.want(conns.len()), PATIENCE, STOP_POLL)?;
        batch.arrived(ring.reap());
        let now = Instant::now();
        while let Some(completion) = ring.next_completion() {
            match completion {
                Completion::Accepted { result, more } => {
                    accepting = more;
                    match result {
                        Ok(stream) => {
                            if let Ok(conn) = UringConn::new(stream, &opts, now) {
                                touched.push(conns.insert(conn));
                            }
                        }
                        Err(err) => {
                            if accept::classify(&err) == AcceptError::Backoff {
                                pause.start(now);
                            }
                        }
                    }
                }
                Completion::Received {
                    conn: key,
                    result,
                    buf,
                    more,
                } => {
                    let conn = conns
                        .get_mut(key)
                        .expect("a receive in flight keeps its connection");
                    if let (Some(buf), Ok(n)) = (buf, &result) {
                        conn.absorb(ring.buffer(buf, *n), &opts, &mut spares, now);
                    }
                    if let Some(buf) = buf {
                        ring.recycle(buf);
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
                    touched.push(key);
                }
                Completion::Sent {
                    conn: key,
                    result,
                    buf,
                } => {
                    let conn = conns
                        .get_mut(key)
                        .expect("a send in flight keeps its connection");
                    conn.on_sent(key, result, buf, &mut ring, &mut spares, now)?;
                    touched.push(key);
                }
            }
        }
        if sweeper.due(now) {
            for (key, conn) in conns.iter_mut() {
                conn.expire(now, &opts);
                touched.push(key);
            }
            trim.observe(conns.len());
        }
        for key in touched.drain(..) {
            let Some(conn) = conns.get_mut(key) else {
                continue;
            };
            conn.advance(key, &mut ring, &opts, &mut spares, now)?;
            if conn.can_drop() {
                ring.forget(key);
                drop(conns.remove(key));
            }
        }
    }
    // The ring first: it cancels what is in flight before the sockets close.
    drop(ring);
    Ok(())
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
