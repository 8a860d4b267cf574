//! A connection whose replies another thread writes (select-threads: one thread reads
//! and runs the sessions, sender threads write).
//!
//! - [`Outbox`]: the socket and what the two sides share about it: how many reply bytes
//!   are queued but unsent (the reader stops reading above
//!   [`OUTPUT_HIGH_WATER`]: back-pressure across threads), and whether the connection
//!   is finished (either side gave up on it). The socket closes when the last side lets
//!   go of it.
//! - [`Reply`]: bytes for a connection, in the order the session produced them.
//! - [`Backlog`]: what a sender could not write yet; finished when the socket is
//!   writable again, so a client that does not read holds back its own replies only,
//!   and given up on once it has made no progress for the write timeout
//!   ([`Backlog::stalled`]), so such a client is not kept forever.
//! - [`Waker`]: how one side wakes the other from select(2) or poll(2).

use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::eventfd::{EfdFlags, EventFd};
use socket2::SockRef;

use crate::protocol::{Close, OUTPUT_HIGH_WATER};

/// The socket of a connection and the state its reader and its sender share.
#[derive(Debug)]
pub struct Outbox {
    pub stream: TcpStream,
    /// Reply bytes handed to a sender and not written yet.
    unsent: AtomicUsize,
    /// Either side is done with the connection: the other drops it as soon as it sees.
    finished: AtomicBool,
}

impl Outbox {
    pub fn new(stream: TcpStream) -> Arc<Self> {
        Arc::new(Outbox {
            stream,
            unsent: AtomicUsize::new(0),
            finished: AtomicBool::new(false),
        })
    }

    /// Reply bytes queued or being written.
    pub fn unsent(&self) -> usize {
        self.unsent.load(Ordering::Acquire)
    }

    /// May the reader read more? Not while the replies it queued exceed the high-water mark.
    pub fn has_room(&self) -> bool {
        self.unsent() < OUTPUT_HIGH_WATER
    }

    /// Gives up on the connection (an error, a timeout): the other side drops it too.
    pub fn finish(&self) {
        self.finished.store(true, Ordering::Release);
    }

    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Wraps bytes the session produced into a reply, counting them as unsent.
    pub fn reply(self: &Arc<Self>, bytes: Vec<u8>, then: Option<Close>) -> Reply {
        self.unsent.fetch_add(bytes.len(), Ordering::AcqRel);
        Reply {
            outbox: Arc::clone(self),
            bytes,
            then,
        }
    }

    /// Counts `n` bytes as written; true if that brought the queue back under the
    /// high-water mark, so the reader, which may have stopped reading, must be woken.
    fn wrote(&self, n: usize) -> bool {
        let before = self.unsent.fetch_sub(n, Ordering::AcqRel);
        before >= OUTPUT_HIGH_WATER && before - n < OUTPUT_HIGH_WATER
    }
}

/// Reply bytes for one connection, and how it ends after them, if it does.
#[derive(Debug)]
pub struct Reply {
    pub outbox: Arc<Outbox>,
    bytes: Vec<u8>,
    then: Option<Close>,
}

/// What writing a backlog came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// All written (and the sending side shut down if the session asked to linger).
    Done,
    /// The socket took part of it: wait until it is writable.
    Blocked,
}

/// The replies of one connection a sender has not written completely yet.
#[derive(Debug)]
pub struct Backlog {
    pub outbox: Arc<Outbox>,
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
    pub fn push(&mut self, reply: Reply) {
        self.bytes.drain(..self.sent);
        self.sent = 0;
        self.bytes.extend_from_slice(&reply.bytes);
        self.then = self.then.or(reply.then);
    }

    /// Has the socket taken nothing of it for `timeout`? Then its client does not read,
    /// and the sender gives the connection up.
    pub fn stalled(&self, now: Instant, timeout: Duration) -> bool {
        self.blocked_since
            .is_some_and(|since| now >= since + timeout)
    }

    /// Writes as much as the non-blocking socket takes. `wake` is called when the
    /// queue falls back under the high-water mark. An error means the connection is
    /// lost; it is marked finished.
    pub fn write(&mut self, cork: bool, wake: impl Fn()) -> io::Result<Written> {
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

/// Wakes a thread blocked in select(2) or poll(2) from another thread: an eventfd the
/// sleeper watches for reading.
#[derive(Debug)]
pub struct Waker(EventFd);

impl Waker {
    pub fn new() -> io::Result<Self> {
        Ok(Waker(EventFd::from_flags(
            EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC,
        )?))
    }

    pub fn wake(&self) {
        // EAGAIN would mean the counter is full: the sleeper is woken anyway.
        let _ = self.0.write(1);
    }

    /// Called by the sleeper once woken, so the next wait blocks again.
    pub fn reset(&self) {
        let _ = self.0.read();
    }
}

impl AsFd for Waker {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}
