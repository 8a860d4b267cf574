//! A connection driven by io_uring completions (the `uring` model): the completion
//! family's counterpart of [`super::ready`].
//!
//! Nothing is read or written here: the ring receives into its provided buffers and
//! sends buffers it is given. The connection is told what completed
//! ([`UringConn::absorb`], [`UringConn::on_recv_ended`], [`UringConn::on_sent`]) and
//! [`UringConn::advance`] queues what comes next:
//!
//! - replies accumulate in `out` while a send is in flight, and leave as one send when
//!   it completes (one send per batch of requests, never two at once, so bytes stay in
//!   order; a partial send is resent from where it stopped);
//! - the multishot receive stays armed while the connection wants input, and is
//!   cancelled once [`OUTPUT_HIGH_WATER`] bytes of replies wait (back-pressure);
//! - an idle connection owns no buffer: received bytes sit in the ring's buffers, and
//!   output buffers come from, and go back to, the thread's [`SparePool`];
//! - the peer's half-close (a receive of zero bytes, which may complete in the same
//!   batch as the request before it) ends the input only: every reply the session
//!   decided on is sent first, then the connection closes the way the session asked
//!   ([`UringConn::on_eof`]);
//! - a connection is dropped (its socket closed) only once none of its operations is
//!   in flight ([`UringConn::can_drop`]), so the kernel never meets a reused descriptor;
//! - the work a request needs goes to the ring's [`LoopWork`]; while it is in flight
//!   the receive is cancelled (bytes it had already received wait in the intake), the
//!   replies before it are still sent, the connection is not expired, and nothing
//!   closes it before the work comes back ([`UringConn::on_finished`]) but a failed
//!   send; work that comes back to a slot that changed hands is dropped.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::time::Instant;

use socket2::SockRef;

use super::intake::Intake;
use super::offload::{Finished, LoopWork, Ticket};
use super::ready::{track_progress, Phase};
use super::{ConnOptions, KEEP_OUT_CAPACITY, LINGER_TIME};
use crate::protocol::{Close, Progress, OUTPUT_HIGH_WATER};
use crate::sys::uring::Ring;

/// How many spare output buffers a thread keeps.
const SPARES: usize = 256;

/// A thread's spare output buffers, so a reply does not cost an allocation and an idle
/// connection keeps none.
#[derive(Debug, Default)]
pub struct SparePool(Vec<Vec<u8>>);

impl SparePool {
    fn take(&mut self) -> Vec<u8> {
        self.0.pop().unwrap_or_default()
    }

    fn give(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() <= KEEP_OUT_CAPACITY && self.0.len() < SPARES {
            buf.clear();
            self.0.push(buf);
        }
    }
}

/// What a ring's connections share: its settings, spare output buffers and way of
/// carrying out work.
#[derive(Debug)]
pub struct RingCtx {
    pub opts: ConnOptions,
    pub spares: SparePool,
    /// The loop watches its pool's queue and arms its timers, and hands what finished
    /// to [`UringConn::on_finished`].
    pub work: LoopWork,
}

