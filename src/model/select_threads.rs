//! `select-threads`: select(2) reads, N sender threads write (seed 000's "select and
//! pre-threads").
//!
//! One thread select()s over the listener and every connection, reads, and runs each
//! connection's session; the replies go through a queue to the sender threads, so a
//! slow send never holds up reading. Unlike the seed (one queue, any thread, one
//! `send` whose remainder is dropped):
//!
//! - each connection's replies always go to the same sender (by connection number), so
//!   they are written in order;
//! - a sender that meets a full socket keeps the rest ([`Backlog`]) and goes on with
//!   other connections, waiting with poll(2) until the socket takes more;
//! - the reader stops reading a connection whose queued, unsent replies exceed the
//!   output high-water mark, and a sender wakes it when they drain ([`Outbox`]);
//! - idle/header timeouts and the lingering close still apply: the reader lingers once
//!   the sender has written the last reply and shut the sending side down;
//! - a sender gives up on a connection whose socket took none of its replies for the
//!   write timeout (a client that never reads), and the reader drops it too.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::TcpListener;
use std::os::fd::AsFd;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::select::{select, FdSet};
use slab::Slab;

use super::{Family, ModelInfo, Workers};
use super::{Server, Stop, STOP_POLL};
use crate::conn::accept;
use crate::conn::handoff::{Backlog, Outbox, Reply, Waker, Written};
use crate::conn::intake::Intake;
use crate::conn::ready::{Sweeper, SCRATCH_LEN};
use crate::conn::scan::{fits_fd_set, stop_poll_timeval};
use crate::conn::{ConnOptions, LINGER_TIME};
use crate::protocol::{Close, Progress, OUTPUT_HIGH_WATER};

pub static INFO: ModelInfo = ModelInfo {
    name: "select-threads",
    family: Family::Readiness,
    workers: Workers::Pool(4),
    mechanism: "select(2) reads; N sender threads write replies from queues",
    origin: "seed 000",
    reuse_port: false,
    precheck: None,
    run,
};

/// The reader's end of one sender thread.
struct SenderLink {
    queue: Sender<Reply>,
    /// Wakes the sender from poll(2) when it waits on blocked sockets.
    wake: Waker,
    /// The sender is (about to be) in poll(2) rather than waiting on its queue.
    polling: AtomicBool,
}

