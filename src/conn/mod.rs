//! The per-connection machinery the model families share, so that a model file holds
//! only its multiplexing mechanism.
//!
//! - [`blocking`]: one connection served to the end on the calling thread with blocking
//!   reads and writes (blocking, fork, threads, prefork, prethread, threadpool).
//! - [`ready`]: a non-blocking connection driven by readiness events (select, poll,
//!   epoll, epoll-et, selector, epoll-threads): a read buffer that is empty while the
//!   connection is idle, a write buffer with partial writes, back-pressure, lingering
//!   close, and the interest it wants next.
//! - [`epoll`]: epoll's flags and waits (epoll, epoll-et, epoll-threads), and the
//!   level-triggered reactor (epoll, and each thread of reuseport).
//! - [`scan`]: the turn of a loop that hands its whole interest list to the kernel
//!   (select, poll), and select(2)'s FD_SETSIZE limit (select, select-threads).
//! - [`reactors`]: N reactor threads, each with its own SO_REUSEPORT listener
//!   (reuseport, uring).
//! - [`tokio`]: a connection as a tokio task (async, async-mt): reads and writes
//!   awaited in turn, the idle/header deadline as a timer, lingering close; and the
//!   accept loop that starts a task per connection.
//! - [`completion`]: a connection driven by io_uring completions (uring): sends in
//!   order one at a time, its multishot receive armed or cancelled for back-pressure.
//! - [`intake`]: a session and the partial input it has not consumed, for the
//!   connections that read into a shared scratch buffer ([`ready`], [`tokio`], and
//!   select-threads' reader).
//! - [`offload`]: how an event loop carries out a request's work, the way `--offload`
//!   says: inline, in a pool of threads, or with the loop's own timers ([`ready`],
//!   [`completion`], select-threads' reader).
//! - [`handoff`]: a connection whose replies another thread writes (select-threads):
//!   the reading thread's side of it, and the sender threads' loop.
//! - [`trim`]: counting live connections, and giving the memory of finished ones back
//!   once a burst is over (threads, coroutines, async, async-mt, uring).
//! - [`preforked`]: the master of the pre-forked models (prefork, epoll-prefork): a
//!   worker in every slot, and a line for each one that died and was replaced.
//! - [`accept`]: the blocking family's accept loop, the event loops' accept-until-empty,
//!   and what to do when accept(2) fails (EMFILE and friends).
//!
//! Every connection here drives a [`crate::protocol::Session`]; none knows which
//! protocol it carries. When the session asks for work (`/cpu`, `/wait`), the
//! connection carries it out through [`crate::work`], its family's way: the blocking
//! family and coroutines on the connection's own thread or coroutine ([`blocking`]),
//! tokio with an awaited timer and inline or `spawn_blocking` CPU ([`tokio`]), the
//! event loops through their [`offload::LoopWork`]; [`ConnOptions::offload`] says where.
//!
//! # The event loops' default way of carrying out work
//!
//! Without `--offload`, every event loop waits with a timer of its own and burns CPU
//! inline: a wait costs no thread and no hand-over, and needs nothing a loop does not
//! already have (a poll timeout; for uring, a ring operation). CPU work has nowhere
//! else to go without a pool; the multi-loop models spread it over their loops.
//!
//! - select, poll: a deadline folded into select(2)'s or poll(2)'s timeout.
//! - epoll, epoll-et: a deadline folded into epoll_wait(2)'s timeout.
//! - selector: a deadline folded into mio's poll timeout.
//! - reuseport, epoll-prefork: each loop (a thread, a process) its own deadlines, as epoll.
//! - epoll-threads: a deadline in the timeout of the thread that read the request.
//! - select-threads: the reader's deadline in its select(2) timeout; the senders only write.
//! - uring: an io_uring timeout operation per wait, completed with the ring's others.
//!
//! A query (`/db`, `/queries`, with `--database`) goes down the loop's own pipelined,
//! non-blocking connection to PostgreSQL ([`crate::db::Pipeline`]), one per loop
//! (epoll-threads' threads share theirs), whose descriptor each loop watches where a
//! pool's queue would be.
//!
//! `--offload 0` waits and queries inside the loop (the seeds' code, ported naively:
//! it stalls every connection of that loop); `--offload N` is seed 004's pool of N
//! threads per loop, each with a database connection ([`offload`] says why per
//! loop).