impl RingCtx {
    pub fn new(opts: ConnOptions, work: LoopWork) -> Self {
        RingCtx {
            opts,
            spares: SparePool::default(),
            work,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recv {
    Idle,
    Armed,
    /// Cancelled; its last completion has not arrived.
    Cancelling,
}

/// One connection of a ring.
#[derive(Debug)]
pub struct UringConn {
    stream: TcpStream,
    intake: Intake,
    /// Replies not handed to the ring yet.
    out: Vec<u8>,
    sending: bool,
    recv: Recv,
    phase: Phase,
    /// Done: waiting for its operations to end before the socket is closed.
    closed: bool,
    deadline: Option<Instant>,
    /// When the send in flight was submitted or last made progress: a client that
    /// never reads stalls it, and is dropped after the write timeout.
    send_progress: Instant,
    backlogged: bool,
    /// The work of its last request is in flight.
    work: Option<Ticket>,
}

impl UringConn {
    /// Wraps a freshly accepted socket; [`Self::advance`] arms its first receive.
    pub fn new(stream: TcpStream, opts: &ConnOptions, now: Instant) -> io::Result<Self> {
        opts.apply(SockRef::from(&stream))?;
        Ok(UringConn {
            stream,
            intake: Intake::new(opts),
            out: Vec::new(),
            sending: false,
            recv: Recv::Idle,
            phase: Phase::Open,
            closed: false,
            deadline: opts.timeout.map(|t| now + t),
            send_progress: now,
            backlogged: false,
            work: None,
        })
    }

    /// Feeds bytes received for slot `key` to the session (discarded unless the
    /// connection is open), handing the work they ask for to `work`.
    pub fn absorb(&mut self, key: usize, data: &[u8], ctx: &mut RingCtx, now: Instant) {
        if self.phase != Phase::Open || self.closed {
            return;
        }
        if self.out.capacity() == 0 {
            self.out = ctx.spares.take();
        }
        let progress = self.intake.absorb(data, &mut self.out);
        self.carry(key, progress, ctx, now);
    }

    /// Work `ctx.work` reported finished for this connection's slot: if it is this
    /// connection's, answers its request and carries on; [`Self::advance`] sends it.
    pub fn on_finished(&mut self, finished: Finished, ctx: &mut RingCtx, now: Instant) {
        if self.out.capacity() == 0 {
            self.out = ctx.spares.take();
        }
        let (intake, out) = (&mut self.intake, &mut self.out);
        if let Some(progress) = ctx.work.resume(finished, intake, out, &mut self.work, now) {
            self.after(progress, &ctx.opts, now);
        }
    }

    /// Hands the work `progress` asks for to the ring's [`LoopWork`], then moves on
    /// with what it came to.
    fn carry(&mut self, key: usize, progress: Progress, ctx: &mut RingCtx, now: Instant) {
        let (intake, out) = (&mut self.intake, &mut self.out);
        let progress = ctx
            .work
            .carry(intake, progress, out, (key, &mut self.work), now);
        self.after(progress, &ctx.opts, now);
    }

    /// The peer closed its side (a receive of zero bytes). It sends nothing more, but
    /// it may still read: every reply the session decided on, and those the requests
    /// held back by the high-water mark still owe, are sent before the close. A
    /// connection already closing keeps its way of closing; its lingering receive then
    /// meets the same EOF at once and ends it. Only a lingering connection is done.
    pub fn on_eof(&mut self) {
        match self.phase {
            Phase::Open => self.phase = Phase::PeerDone,
            Phase::PeerDone | Phase::Closing(_) => {}
            Phase::Lingering => self.closed = true,
        }
    }

    /// The multishot receive ended (cancelled, out of buffers, EOF or an error that
    /// `fatal` says ends the connection).
    pub fn on_recv_ended(&mut self, fatal: bool) {
        self.recv = Recv::Idle;
        self.closed |= fatal;
    }

    /// A send completed: resend what the kernel did not take, or give the buffer back.
    pub fn on_sent(
        &mut self,
        key: usize,
        result: io::Result<usize>,
        mut buf: Vec<u8>,
        ring: &mut Ring,
        spares: &mut SparePool,
        now: Instant,
    ) -> io::Result<()> {
        self.sending = false;
        match result {
            Ok(n) if n > 0 && n < buf.len() && !self.closed => {
                buf.drain(..n);
                ring.send(key, &self.stream, buf)?;
                self.sending = true;
                self.send_progress = now;
            }
            Ok(n) if n > 0 => spares.give(buf),
            _ => {
                spares.give(buf);
                self.closed = true;
            }
        }
        Ok(())
    }

    /// Past its idle/header or linger deadline, or its send stalled for the write
    /// timeout? Then it closes. A send in flight is ended by shutting the socket down:
    /// a client that never reads would otherwise keep it, and the connection, forever.
    pub fn expire(&mut self, now: Instant, opts: &ConnOptions) {
        if self.work.is_some() {
            // It keeps its slot until its work comes back.
            return;
        }
        let idle = self.deadline.is_some_and(|deadline| now >= deadline);
        let stalled = self.sending && now >= self.send_progress + opts.write_timeout();
        if !(idle || stalled) {
            return;
        }
        self.closed = true;
        if self.sending {
            // The pending send fails at once (EPIPE), and the receive ends with EOF.
            let _ = self.stream.shutdown(Shutdown::Both);
        }
    }

    /// Closed with no operation in flight: the caller may drop it.
    pub fn can_drop(&self) -> bool {
        self.closed && self.recv == Recv::Idle && !self.sending
    }

    /// Queues what the connection's state calls for next: a send of pending replies,
    /// the lingering shutdown, arming or cancelling its receive.
    pub fn advance(
        &mut self,
        key: usize,
        ring: &mut Ring,
        ctx: &mut RingCtx,
        now: Instant,
    ) -> io::Result<()> {
        loop {
            if !self.sending && !self.out.is_empty() && !self.closed {
                ring.send(key, &self.stream, std::mem::take(&mut self.out))?;
                self.sending = true;
                self.send_progress = now;
            }
            if self.sending || !self.out.is_empty() || self.closed {
                break;
            }
            if !self.flushed(key, ctx, now) {
                break;
            }
        }
        if self.out.is_empty() && self.out.capacity() > 0 {
            ctx.spares.give(std::mem::take(&mut self.out));
        }
        self.steer_recv(key, ring)
    }

    /// Everything decided on is sent: moves on as the phase says. True if that made
    /// more replies, to be sent next. Nothing moves while work is in flight: its reply
    /// comes first, also when the peer half-closed after asking for it.
    fn flushed(&mut self, key: usize, ctx: &mut RingCtx, now: Instant) -> bool {
        match self.phase {
            _ if self.work.is_some() => {}
            // Requests held back by the high-water mark are answered now, also when the
            // peer half-closed right after sending them: its replies are owed all the same.
            Phase::Open | Phase::PeerDone if self.backlogged => {
                self.out = ctx.spares.take();
                let progress = self.intake.resume(&mut self.out);
                self.carry(key, progress, ctx, now);
                return true;
            }
            Phase::PeerDone | Phase::Closing(Close::AfterFlush) => self.closed = true,
            Phase::Closing(Close::Linger) => {
                if self.stream.shutdown(Shutdown::Write).is_err() {
                    self.closed = true;
                } else {
                    self.phase = Phase::Lingering;
                    self.deadline = Some(now + LINGER_TIME);
                    self.intake.discard();
                }
            }
            Phase::Open | Phase::Lingering => {}
        }
        false
    }

    /// Arms the multishot receive if the connection wants input and has none armed;
    /// cancels it if it wants none.
    fn steer_recv(&mut self, key: usize, ring: &mut Ring) -> io::Result<()> {
        match (self.wants_read(), self.recv) {
            (true, Recv::Idle) => {
                ring.recv_multi(key, &self.stream)?;
                self.recv = Recv::Armed;
            }
            (false, Recv::Armed) => {
                ring.cancel_recv(key)?;
                self.recv = Recv::Cancelling;
            }
            _ => {}
        }
        Ok(())
    }

    fn wants_read(&self) -> bool {
        match self.phase {
            _ if self.closed || self.work.is_some() => false,
            Phase::Open => !self.backlogged && self.out.len() < OUTPUT_HIGH_WATER,
            Phase::Lingering => true,
            Phase::PeerDone | Phase::Closing(_) => false,
        }
    }

    fn after(&mut self, progress: Progress, opts: &ConnOptions, now: Instant) {
        track_progress(progress, opts, now, &mut self.deadline, &mut self.phase);
        self.backlogged = self.intake.has_pending() && self.out.len() >= OUTPUT_HIGH_WATER;
    }
}
