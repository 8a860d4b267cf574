//! The reading side: one thread reads every connection, runs its session and queues
//! the replies for the connection's sender.
//!
//! The work a request needs goes to the reader's [`LoopWork`], as in every event
//! loop: while it is in flight the connection is not read nor expired, and once it
//! comes back ([`ReaderLoop::finish_turn`]) its reply is queued like any other.

use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slab::Slab;

use super::{Outbox, SenderLink};
use crate::conn::accept::Pause;
use crate::conn::intake::Intake;
use crate::conn::offload::{Finished, LoopWork, Ticket, Watched};
use crate::conn::ready::{Sweeper, SCRATCH_LEN};
use crate::conn::{ConnOptions, LINGER_TIME};
use crate::protocol::{Close, Progress, OUTPUT_HIGH_WATER};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadPhase {
    /// Reading requests.
    Open,
    /// The session asked for a lingering close: discarding input until the sender has
    /// written the last reply and shut the sending side down.
    Draining,
    /// Discarding input until EOF or the linger deadline.
    Lingering,
}

/// One connection, as the reading thread sees it.
#[derive(Debug)]
pub struct ReaderConn {
    outbox: Arc<Outbox>,
    /// Which sender writes its replies.
    sender: usize,
    intake: Intake,
    phase: ReadPhase,
    /// Requests wait in the intake until the replies before them drain.
    backlogged: bool,
    deadline: Option<Instant>,
    /// The work of its last request is in flight.
    work: Option<Ticket>,
}

/// What the reading thread's connections share.
struct ReaderCtx<'a> {
    senders: &'a [SenderLink],
    opts: ConnOptions,
    work: LoopWork,
}

impl ReaderConn {
    fn new(stream: TcpStream, sender: usize, opts: &ConnOptions, now: Instant) -> Self {
        ReaderConn {
            outbox: Outbox::new(stream),
            sender,
            intake: Intake::new(opts),
            phase: ReadPhase::Open,
            backlogged: false,
            deadline: opts.timeout.map(|t| now + t),
            work: None,
        }
    }

    /// The socket, for the reader's select set.
    pub fn stream(&self) -> &TcpStream {
        &self.outbox.stream
    }

    /// Is the reader to watch it? Not while its unsent replies are above the
    /// high-water mark, or requests wait for them to drain.
    pub fn wants_read(&self) -> bool {
        match self.phase {
            _ if self.work.is_some() => false,
            ReadPhase::Open => !self.backlogged && self.outbox.has_room(),
            ReadPhase::Draining | ReadPhase::Lingering => true,
        }
    }

    /// Moves on where the sender made it possible; false if the connection is over.
    fn catch_up(&mut self, key: usize, ctx: &mut ReaderCtx, now: Instant) -> bool {
        if self.outbox.is_finished() {
            return false;
        }
        match self.phase {
            ReadPhase::Open if self.backlogged && self.work.is_none() && self.outbox.has_room() => {
                let mut out = Vec::new();
                let progress = self.intake.resume(&mut out);
                self.carry(key, out, progress, ctx, now)
            }
            ReadPhase::Draining if self.outbox.unsent() == 0 => {
                self.phase = ReadPhase::Lingering;
                self.deadline = Some(now + LINGER_TIME);
                true
            }
            _ => true,
        }
    }

    /// Reads once; false if the connection is over.
    fn on_readable(
        &mut self,
        key: usize,
        scratch: &mut [u8],
        ctx: &mut ReaderCtx,
        now: Instant,
    ) -> bool {
        match (&self.outbox.stream).read(scratch) {
            // EOF while open: the sender still writes what is queued, then the last
            // reference to the socket closes it.
            Ok(0) => false,
            Ok(n) if self.phase == ReadPhase::Open => {
                let mut out = Vec::new();
                let progress = self.intake.absorb(&scratch[..n], &mut out);
                self.carry(key, out, progress, ctx, now)
            }
            // Lingering: discard.
            Ok(_) => true,
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                true
            }
            Err(_) => {
                self.outbox.finish();
                false
            }
        }
    }

    /// Its work came back: queues the reply, and what follows; false if the connection
    /// is over for the reader.
    fn on_finished(&mut self, finished: Finished, ctx: &mut ReaderCtx, now: Instant) -> bool {
        let mut out = Vec::new();
        let resumed = ctx
            .work
            .resume(finished, &mut self.intake, &mut out, &mut self.work, now);
        match resumed {
            Some(progress) => self.dispatch(out, progress, ctx, now),
            None => true,
        }
    }

    /// Hands the work `progress` asks for to the reader's [`LoopWork`], then queues
    /// what it all came to.
    fn carry(
        &mut self,
        key: usize,
        mut out: Vec<u8>,
        progress: Progress,
        ctx: &mut ReaderCtx,
        now: Instant,
    ) -> bool {
        let in_flight = (key, &mut self.work);
        let progress = ctx
            .work
            .carry(&mut self.intake, progress, &mut out, in_flight, now);
        self.dispatch(out, progress, ctx, now)
    }

    /// Queues what the session produced; false if the connection is over for the reader.
    fn dispatch(
        &mut self,
        out: Vec<u8>,
        progress: Progress,
        ctx: &ReaderCtx,
        now: Instant,
    ) -> bool {
        if progress.completed {
            self.deadline = ctx.opts.timeout.map(|t| now + t);
        }
        self.backlogged = self.intake.has_pending() && out.len() >= OUTPUT_HIGH_WATER;
        if !out.is_empty() || progress.close.is_some() {
            ctx.senders[self.sender].send(self.outbox.reply(out, progress.close));
        }
        match progress.close {
            None => true,
            // The sender closes it: it holds the last reference once the reply is out.
            Some(Close::AfterFlush) => false,
            Some(Close::Linger) => {
                self.phase = ReadPhase::Draining;
                self.intake.discard();
                true
            }
        }
    }

    /// Past its deadline? Then it is finished, for its sender too. Never while its work
    /// is in flight: it keeps its slot until the work comes back.
    fn expire(&self, now: Instant) -> bool {
        let expired = self.work.is_none() && self.deadline.is_some_and(|deadline| now >= deadline);
        if expired {
            self.outbox.finish();
        }
        expired
    }
}

