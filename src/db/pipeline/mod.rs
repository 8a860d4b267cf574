//! An event loop's own connection to PostgreSQL: non-blocking, pipelined, spoken with
//! the sans-I/O `postgres-protocol` crate, so the loop stays the loop (the database
//! counterpart of the loop's own timer; no thread is involved).
//!
//! - **Pipelined.** [`Pipeline::submit`] writes a request at once, without waiting for
//!   the answers to the ones before it: a Bind and an Execute of the prepared
//!   `world::SELECT_ROW` per row (a random id each, every one its own query as TechEmpower
//!   requires), then one Sync, so an error fails its own request and no other
//!   (`replies.rs`). PostgreSQL answers in order; [`Pipeline::on_readable`] reads what
//!   has come and hands back each finished request's outcome with its token.
//! - **Non-blocking, both ways.** A write that would block keeps the rest in the
//!   output buffer and asks for writability; meanwhile the loop keeps reading what
//!   PostgreSQL sends, and writes the rest once there is room. Neither side waits on
//!   the other: PostgreSQL stops reading only when its replies are not read, and they
//!   always are.
//! - **One descriptor for the loop to watch** ([`AsFd`]): not the socket itself but
//!   a small epoll set holding it, readable whenever [`Pipeline::on_readable`] has
//!   something to do: replies came, the socket has room for output that waits (it is
//!   in the set for writing only then), or outcomes were decided without the socket
//!   (a request that found the connection broken, see below; an eventfd in the set
//!   says so). The set stays while connections come and go, so a loop registers it
//!   once (with epoll, poll, select, mio or io_uring alike, where a work pool's queue
//!   would be), and a socket replaced after a reconnect needs no change in any loop.
//! - **Opening blocks** (`startup.rs`): connecting, authenticating and preparing the
//!   statement are done blocking, in [`Pipeline::new`] when the loop starts, and again
//!   only after a connection broke. A server that refuses the loop's connection at
//!   the start (`max_connections` reached) does not end the loop: its requests are
//!   answered `503` with PostgreSQL's reason, and it tries again.
//! - **Breaking.** A connection that fails (closed by the server, a read or write
//!   error, a reply that makes no sense) fails every request in flight with the
//!   reason, and the next request opens a new one. If that fails too, requests fail
//!   at once for [`RETRY_AFTER`] before the next try, so a server that is down does
//!   not hold the loop in connect(2) on every request.
//! - **Shared, when a loop has threads** (epoll-threads): the state sits behind a
//!   mutex, so the threads that wait on one epoll set share one connection as they
//!   share its listener.

mod replies;
mod startup;
#[cfg(test)]
mod tests;

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use postgres_protocol::message::frontend;
use postgres_protocol::types::int4_to_sql;
use postgres_protocol::IsNull;

use self::replies::Replies;
use self::startup::{Address, Stream};
use super::client::random_id;
use crate::log::RateLimited;
use crate::protocol::{Outcome, Query};
use crate::sys::waker::Waker;

/// The name the statement is prepared under, on every pipeline's connection.
const STATEMENT: &str = "world";

/// After a connection could not be opened, how long requests fail at once before the
/// next attempt.
pub const RETRY_AFTER: Duration = Duration::from_millis(250);

/// Bytes read from the socket at a time.
const CHUNK: usize = 32 * 1024;

/// Binary, for the parameter and the result columns alike ([`replies`] says why).
const BINARY: i16 = 1;

/// Failures are told on stderr once a second (each request's reply carries its own).
static FAILING: RateLimited = RateLimited::new();

/// One loop's pipelined connection to the database (see the module's documentation).
#[derive(Debug)]
pub struct Pipeline {
    target: Address,
    /// What the loop watches: the socket (for reading, and for writing while output
    /// waits) and `wake`.
    ready: Epoll,
    /// Set while outcomes wait in [`State::decided`].
    wake: Waker,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// `None` after the connection broke, until the next request opens one.
    conn: Option<Conn>,
    /// Outcomes decided outside [`Pipeline::on_readable`], handed back by its next call.
    decided: Vec<(usize, Outcome)>,
    /// After a failed attempt to connect: until when requests fail at once, and why.
    refused: Option<(Instant, String)>,
    /// Where reads land before they join the connection's input.
    chunk: Box<[u8]>,
}

