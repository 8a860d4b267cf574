//! `uring`: io_uring, one ring on one thread by default, the completion family's
//! counterpart of `epoll`; `--workers N` runs N threads, each with its own ring and
//! SO_REUSEPORT listener (beyond the seeds).
//!
//! One ring is the default because a second one costs more than it gives wherever the
//! load generator shares the machine: with 10 clients on 2 CPUs the second thread
//! sleeps and is woken for nearly every request (docs/results.md, *What io_uring
//! costs, and why one ring that never waits for a batch*), as every multi-threaded
//! model's threads are.
//!
//! Completion-based: instead of asking which sockets are ready and then reading, the
//! thread keeps operations queued in the kernel and reaps their results. One multishot
//! accept per listener yields every new connection; one multishot receive per
//! connection yields its requests, each in a buffer the kernel takes from the thread's
//! provided-buffer ring (an idle connection owns none); replies are queued as sends
//! and submitted in a batch with the next wait, so a busy thread makes one system call
//! (io_uring_enter) per batch of requests rather than several per request.
//!
//! A wait returns as soon as one completion is there, never holding requests back for
//! a batch to form: a busy thread finds a batch queued anyway, and one with few clients
//! answers them at once ([`Ring::submit_and_wait`]).
//!
//! Each reactor gives the memory of finished connections back once their number has
//! fallen ([`IdleTrim`], looked at with the deadline sweep).
//!
//! Work: without `--offload`, a wait is an io_uring timeout operation of the ring,
//! one per wait, whose completion comes back with the others: the ring's own way, no
//! thread and no timer kept beside it; `/cpu` burns on the ring's thread. With
//! `--offload N` each ring has a pool of N threads, and a poll operation on the pool's
//! eventfd brings finished work back among the completions; without it, the same poll
//! on the ring's own pipelined PostgreSQL connection brings back its queries' replies.
//!
//! Where io_uring is unavailable (an old kernel, `kernel.io_uring_disabled`, seccomp)
//! the model refuses at start-up with a clear error and exit code 2.

use std::io;
use std::net::TcpListener;
use std::os::fd::AsFd;
use std::time::Instant;

use slab::Slab;

use super::{Family, ModelInfo, OffloadUse, Workers};
use super::{Launch, Stop, STOP_POLL};
use crate::conn::accept::{self, AcceptError};
use crate::conn::completion::{RingCtx, UringConn};
use crate::conn::offload::{Finished, LoopWork};
use crate::conn::ready::Sweeper;
use crate::conn::trim::IdleTrim;
use crate::conn::{reactors, ConnOptions};
use crate::sys::uring::{Completion, Ring};

pub static INFO: ModelInfo = ModelInfo {
    name: "uring",
    family: Family::Completion,
    workers: Workers::Pool(1),
    mechanism: "io_uring: multishot accept and receive, provided buffers",
    origin: "beyond",
    reuse_port: true,
    descriptor_ceiling: None,
    announces_when_ready: false,
    offload: OffloadUse::LoopOrPool,
    precheck: Some(precheck),
    run,
};

/// Submission queue entries per ring.
const RING_ENTRIES: u32 = 4096;
/// Provided buffers per ring, and their size: received bytes wait here only until the
/// session has consumed them, so they need to cover one turn's receives (a receive
/// that finds none left ends with ENOBUFS and is armed again). The kernel takes them in
/// turn round the ring, so every one of them is soon touched: the whole pool, 512 KiB
/// per ring, is memory however few connections there are (what that comes to per held
/// connection: docs/results.md, *What a held connection costs in memory*).
const BUFFERS: u16 = 256;
const BUFFER_LEN: usize = 2048;

/// Can this thread set up a ring with multishot accept and receive and a buffer ring?
fn precheck() -> io::Result<()> {
    Ring::new(8, 1, 64).map(drop).map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("io_uring is not available here ({err})"),
        )
    })
}