pub mod accept;
pub mod blocking;
pub mod completion;
pub mod epoll;
pub mod handoff;
pub mod intake;
pub mod offload;
pub mod preforked;
pub mod reactors;
pub mod ready;
pub mod scan;
pub mod tokio;
pub mod trim;

use std::io;
use std::time::Duration;

use socket2::SockRef;

use crate::protocol::{Handlers, Protocol};

/// An output buffer larger than this is freed once written, so a connection that once
/// echoed a burst does not keep the memory while idle.
pub const KEEP_OUT_CAPACITY: usize = 4096;

/// How long a lingering close keeps reading (and discarding) before it gives up.
pub const LINGER_TIME: Duration = Duration::from_secs(2);

/// How long a reply may wait for a client that does not read it, when no idle timeout
/// is set (echo's default): a client that never reads must not hold a worker of the
/// blocking family, or a readiness connection and its buffer, forever, even where idle
/// connections may stay open forever.
pub const WRITE_STALL: Duration = Duration::from_secs(10);

/// What every connection of a server is configured with.
#[derive(Debug, Clone, Copy)]
pub struct ConnOptions {
    pub protocol: Protocol,
    /// Idle/header timeout: a connection that completes no request for this long is closed.
    pub timeout: Option<Duration>,
    /// TCP_NODELAY on every connection.
    pub nodelay: bool,
    /// TCP_CORK around each batch of writes.
    pub cork: bool,
    /// How much work `/cpu` and `/wait` cost: the server's, shared by every session
    /// (a reference, so a connection holds 8 bytes of it, not a copy).
    pub handlers: &'static Handlers,
    /// Where work is carried out (`--offload`).
    pub offload: Offload,
}

/// Where a connection's work is carried out (`serve --offload`). What each family makes
/// of it is in the [`crate::work`] documentation, and which values a model takes in
/// its registry entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Offload {
    /// Not asked for: the family's own way (an event loop's timer for a wait, an
    /// awaited timer in async, the connection's thread or coroutine otherwise).
    #[default]
    Unset,
    /// `--offload 0`: on the thread that serves the connection, even an event loop's,
    /// which a wait then stalls (the seeds' code, ported naively).
    Inline,
    /// `--offload N`: a pool of N threads (1 to 4096) carries it out as blocking calls.
    Pool(u16),
}

impl Offload {
    /// What `--offload N` asks for.
    pub fn from_count(threads: u16) -> Offload {
        match threads {
            0 => Offload::Inline,
            n => Offload::Pool(n),
        }
    }
}

impl ConnOptions {
    /// How long writing one reply may wait on a client that does not read: the idle
    /// timeout if there is one, else [`WRITE_STALL`].
    pub fn write_timeout(&self) -> Duration {
        self.timeout.unwrap_or(WRITE_STALL)
    }

    /// Applies the per-socket options to a freshly accepted connection.
    pub fn apply(&self, socket: SockRef<'_>) -> io::Result<()> {
        if self.nodelay {
            socket.set_nodelay(true)?;
        }
        Ok(())
    }
}

/// Is this error the peer going away (reset, broken pipe), as opposed to a fault of ours?
pub fn is_disconnect(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_bounded_even_without_an_idle_timeout() {
        let mut opts = ConnOptions {
            protocol: Protocol::Echo,
            timeout: None,
            nodelay: false,
            cork: false,
            handlers: &Handlers::DEFAULT,
            offload: Offload::Unset,
        };
        assert_eq!(opts.write_timeout(), WRITE_STALL);
        opts.timeout = Some(Duration::from_secs(1));
        assert_eq!(opts.write_timeout(), Duration::from_secs(1));
    }
}
