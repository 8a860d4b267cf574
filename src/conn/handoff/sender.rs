//! The sending side: sender threads write the replies the reader queued, each for the
//! connections assigned to it, in order, without letting one blocked socket hold up
//! the others, nor keeping one whose client never reads.
//!
//! A sender that meets a full socket keeps the rest of that connection's replies
//! ([`Backlog`]), finished once the socket is writable again, so a client that does
//! not read holds back its own replies only, and given up on once it has made no
//! progress for the write timeout ([`Backlog::stalled`]).

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use socket2::SockRef;

use super::{Outbox, Reply, Waker};
use crate::conn::ConnOptions;
use crate::protocol::Close;
use crate::sys::signal::{Stop, STOP_POLL};

/// The reader's end of one sender thread.
#[derive(Debug)]
pub struct SenderLink {
    queue: Sender<Reply>,
    /// Wakes the sender from poll(2) when it waits on blocked sockets.
    wake: Waker,
    /// The sender is (about to be) in poll(2) rather than waiting on its queue.
    polling: AtomicBool,
}

impl SenderLink {
    /// A link, and the queue its sender thread takes replies from ([`send_loop`]).
    pub fn new() -> io::Result<(SenderLink, Receiver<Reply>)> {
        let (queue, replies) = crossbeam_channel::unbounded();
        let link = SenderLink {
            queue,
            wake: Waker::new()?,
            polling: AtomicBool::new(false),
        };
        Ok((link, replies))
    }

    /// Queues a reply for the sender, waking it if it waits in poll(2).
    pub fn send(&self, reply: Reply) {
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

/// A sender thread: writes the replies of its connections until `stop` is set or the
/// reader has gone. `reader` wakes the reading thread when a connection's queue falls
/// back under the high-water mark, or a connection is given up.
pub fn send_loop(
    replies: Receiver<Reply>,
    link: &SenderLink,
    reader: &Waker,
    opts: ConnOptions,
    stop: &Stop,
) {
    let mut sender = SenderThread {
        replies,
        link,
        reader,
        cork: opts.cork,
        write_timeout: opts.write_timeout(),
        blocked: HashMap::new(),
        writable: Vec::new(),
    };
    while !stop.is_set() {
        // Nothing blocked: wait on the queue alone.
        if sender.blocked.is_empty() {
            match sender.replies.recv_timeout(STOP_POLL) {
                Ok(reply) => sender.take(reply),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        while let Ok(reply) = sender.replies.try_recv() {
            sender.take(reply);
        }
        if sender.drop_lost() && sender.wait_writable() {
            sender.write_writable();
        }
    }
}

/// What a sender thread holds.
struct SenderThread<'a> {
    replies: Receiver<Reply>,
    link: &'a SenderLink,
    reader: &'a Waker,
    cork: bool,
    write_timeout: Duration,
    /// Connections whose socket took only part of their replies, by outbox address.
    blocked: HashMap<usize, Backlog>,
    /// The blocked connections the last poll(2) found writable, reused every wait.
    writable: Vec<usize>,
}

impl SenderThread<'_> {
    /// Writes a reply at once, or adds it to its connection's backlog.
    fn take(&mut self, reply: Reply) {
        if reply.outbox.is_finished() {
            return;
        }
        let id = Arc::as_ptr(&reply.outbox) as usize;
        if let Some(backlog) = self.blocked.get_mut(&id) {
            backlog.push(reply);
            return;
        }
        let mut backlog = Backlog::from(reply);
        if let Ok(Written::Blocked) = backlog.write(self.cork, || self.reader.wake()) {
            self.blocked.insert(id, backlog);
        }
    }

    /// Drops the blocked connections that are finished, and gives up on those whose
    /// socket took nothing for the write timeout; true if any is left blocked.
    fn drop_lost(&mut self) -> bool {
        self.blocked
            .retain(|_, backlog| !backlog.outbox.is_finished());
        if self.blocked.is_empty() {
            return false;
        }
        let (now, before) = (Instant::now(), self.blocked.len());
        let write_timeout = self.write_timeout;
        self.blocked.retain(|_, backlog| {
            let stalled = backlog.stalled(now, write_timeout);
            if stalled {
                backlog.outbox.finish();
            }
            !stalled
        });
        if self.blocked.len() < before {
            // The reader, which stopped reading those connections, drops them.
            self.reader.wake();
        }
        !self.blocked.is_empty()
    }

    /// Waits until a blocked socket takes more ([`Self::writable`]) or a new reply
    /// arrives; false if it waited for nothing (a reply is queued, or a signal).
    fn wait_writable(&mut self) -> bool {
        let link = self.link;
        link.polling.store(true, Ordering::Relaxed);
        // Pairs with SenderLink::send's fence.
        fence(Ordering::SeqCst);
        if !self.replies.is_empty() {
            link.polling.store(false, Ordering::Relaxed);
            return false;
        }
        self.writable.clear();
        let mut fds = Vec::with_capacity(self.blocked.len() + 1);
        fds.push(PollFd::new(link.wake.as_fd(), PollFlags::POLLIN));
        for (&id, backlog) in &self.blocked {
            self.writable.push(id);
            fds.push(PollFd::new(
                backlog.outbox.stream.as_fd(),
                PollFlags::POLLOUT,
            ));
        }
        let wait = PollTimeout::try_from(STOP_POLL).expect("STOP_POLL fits a poll timeout");
        // EINTR is the only error poll can give us here: look again.
        let polled = poll(&mut fds, wait).is_ok();
        if polled {
            let mut writable = fds[1..].iter().map(|fd| fd.any().unwrap_or(true));
            self.writable.retain(|_| writable.next().unwrap_or(false));
        }
        let woken = polled && fds[0].any().unwrap_or(false);
        link.polling.store(false, Ordering::Relaxed);
        if woken {
            link.wake.reset();
        }
        polled
    }

    /// Writes more of each backlog poll(2) found writable, dropping those done.
    fn write_writable(&mut self) {
        let (cork, reader) = (self.cork, self.reader);
        for id in &self.writable {
            let done = self.blocked.get_mut(id).map_or(true, |backlog| {
                !matches!(backlog.write(cork, || reader.wake()), Ok(Written::Blocked))
            });
            if done {
                self.blocked.remove(id);
            }
        }
    }
}

/// What writing a backlog came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    /// All written (and the sending side shut down if the session asked to linger).
    Done,
    /// The socket took part of it: wait until it is writable.
    Blocked,
}

/// The replies of one connection a sender has not written completely yet.
#[derive(Debug)]
struct Backlog {
    outbox: Arc<Outbox>,
    bytes: Vec<u8>,
    sent: usize,
    then: Option<Close>,
    /// When a write last left it blocked after the socket had taken some of it (or
    /// first left it blocked): a reply that goes out whole never reads the clock.
    blocked_since: Option<Instant>,
}

impl From<Reply> for Backlog {
    fn from(reply: Reply) -> Self {
        Backlog {
            outbox: reply.outbox,
            bytes: reply.bytes,
            sent: 0,
            then: reply.then,
            blocked_since: None,
        }
    }
}

impl Backlog {
    /// Appends a later reply of the same connection, keeping the order.
    fn push(&mut self, reply: Reply) {
        self.bytes.drain(..self.sent);
        self.sent = 0;
        self.bytes.extend_from_slice(&reply.bytes);
        self.then = self.then.or(reply.then);
    }