fn run(launch: Launch) -> io::Result<()> {
    let listeners = reactors::bind(launch.listener, launch.addr, launch.backlog, launch.workers)?;
    reactors::run(listeners, launch.conn, &launch.stop, reactor)
}

/// One ring serving the connections of `listener` until `stop` is set.
fn reactor(listener: TcpListener, opts: ConnOptions, stop: &Stop) -> io::Result<()> {
    let mut reactor = RingReactor::new(opts, stop)?;
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
    /// Settings, spare buffers and the way work is carried out (its pool's eventfd
    /// outlives the ring's poll on it: declared after the ring).
    ctx: RingCtx,
    /// The connections a completion or the sweep touched this turn.
    touched: Vec<usize>,
    /// Work that came back this turn.
    finished: Vec<Finished>,
    /// A multishot accept is armed.
    accepting: bool,
    /// A poll on the descriptor work comes back through (a pool's queue, the
    /// pipeline) is armed.
    polling: bool,
    pause: accept::Pause,
    sweeper: Sweeper,
    trim: IdleTrim,
}

impl RingReactor {
    fn new(opts: ConnOptions, stop: &Stop) -> io::Result<Self> {
        Ok(RingReactor {
            ring: Ring::new(RING_ENTRIES, BUFFERS, BUFFER_LEN)?,
            conns: Slab::new(),
            ctx: RingCtx::new(opts, LoopWork::for_ring(&opts, stop)?),
            touched: Vec::new(),
            finished: Vec::new(),
            accepting: false,
            polling: false,
            pause: accept::Pause::default(),
            sweeper: Sweeper::new(Instant::now()),
            trim: IdleTrim::new(),
        })
    }

    /// One turn: arm the accept and the work's timers and poll, submit what is queued
    /// and wait for a batch, handle what completed, resume the connections whose work
    /// came back, sweep when due, and move every touched connection on.
    fn turn(&mut self, listener: &TcpListener) -> io::Result<()> {
        self.arm_accept(listener)?;
        self.arm_work()?;
        self.ring.submit_and_wait(STOP_POLL)?;
        self.ring.reap();
        let now = Instant::now();
        while let Some(completion) = self.ring.next_completion() {
            self.complete(completion, listener, now)?;
        }
        for done in self.finished.drain(..) {
            let key = done.key;
            if let Some(conn) = self.conns.get_mut(key) {
                conn.on_finished(done, &mut self.ctx, now);
                self.touched.push(key);
            }
        }
        if self.sweeper.due(now) {
            for (key, conn) in self.conns.iter_mut() {
                conn.expire(now, &self.ctx.opts);
                self.touched.push(key);
            }
            self.trim.observe(self.conns.len());
        }
        self.advance_touched(now)
    }

    /// Arms a timeout for each wait started since the last turn, and a poll on the
    /// descriptor work comes back through unless one is armed.
    fn arm_work(&mut self) -> io::Result<()> {
        for (after, token) in self.ctx.work.take_ring_timers() {
            self.ring.timeout(after, token)?;
        }
        if let (false, Some(done)) = (self.polling, self.ctx.work.completions()) {
            self.ring.poll_readable(done.as_fd())?;
            self.polling = true;
        }
        Ok(())
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
                        if let Ok(conn) = UringConn::new(stream, &self.ctx.opts, now) {
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
                conn.on_sent(key, result, buf, &mut self.ring, &mut self.ctx.spares, now)?;
                self.touched.push(key);
            }
            Completion::TimedOut { token } => self.finished.push(Finished::of(token)),
            Completion::Readable => {
                self.polling = false;
                self.ctx.work.take_completed(&mut self.finished);
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
            conn.absorb(key, self.ring.buffer(buf, *n), &mut self.ctx, now);
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
            conn.advance(key, &mut self.ring, &mut self.ctx, now)?;
            if conn.can_drop() {
                self.ring.forget(key);
                drop(self.conns.remove(key));
            }
        }
        Ok(())
    }
}