/// An open connection.
#[derive(Debug)]
struct Conn {
    stream: Stream,
    /// Requests encoded but not written yet.
    output: BytesMut,
    /// The socket is in the set for writing too: `output` waits for room.
    writing: bool,
    /// Bytes read but not yet a whole message.
    input: BytesMut,
    replies: Replies,
}

impl Pipeline {
    /// Parses `url` and connects: authenticates and prepares the statement, blocking
    /// meanwhile. Only an address that does not parse (or descriptors this process
    /// cannot have) is an error: a server that cannot be reached or refuses is told on
    /// stderr, and each request fails with its reason until a connection opens (what
    /// `serve --database` checks before listening, so a wrong address shows there).
    pub fn new(url: &str) -> Result<Pipeline, String> {
        let target = Address::parse(url)?;
        let ready = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(|e| local(e.into()))?;
        let wake = Waker::new().map_err(local)?;
        ready
            .add(&wake, EpollEvent::new(EpollFlags::EPOLLIN, 0))
            .map_err(|e| local(e.into()))?;
        let mut state = State {
            conn: None,
            decided: Vec::new(),
            refused: None,
            chunk: vec![0; CHUNK].into_boxed_slice(),
        };
        // A failure is told and remembered: the requests that follow are answered it.
        let _ = state.open(&target, &ready);
        Ok(Pipeline {
            target,
            ready,
            wake,
            state: Mutex::new(state),
        })
    }

    /// Sends `query`'s request, for `token`: its outcome comes back from a later
    /// [`Self::on_readable`], whatever happens (a failure too).
    pub fn submit(&self, query: Query, token: usize) {
        let mut state = self.lock();
        let state = &mut *state;
        let decided = state.decided.len();
        let sent = match state.open(&self.target, &self.ready) {
            Ok(conn) => conn
                .queue(query, token)
                .and_then(|()| conn.flush(&self.ready)),
            Err(reason) => {
                state.decided.push((token, Outcome::Failed(reason)));
                Ok(())
            }
        };
        if let Err(written) = sent {
            // A write may fail before the replies that came are read: take them, and the
            // reason a last read finds (PostgreSQL's own, such as a FATAL error's).
            let last =
                (state.conn.as_mut()).map(|c| c.receive(&mut state.chunk, &mut state.decided));
            let reason = match last {
                Some(Err(reason)) => reason,
                _ => written,
            };
            close(&mut state.conn, &reason, &mut state.decided);
        }
        if state.decided.len() > decided {
            self.wake.wake();
        }
    }

    /// The descriptor was reported readable: reads what PostgreSQL sent, writes what
    /// waited for room, and appends the outcome of every request that finished (with
    /// its token) to `into`.
    pub fn on_readable(&self, into: &mut Vec<(usize, Outcome)>) {
        // Reset before taking, so an outcome decided after the take wakes the loop.
        self.wake.reset();
        let mut state = self.lock();
        let state = &mut *state;
        into.append(&mut state.decided);
        let Some(conn) = &mut state.conn else {
            return;
        };
        if let Err(reason) = conn.exchange(&mut state.chunk, &self.ready, into) {
            close(&mut state.conn, &reason, into);
        }
    }

    /// Requests sent and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.lock()
            .conn
            .as_ref()
            .map_or(0, |conn| conn.replies.len())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AsFd for Pipeline {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.ready.0.as_fd()
    }
}

impl Drop for Pipeline {
    /// Says goodbye (Terminate), so the server logs no lost client; best effort.
    fn drop(&mut self) {
        if let Some(conn) = &mut self.lock().conn {
            frontend::terminate(&mut conn.output);
            let _ = (&conn.stream).write(&conn.output);
        }
    }
}

impl State {
    /// The open connection, opened now if there is none (unless the last attempt
    /// failed less than [`RETRY_AFTER`] ago).
    fn open(&mut self, target: &Address, ready: &Epoll) -> Result<&mut Conn, String> {
        if self.conn.is_none() {
            if let Some((until, reason)) = &self.refused {
                if Instant::now() < *until {
                    return Err(reason.clone());
                }
            }
            match Conn::open(target, ready) {
                Ok(conn) => {
                    self.refused = None;
                    self.conn = Some(conn);
                }
                Err(reason) => {
                    FAILING.warn(format_args!("{reason}"));
                    self.refused = Some((Instant::now() + RETRY_AFTER, reason.clone()));
                    return Err(reason);
                }
            }
        }
        Ok(self.conn.as_mut().expect("opened above"))
    }
}