impl SenderLink {
    fn send(&self, reply: Reply) {
        // The sender outlives the reader (they are joined after it): cannot fail.
        let _ = self.queue.send(reply);
        // Pairs with the sender's fence: either it sees the reply in its queue before
        // polling, or this sees it polling and wakes it.
        fence(Ordering::SeqCst);
        if self.polling.load(Ordering::Relaxed) {
            self.wake.wake();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading requests.
    Open,
    /// The session asked for a lingering close: discarding input until the sender has
    /// written the last reply and shut the sending side down.
    Draining,
    /// Discarding input until EOF or the linger deadline.
    Lingering,
}

/// One connection, as the reader sees it.
struct Reader {
    outbox: Arc<Outbox>,
    /// Which sender writes its replies.
    sender: usize,
    intake: Intake,
    phase: Phase,
    /// Requests wait in the intake until the replies before them drain.
    backlogged: bool,
    deadline: Option<Instant>,
}

fn run(server: Server) -> io::Result<()> {
    let workers = server.workers;
    let (listener, opts, stop) = server.into_event_loop()?;
    let reader_wake = Waker::new()?;
    let mut links = Vec::new();
    let mut queues = Vec::new();
    for _ in 0..workers.max(1) {
        let (queue, replies) = crossbeam_channel::unbounded();
        links.push(SenderLink {
            queue,
            wake: Waker::new()?,
            polling: AtomicBool::new(false),
        });
        queues.push(replies);
    }
    std::thread::scope(|scope| {
        let senders: Vec<_> = queues
            .into_iter()
            .zip(&links)
            .map(|(replies, link)| {
                let (reader_wake, stop) = (&reader_wake, &stop);
                scope.spawn(move || send_loop(replies, link, reader_wake, opts, stop))
            })
            .collect();
        let result = read_loop(&listener, &links, &reader_wake, opts, &stop);
        // Senders stop with the server; an error here must stop them too.
        stop.set();
        for sender in senders {
            sender
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
        result
    })
}

/// The select thread: accepts, reads, runs the sessions, queues the replies.
fn read_loop(
    listener: &TcpListener,
    links: &[SenderLink],
    wake: &Waker,
    opts: ConnOptions,
    stop: &Stop,
) -> io::Result<()> {
    if !fits_fd_set(listener) || !fits_fd_set(&wake.as_fd()) {
        return Err(io::Error::other("the listener is not below FD_SETSIZE"));
    }
    let mut conns: Slab<Reader> = Slab::new();
    let mut next_conn = 0usize;
    let mut scratch = vec![0u8; SCRATCH_LEN];
    let mut pause = accept::Pause::default();
    let mut sweeper = Sweeper::new(Instant::now());
    let mut ready: Vec<usize> = Vec::new();
    while !stop.is_set() {
        // What no descriptor announces: senders that made room or gave up.
        let now = Instant::now();
        conns.retain(|_, conn| conn.catch_up(links, &opts, now));
        ready.clear();
        let (listener_ready, woken) = {
            let mut reads = FdSet::new();
            reads.insert(wake.as_fd());
            if !pause.is_paused() {
                reads.insert(listener.as_fd());
            }
            for (_, conn) in &conns {
                if conn.wants_read() {
                    reads.insert(conn.outbox.stream.as_fd());
                }
            }
            let mut timeout = stop_poll_timeval();
            match select(None, &mut reads, None, None, &mut timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(err) => return Err(err.into()),
            }
            ready.extend(
                conns
                    .iter()
                    .filter(|(_, conn)| reads.contains(conn.outbox.stream.as_fd()))
                    .map(|(key, _)| key),
            );
            (
                reads.contains(listener.as_fd()),
                reads.contains(wake.as_fd()),
            )
        };
        if woken {
            wake.reset();
        }
        let now = Instant::now();
        for &key in &ready {
            if !conns[key].on_readable(&mut scratch, links, &opts, now) {
                drop(conns.remove(key));
            }
        }
        if listener_ready {
            pause.accept_all(listener, now, |stream| {
                if !fits_fd_set(&stream) || opts.apply((&stream).into()).is_err() {
                    return Ok(());
                }
                conns.insert(Reader {
                    outbox: Outbox::new(stream),
                    sender: next_conn % links.len(),
                    intake: Intake::new(opts.protocol),
                    phase: Phase::Open,
                    backlogged: false,
                    deadline: opts.timeout.map(|t| now + t),
                });
                next_conn = next_conn.wrapping_add(1);
                Ok(())
            })?;
        }
        pause.resume_due(now);
        if sweeper.due(now) {
            conns.retain(|_, conn| {
                let expired = conn.deadline.is_some_and(|deadline| now >= deadline);
                if expired {
                    conn.outbox.finish();
                }
                !expired
            });
        }
    }
    Ok(())
}

impl Reader {
    fn wants_read(&self) -> bool {
        match self.phase {
            Phase::Open => !self.backlogged && self.outbox.has_room(),
            Phase::Draining | Phase::Lingering => true,
        }
    }

    /// Moves on where the sender made it possible; false if the connection is over.
    fn catch_up(&mut self, links: &[SenderLink], opts: &ConnOptions, now: Instant) -> bool {
        if self.outbox.is_finished() {
            return false;
        }
        match self.phase {
            Phase::Open if self.backlogged && self.outbox.has_room() => {
                let mut out = Vec::new();
                let progress = self.intake.resume(&mut out);
                self.dispatch(out, progress, links, opts, now)
            }
            Phase::Draining if self.outbox.unsent() == 0 => {
                self.phase = Phase::Lingering;
                self.deadline = Some(now + LINGER_TIME);
                true
            }
            _ => true,
        }
    }

    /// Reads once; false if the connection is over.
    fn on_readable(
        &mut self,
        scratch: &mut [u8],
        links: &[SenderLink],
        opts: &ConnOptions,
        now: Instant,
    ) -> bool {
        match (&self.outbox.stream).read(scratch) {
            // EOF while open: the sender still writes what is queued, then the last
            // reference to the socket closes it.
            Ok(0) => false,
            Ok(n) if self.phase == Phase::Open => {
                let mut out = Vec::new();
                let progress = self.intake.absorb(&scratch[..n], &mut out);
                self.dispatch(out, progress, links, opts, now)
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

    /// Queues what the session produced; false if the connection is over for the reader.
    fn dispatch(
        &mut self,
        out: Vec<u8>,
        progress: Progress,
        links: &[SenderLink],
        opts: &ConnOptions,
        now: Instant,
    ) -> bool {
        if progress.completed {
            self.deadline = opts.timeout.map(|t| now + t);
        }
        self.backlogged = self.intake.has_pending() && out.len() >= OUTPUT_HIGH_WATER;
        if !out.is_empty() || progress.close.is_some() {
            links[self.sender].send(self.outbox.reply(out, progress.close));
        }
        match progress.close {
            None => true,
            // The sender closes it: it holds the last reference once the reply is out.
            Some(Close::AfterFlush) => false,
            Some(Close::Linger) => {
                self.phase = Phase::Draining;
                self.intake.discard();
                true
            }
        }
    }
}

/// A sender thread: writes the replies of its connections, in order, without letting
/// one blocked socket hold up the others, nor keeping one whose client never reads.
fn send_loop(
    replies: Receiver<Reply>,
    link: &SenderLink,
    reader: &Waker,
    opts: ConnOptions,
    stop: &Stop,
) {
    let (cork, write_timeout) = (opts.cork, opts.write_timeout());
    // Connections whose socket took only part of their replies, by outbox address.
    let mut blocked: HashMap<usize, Backlog> = HashMap::new();
    let wake_reader = || reader.wake();
    let take = |reply: Reply, blocked: &mut HashMap<usize, Backlog>| {
        if reply.outbox.is_finished() {
            return;
        }
        let id = Arc::as_ptr(&reply.outbox) as usize;
        if let Some(backlog) = blocked.get_mut(&id) {
            backlog.push(reply);
            return;
        }
        let mut backlog = Backlog::from(reply);
        if let Ok(Written::Blocked) = backlog.write(cork, wake_reader) {
            blocked.insert(id, backlog);
        }
    };
    let mut ids: Vec<usize> = Vec::new();
    while !stop.is_set() {
        if blocked.is_empty() {
            match replies.recv_timeout(STOP_POLL) {
                Ok(reply) => take(reply, &mut blocked),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        while let Ok(reply) = replies.try_recv() {
            take(reply, &mut blocked);
        }
        blocked.retain(|_, backlog| !backlog.outbox.is_finished());
        if blocked.is_empty() {
            continue;
        }
        let now = Instant::now();
        let mut gave_up = false;
        blocked.retain(|_, backlog| {
            let stalled = backlog.stalled(now, write_timeout);
            if stalled {
                backlog.outbox.finish();
                gave_up = true;
            }
            !stalled
        });
        if gave_up {
            // The reader, which stopped reading those connections, drops them.
            wake_reader();
            if blocked.is_empty() {
                continue;
            }
        }
        // Wait until a blocked socket takes more, or a new reply arrives.
        link.polling.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if !replies.is_empty() {
            link.polling.store(false, Ordering::Relaxed);
            continue;
        }
        ids.clear();
        let woken = {
            let mut fds = Vec::with_capacity(blocked.len() + 1);
            fds.push(PollFd::new(link.wake.as_fd(), PollFlags::POLLIN));
            for (&id, backlog) in &blocked {
                ids.push(id);
                fds.push(PollFd::new(
                    backlog.outbox.stream.as_fd(),
                    PollFlags::POLLOUT,
                ));
            }
            let wait = PollTimeout::try_from(STOP_POLL).expect("STOP_POLL fits a poll timeout");
            if poll(&mut fds, wait).is_err() {
                // EINTR (the only error poll can give us here): look again.
                link.polling.store(false, Ordering::Relaxed);
                continue;
            }
            let mut writable = fds[1..].iter().map(|fd| fd.any().unwrap_or(true));
            ids.retain(|_| writable.next().unwrap_or(false));
            fds[0].any().unwrap_or(false)
        };
        link.polling.store(false, Ordering::Relaxed);
        if woken {
            link.wake.reset();
        }
        for id in &ids {
            let done = blocked.get_mut(id).map_or(true, |backlog| {
                !matches!(backlog.write(cork, wake_reader), Ok(Written::Blocked))
            });
            if done {
                blocked.remove(id);
            }
        }
    }
}