/// The reading thread's connections, and the end of each of its turns.
pub struct ReaderLoop<'a> {
    pub conns: Slab<ReaderConn>,
    /// The listener left alone after accept(2) hit a resource limit.
    pub pause: Pause,
    /// The keys of the connections reported readable this turn.
    pub ready: Vec<usize>,
    /// The work pool's queue was reported readable this turn.
    pub completed: bool,
    ctx: ReaderCtx<'a>,
    scratch: Box<[u8]>,
    finished: Vec<Finished>,
    /// Connections accepted so far: the next one's replies go to the sender this
    /// picks, round robin.
    accepted: usize,
    sweeper: Sweeper,
}

impl<'a> ReaderLoop<'a> {
    /// The reading side of `senders`, which must not be empty.
    pub fn new(senders: &'a [SenderLink], opts: ConnOptions, work: LoopWork) -> Self {
        assert!(!senders.is_empty(), "select-threads needs a sender thread");
        ReaderLoop {
            conns: Slab::new(),
            pause: Pause::default(),
            ready: Vec::new(),
            completed: false,
            ctx: ReaderCtx {
                senders,
                opts,
                work,
            },
            scratch: vec![0; SCRATCH_LEN].into_boxed_slice(),
            finished: Vec::new(),
            accepted: 0,
            sweeper: Sweeper::new(Instant::now()),
        }
    }

    /// The queue to watch for reading with the sockets, if work goes to a pool (a
    /// handle of the caller's own, so the set it builds borrows nothing of the loop).
    pub fn completions(&self) -> Option<Watched> {
        self.ctx.work.completions()
    }

    /// How long this turn may wait: until the next timer, at most the stop-flag period.
    pub fn timeout(&self) -> Duration {
        self.ctx.work.timeout(Instant::now())
    }

    /// The start of a turn: what no descriptor announces, senders that made room (the
    /// reader may read again) or gave up (the reader drops the connection).
    pub fn catch_up(&mut self) {
        let now = Instant::now();
        let ctx = &mut self.ctx;
        self.conns.retain(|key, conn| conn.catch_up(key, ctx, now));
    }

    /// The end of a turn: read the connections in [`Self::ready`], resume those whose
    /// work came back, accept the waiting ones that `admit` lets in (if the listener
    /// was reported), close those past their deadline.
    pub fn finish_turn(
        &mut self,
        listener: Option<&TcpListener>,
        admit: impl Fn(&TcpStream) -> bool,
    ) -> io::Result<()> {
        let now = Instant::now();
        let ctx = &mut self.ctx;
        for key in self.ready.drain(..) {
            if !self.conns[key].on_readable(key, &mut self.scratch, ctx, now) {
                drop(self.conns.remove(key));
            }
        }
        if std::mem::take(&mut self.completed) {
            ctx.work.take_completed(&mut self.finished);
        }
        ctx.work.take_due(now, &mut self.finished);
        for done in self.finished.drain(..) {
            let key = done.key;
            let open = self
                .conns
                .get_mut(key)
                .map(|c| c.on_finished(done, ctx, now));
            if open == Some(false) {
                drop(self.conns.remove(key));
            }
        }
        if let Some(listener) = listener {
            let (conns, accepted) = (&mut self.conns, &mut self.accepted);
            let (senders, opts) = (ctx.senders, &ctx.opts);
            self.pause.accept_all(listener, now, |stream| {
                if admit(&stream) && opts.apply((&stream).into()).is_ok() {
                    conns.insert(ReaderConn::new(
                        stream,
                        *accepted % senders.len(),
                        opts,
                        now,
                    ));
                    *accepted = accepted.wrapping_add(1);
                }
                Ok(())
            })?;
        }
        self.pause.resume_due(now);
        if self.sweeper.due(now) {
            self.conns.retain(|_, conn| !conn.expire(now));
        }
        Ok(())
    }
}
