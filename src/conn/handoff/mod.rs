//! A connection whose replies another thread writes (select-threads: one thread reads
//! and runs the sessions, sender threads write).
//!
//! - [`ReaderLoop`] and [`ReaderConn`]: the reading thread's connections and what it
//!   does with them each turn: read, feed the session, queue the replies for the
//!   connection's sender, stop reading above the high-water mark, linger, time out.
//! - [`SenderLink`] and [`send_loop`]: a sender thread and the reader's end of it.
//! - [`Outbox`]: the socket and what the two sides share about it: how many reply bytes
//!   are queued but unsent (the reader stops reading above
//!   [`OUTPUT_HIGH_WATER`]: back-pressure across threads), and whether the connection
//!   is finished (either side gave up on it). The socket closes when the last side lets
//!   go of it.
//! - [`Reply`]: bytes for a connection, in the order the session produced them.
//! - [`Waker`]: how one side wakes the other from select(2) or poll(2).

mod reader;
mod sender;

use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// How one side wakes the other (an eventfd).
pub use crate::sys::waker::Waker;
pub use reader::{ReaderConn, ReaderLoop};
pub use sender::{send_loop, SenderLink};

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
