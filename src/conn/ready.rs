//! A non-blocking connection driven by readiness events: the state machine every
//! readiness model (select, poll, epoll, epoll-et, selector, epoll-threads) shares.
//!
//! A model tells the connection what the kernel reported ([`ReadyConn::on_ready`]) and
//! asks it what to wait for next ([`ReadyConn::interest`]). The connection:
//!
//! - reads into the thread's shared scratch buffer and feeds the session from there;
//!   only the unconsumed tail of a partial request is copied into the connection's own
//!   buffer, so an idle connection owns no read buffer;
//! - writes at once (no wait for writability in the common case), keeps what the
//!   kernel did not take, and finishes it when the socket becomes writable; replies are
//!   built in the thread's spare output buffer, which the connection gives back once
//!   it is flushed, so an idle connection owns no output buffer either;
//! - stops reading while [`OUTPUT_HIGH_WATER`] bytes are unsent (back-pressure), and
//!   gives up on a client whose unsent output made no progress for the write timeout
//!   ([`ConnOptions::write_timeout`]), as the blocking family does: a client that never
//!   reads costs a bounded buffer, and not for ever;
//! - with `drain` (edge-triggered models) reads until EAGAIN and remembers that the
//!   socket may still hold data when back-pressure stopped it early;
//! - carries the idle/header deadline, the write-stall deadline and the lingering
//!   close; both deadlines are set from the `now` the event loop already read, never
//!   from a clock read of their own;
//! - hands the work a request needs to the loop's [`LoopWork`] (inline, a pool, or
//!   the loop's timers, as `--offload` says); while it is in flight the connection
//!   reads nothing, is not expired, and still writes the replies before it; a reset
//!   reported meanwhile closes it ([`ReadyConn::on_finished`] resumes it).

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use socket2::SockRef;

use super::intake::Intake;
use super::offload::{Finished, LoopWork, Ticket};
use super::KEEP_OUT_CAPACITY;
use super::{ConnOptions, LINGER_TIME};
use crate::protocol::{Close, Progress, OUTPUT_HIGH_WATER};

/// Size of the per-thread scratch buffer reads land in.
pub const SCRATCH_LEN: usize = 64 * 1024;

/// How often event loops look for connections past their deadline.
pub const SWEEP_EVERY: Duration = Duration::from_millis(250);

/// Tells an event loop when to sweep its connections for expired deadlines: a scan
/// every [`SWEEP_EVERY`] costs less than keeping a timer per connection, and a deadline
/// is enforced at most that late.
#[derive(Debug)]
pub struct Sweeper {
    next: Instant,
}

impl Sweeper {
    pub fn new(now: Instant) -> Self {
        Sweeper {
            next: now + SWEEP_EVERY,
        }
    }

    /// Is a sweep due? If so, the next one is scheduled.
    pub fn due(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next = now + SWEEP_EVERY;
        true
    }
}

/// What a connection wants from the poller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interest {
    pub read: bool,
    pub write: bool,
}

/// Whether the connection lives on after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Keep,
    /// Done: deregister and drop it (dropping closes the socket).
    Close,
}

/// Per-thread state shared by all the connections a thread drives.
pub struct ReadyCtx {
    scratch: Box<[u8]>,
    /// The output buffer lent to the connection being served and returned when it has
    /// flushed; only a connection with unsent output keeps one of its own.
    spare_out: Vec<u8>,
    pub opts: ConnOptions,
    /// Read until EAGAIN on every readable event (edge-triggered models must).
    pub drain: bool,
    /// How the connections' work is carried out; the loop watches its completions
    /// and timers, and hands what finished to [`ReadyConn::on_finished`].
    pub work: LoopWork,
}

impl ReadyCtx {
    pub fn new(opts: ConnOptions, drain: bool, work: LoopWork) -> Self {
        ReadyCtx {
            scratch: vec![0; SCRATCH_LEN].into_boxed_slice(),
            spare_out: Vec::new(),
            opts,
            drain,
            work,
        }
    }
}

/// Where a non-blocking connection is in its life (shared with [`super::completion`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Reading requests and writing replies.
    Open,
    /// The peer closed its side: send what is left, then close.
    PeerDone,
    /// The session asked to close: send what is left, then close that way.
    Closing(Close),
    /// Our side is shut down; reading and discarding until EOF or the deadline.
    Lingering,
}

