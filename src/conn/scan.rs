//! Event loops that keep their interest list in user space and hand all of it to the
//! kernel every turn (select, poll, and select-threads' reader).
//!
//! - [`ScanLoop`]: the connections of a select or poll loop and the end of each turn:
//!   serve the ones reported ready, resume those whose work finished, accept, close
//!   the expired.
//! - [`fits_fd_set`] and [`timeval`]: what select(2) needs: a descriptor below
//!   FD_SETSIZE, and a timeout as a `timeval`.
//!
//! The loop's work pool's queue, if it has one ([`ScanLoop::completions`]), goes into
//! the set with the sockets, and its timers set the timeout ([`ScanLoop::timeout`]).

use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::sys::select::FD_SETSIZE;
use nix::sys::time::{TimeVal, TimeValLike};
use slab::Slab;

use super::accept::Pause;
use super::offload::{Finished, LoopWork, Watched};
use super::ready::{ReadyConn, ReadyCtx, Step, Sweeper};
use super::ConnOptions;
use crate::log::RateLimited;

/// The state of a loop that scans every connection each turn.
pub struct ScanLoop {
    pub conns: Slab<ReadyConn<TcpStream>>,
    /// The listener left alone after accept(2) hit a resource limit.
    pub pause: Pause,
    /// (key, readable, writable) of the connections reported this turn, reused.
    pub ready: Vec<(usize, bool, bool)>,
    /// The work pool's queue was reported readable this turn.
    pub completed: bool,
    ctx: ReadyCtx,
    finished: Vec<Finished>,
    sweeper: Sweeper,
}

impl ScanLoop {
    pub fn new(opts: ConnOptions, work: LoopWork) -> Self {
        ScanLoop {
            conns: Slab::new(),
            pause: Pause::default(),
            ready: Vec::new(),
            completed: false,
            ctx: ReadyCtx::new(opts, false, work),
            finished: Vec::new(),
            sweeper: Sweeper::new(Instant::now()),
        }
    }

    /// The queue to watch for reading with the sockets, if work goes to a pool (a
    /// handle of the caller's own, so the set it builds borrows nothing of the loop).
    pub fn completions(&self) -> Option<Watched> {
        self.ctx.work.completions()
    }

    /// How long this turn may wait for events: until the next timer, at most the
    /// stop-flag period.
    pub fn timeout(&self) -> Duration {
        self.ctx.work.timeout(Instant::now())
    }

    /// The end of a turn: serve the connections in [`Self::ready`], resume those whose
    /// work finished, accept the waiting ones that `admit` lets in (if the listener was
    /// reported), close those past their deadline, and clear the ready list for the
    /// next turn.
    pub fn finish_turn(
        &mut self,
        listener: Option<&TcpListener>,
        admit: impl Fn(&TcpStream) -> bool,
    ) -> io::Result<()> {
        let now = Instant::now();
        let (conns, ctx) = (&mut self.conns, &mut self.ctx);
        for (key, readable, writable) in self.ready.drain(..) {
            if conns[key].on_ready(key, readable, writable, ctx, now) == Step::Close {
                drop(conns.remove(key));
            }
        }
        if std::mem::take(&mut self.completed) {
            ctx.work.take_completed(&mut self.finished);
        }
        ctx.work.take_due(now, &mut self.finished);
        for done in self.finished.drain(..) {
            let key = done.key;
            let step = conns.get_mut(key).map(|c| c.on_finished(done, ctx, now));
            if step == Some(Step::Close) {
                drop(conns.remove(key));
            }
        }
        if let Some(listener) = listener {
            self.pause.accept_all(listener, now, |stream| {
                if admit(&stream) {
                    if let Ok(conn) = ReadyConn::new(stream, &ctx.opts, now) {
                        conns.insert(conn);
                    }
                }
                Ok(())
            })?;
        }
        self.pause.resume_due(now);
        if self.sweeper.due(now) {
            conns.retain(|_, conn| !conn.expired(now));
        }
        Ok(())
    }
}

static REFUSED: RateLimited = RateLimited::new();

/// Can select(2) watch this descriptor? If not, says so (rate-limited) so the caller
/// can close it: the connection is refused, the server carries on.
pub fn fits_fd_set(fd: &impl AsRawFd) -> bool {
    let fits = usize::try_from(fd.as_raw_fd()).is_ok_and(|fd| fd < FD_SETSIZE);
    if !fits {
        REFUSED.warn(format_args!(
            "select: descriptor {} is not below FD_SETSIZE ({FD_SETSIZE}); \
             closing that connection (use poll or epoll for more connections)",
            fd.as_raw_fd()
        ));
    }
    fits
}

/// A timeout for select(2): at most the stop-flag period, so no loss in the cast.
pub fn timeval(timeout: Duration) -> TimeVal {
    TimeVal::microseconds(timeout.as_micros() as i64)
}