    /// Has the socket taken nothing of it for `timeout`? Then its client does not read,
    /// and the sender gives the connection up.
    fn stalled(&self, now: Instant, timeout: Duration) -> bool {
        self.blocked_since
            .is_some_and(|since| now >= since + timeout)
    }

    /// Writes as much as the non-blocking socket takes. `wake` is called when the
    /// queue falls back under the high-water mark. An error means the connection is
    /// lost; it is marked finished.
    fn write(&mut self, cork: bool, wake: impl Fn()) -> io::Result<Written> {
        let result = self.write_inner(cork, &wake);
        if result.is_err() {
            self.outbox.finish();
            // The reader may be waiting for room that will never come.
            wake();
        }
        result
    }

    fn write_inner(&mut self, cork: bool, wake: &impl Fn()) -> io::Result<Written> {
        let stream = &self.outbox.stream;
        if cork {
            SockRef::from(stream).set_cork(true)?;
        }
        let (mut blocked, mut progressed) = (false, false);
        while self.sent < self.bytes.len() {
            match (&*stream).write(&self.bytes[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.sent += n;
                    progressed = true;
                    if self.outbox.wrote(n) {
                        wake();
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    blocked = true;
                    break;
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        if cork {
            SockRef::from(stream).set_cork(false)?;
        }
        if blocked {
            if progressed || self.blocked_since.is_none() {
                self.blocked_since = Some(Instant::now());
            }
            return Ok(Written::Blocked);
        }
        if self.then == Some(Close::Linger) {
            // The reader lingers (reads and discards) once the queue is empty.
            stream.shutdown(Shutdown::Write)?;
        }
        Ok(Written::Done)
    }
}