/// What a session's progress does to a connection, readiness- or completion-driven: a
/// completed request restarts the idle/header deadline, a close request starts closing.
pub(super) fn track_progress(
    progress: Progress,
    opts: &ConnOptions,
    now: Instant,
    deadline: &mut Option<Instant>,
    phase: &mut Phase,
) {
    if progress.completed {
        *deadline = opts.timeout.map(|t| now + t);
    }
    if let Some(close) = progress.close {
        *phase = Phase::Closing(close);
    }
}

/// One non-blocking connection.
#[derive(Debug)]
pub struct ReadyConn<S> {
    stream: S,
    /// The session and the input it has not consumed yet (a partial request).
    intake: Intake,
    /// Output; `out[sent..]` is still to be written.
    out: Vec<u8>,
    sent: usize,
    phase: Phase,
    deadline: Option<Instant>,
    /// While output is unsent: when to give up if no byte of it is written by then.
    stall_deadline: Option<Instant>,
    /// The socket may have bytes to read that we have not read.
    readable: bool,
    /// The session stopped at the output high-water mark with input left to process.
    backlogged: bool,
    /// The work of its last request is in flight (a pool's or a timer's).
    work: Option<Ticket>,
}

impl<S> ReadyConn<S>
where
    S: Read + Write + AsFd,
{
    /// Wraps a freshly accepted non-blocking socket.
    pub fn new(stream: S, opts: &ConnOptions, now: Instant) -> io::Result<Self> {
        opts.apply(SockRef::from(&stream))?;
        Ok(ReadyConn {
            stream,
            intake: Intake::new(opts),
            out: Vec::new(),
            sent: 0,
            phase: Phase::Open,
            deadline: opts.timeout.map(|t| now + t),
            stall_deadline: None,
            readable: false,
            backlogged: false,
            work: None,
        })
    }

    /// The socket, for registering with a poller.
    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// What to wait for next. A connection that wants neither has nothing to do until
    /// its deadline (it never happens while open: a full output buffer wants writing).
    pub fn interest(&self) -> Interest {
        Interest {
            read: self.wants_read(),
            write: self.sent < self.out.len(),
        }
    }

    /// Past its idle/header, write-stall or linger deadline? Never while its work is
    /// in flight: it keeps its slot until the work comes back.
    pub fn expired(&self, now: Instant) -> bool {
        self.work.is_none()
            && [self.deadline, self.stall_deadline]
                .into_iter()
                .flatten()
                .any(|deadline| now >= deadline)
    }

    /// Handles what the poller reported for the connection in slot `key`; returns
    /// whether the connection lives on.
    pub fn on_ready(
        &mut self,
        key: usize,
        readable: bool,
        writable: bool,
        ctx: &mut ReadyCtx,
        now: Instant,
    ) -> Step {
        self.with_out(ctx, |conn, ctx| {
            if conn.reset_while_working(readable || writable) {
                return Step::Close;
            }
            conn.serve(key, readable, writable, ctx, now)
        })
    }

    /// Work the loop's [`LoopWork`] reported finished for this connection's slot: if it
    /// is this connection's, answers its request and carries on (writes, reads what
    /// waited); returns whether the connection lives on.
    pub fn on_finished(&mut self, finished: Finished, ctx: &mut ReadyCtx, now: Instant) -> Step {
        let key = finished.key;
        self.with_out(ctx, |conn, ctx| {
            let (intake, out) = (&mut conn.intake, &mut conn.out);
            match ctx.work.resume(finished, intake, out, &mut conn.work, now) {
                Some(progress) => {
                    conn.after(progress, &ctx.opts, now);
                    conn.serve(key, false, false, ctx, now)
                }
                None => Step::Keep,
            }
        })
    }

    /// Runs `serve` with an output buffer at hand: the thread's spare one, given back
    /// once it is flushed.
    fn with_out(
        &mut self,
        ctx: &mut ReadyCtx,
        serve: impl FnOnce(&mut Self, &mut ReadyCtx) -> Step,
    ) -> Step {
        if self.out.capacity() == 0 {
            self.out = std::mem::take(&mut ctx.spare_out);
        }
        let step = serve(self, ctx);
        if self.out.is_empty() && ctx.spare_out.capacity() == 0 {
            ctx.spare_out = std::mem::take(&mut self.out);
        }
        step
    }

    /// A connection whose work is in flight asks for no input, so what reports it
    /// with nothing to write is a hang-up or an error (which level-triggered pollers
    /// report regardless, on every wait), or input an edge-triggered one announces:
    /// true if the socket was reset, and the connection is to close now.
    fn reset_while_working(&self, reported: bool) -> bool {
        reported
            && self.work.is_some()
            && self.sent == self.out.len()
            && !matches!(self.stream_ref().take_error(), Ok(None))
    }

    /// Reads, feeds the session and writes as far as the socket allows.
    fn serve(
        &mut self,
        key: usize,
        readable: bool,
        writable: bool,
        ctx: &mut ReadyCtx,
        now: Instant,
    ) -> Step {
        self.readable |= readable;
        let mut try_write = writable || self.sent < self.out.len();
        loop {
            if try_write {
                match self.flush(ctx.opts.cork) {
                    Ok(written) => self.track_stall(written, &ctx.opts, now),
                    Err(_) => return Step::Close,
                }
            }
            try_write = false;
            if self.sent == self.out.len() && self.work.is_none() {
                match self.phase {
                    Phase::PeerDone | Phase::Closing(Close::AfterFlush) => return Step::Close,
                    Phase::Closing(Close::Linger) => {
                        if self.stream_ref().shutdown(Shutdown::Write).is_err() {
                            return Step::Close;
                        }
                        self.phase = Phase::Lingering;
                        self.deadline = Some(now + LINGER_TIME);
                        self.intake.discard();
                    }
                    Phase::Open if self.backlogged => {
                        self.process_pending(key, ctx, now);
                        try_write = true;
                        continue;
                    }
                    Phase::Open | Phase::Lingering => {}
                }
            }
            if !self.readable || !self.wants_read() {
                return Step::Keep;
            }
            match self.stream.read(&mut ctx.scratch) {
                Ok(0) => {
                    self.readable = false;
                    match self.phase {
                        Phase::Open => self.phase = Phase::PeerDone,
                        _ => return Step::Close,
                    }
                }
                Ok(n) => {
                    if !ctx.drain {
                        self.readable = false;
                    }
                    if self.phase == Phase::Open {
                        let progress = self.intake.absorb(&ctx.scratch[..n], &mut self.out);
                        self.carry(key, progress, ctx, now);
                        try_write = true;
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Step::Close,
            }
        }
    }

    fn wants_read(&self) -> bool {
        match self.phase {
            _ if self.work.is_some() => false,
            Phase::Open => !self.backlogged && self.out.len() - self.sent < OUTPUT_HIGH_WATER,
            Phase::Lingering => true,
            Phase::PeerDone | Phase::Closing(_) => false,
        }
    }

    fn stream_ref(&self) -> SockRef<'_> {
        SockRef::from(&self.stream)
    }

    /// Feeds input held back by the output high-water mark, now that output has drained.
    fn process_pending(&mut self, key: usize, ctx: &mut ReadyCtx, now: Instant) {
        let progress = self.intake.resume(&mut self.out);
        self.carry(key, progress, ctx, now);
    }

    /// Hands the work `progress` asks for to the loop's [`LoopWork`], then moves on
    /// with what it came to.
    fn carry(&mut self, key: usize, progress: Progress, ctx: &mut ReadyCtx, now: Instant) {
        let (intake, out) = (&mut self.intake, &mut self.out);
        let progress = ctx
            .work
            .carry(intake, progress, out, (key, &mut self.work), now);
        self.after(progress, &ctx.opts, now);
    }

    fn after(&mut self, progress: Progress, opts: &ConnOptions, now: Instant) {
        track_progress(progress, opts, now, &mut self.deadline, &mut self.phase);
        self.backlogged = self.intake.has_pending() && self.out.len() >= OUTPUT_HIGH_WATER;
    }

    /// After a flush that wrote `written` bytes: output still unsent must make progress
    /// within the write timeout, counted from the last write that took any.
    fn track_stall(&mut self, written: usize, opts: &ConnOptions, now: Instant) {
        if self.sent == self.out.len() {
            self.stall_deadline = None;
        } else if written > 0 || self.stall_deadline.is_none() {
            self.stall_deadline = Some(now + opts.write_timeout());
        }
    }

    /// Writes as much output as the socket takes; returns how many bytes it took.
    fn flush(&mut self, cork: bool) -> io::Result<usize> {
        if self.sent == self.out.len() {
            return Ok(0);
        }
        let unsent = self.out.len() - self.sent;
        if cork {
            self.stream_ref().set_cork(true)?;
        }
        while self.sent < self.out.len() {
            match self.stream.write(&self.out[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        if cork {
            self.stream_ref().set_cork(false)?;
        }
        let written = unsent - (self.out.len() - self.sent);
        if self.sent == self.out.len() {
            self.sent = 0;
            if self.out.capacity() > KEEP_OUT_CAPACITY {
                self.out = Vec::new();
            } else {
                self.out.clear();
            }
        }
        Ok(written)
    }
}