/// Closes the connection (closing the socket takes it out of the set), failing every
/// request in flight with `reason` into `into`.
fn close(conn: &mut Option<Conn>, reason: &str, into: &mut Vec<(usize, Outcome)>) {
    if let Some(mut conn) = conn.take() {
        FAILING.warn(format_args!("{reason}"));
        conn.replies.fail_all(reason, into);
    }
}

impl Conn {
    fn open(target: &Address, ready: &Epoll) -> Result<Conn, String> {
        let stream = target.open()?;
        ready
            .add(&stream, EpollEvent::new(EpollFlags::EPOLLIN, 1))
            .map_err(|e| local(e.into()))?;
        Ok(Conn {
            stream,
            output: BytesMut::with_capacity(CHUNK),
            writing: false,
            input: BytesMut::with_capacity(CHUNK),
            replies: Replies::default(),
        })
    }

    /// Encodes `query`'s request into the output: a Bind and an Execute per row, one
    /// Sync.
    fn queue(&mut self, query: Query, token: usize) -> Result<(), String> {
        let before = self.output.len();
        let encoded = (0..query.rows()).try_for_each(|_| {
            let id = random_id();
            frontend::bind(
                "",
                STATEMENT,
                [BINARY],
                [id],
                |id, buf| {
                    int4_to_sql(id, buf);
                    Ok(IsNull::No)
                },
                [BINARY],
                &mut self.output,
            )
            .map_err(|_| io::Error::other("a Bind that does not encode"))?;
            frontend::execute("", 0, &mut self.output)
        });
        if let Err(err) = encoded {
            self.output.truncate(before);
            return Err(format!("database: {err}"));
        }
        frontend::sync(&mut self.output);
        self.replies.expect(token, query.rows());
        Ok(())
    }

    /// Writes what the output holds, as far as the socket takes it; asks for room in
    /// the set while some is left, and no longer once it is all out.
    fn flush(&mut self, ready: &Epoll) -> Result<(), String> {
        while !self.output.is_empty() {
            match (&self.stream).write(&self.output) {
                Ok(0) => return Err("database: the connection takes no more".into()),
                Ok(n) => self.output.advance(n),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(format!("database: {err}")),
            }
        }
        let waiting = !self.output.is_empty();
        if waiting != self.writing {
            let flags = match waiting {
                true => EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT,
                false => EpollFlags::EPOLLIN,
            };
            ready
                .modify(&self.stream, &mut EpollEvent::new(flags, 1))
                .map_err(|e| local(e.into()))?;
            self.writing = waiting;
        }
        Ok(())
    }

    /// Reads what came, then writes what waited for room.
    fn exchange(
        &mut self,
        chunk: &mut [u8],
        ready: &Epoll,
        into: &mut Vec<(usize, Outcome)>,
    ) -> Result<(), String> {
        self.receive(chunk, into)?;
        if self.writing {
            self.flush(ready)?;
        }
        Ok(())
    }

    /// Reads until the socket has no more (a short read says so: new bytes would
    /// report it again, to a level- or an edge-triggered loop alike), and hands the
    /// finished requests' outcomes to `into`.
    fn receive(
        &mut self,
        chunk: &mut [u8],
        into: &mut Vec<(usize, Outcome)>,
    ) -> Result<(), String> {
        loop {
            match (&self.stream).read(chunk) {
                Ok(0) => return Err("database: the server closed the connection".into()),
                Ok(n) => {
                    self.input.extend_from_slice(&chunk[..n]);
                    self.replies.read(&mut self.input, into)?;
                    if n < chunk.len() {
                        return Ok(());
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(format!("database: {err}")),
            }
        }
    }
}

/// A failure of this process's own descriptors (epoll, eventfd), as a reason.
fn local(err: io::Error) -> String {
    format!("database: the pipeline's descriptors: {err}")
}
