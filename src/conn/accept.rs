//! Accepting connections, and what a model does when accept(2) fails.
//!
//! Most failures concern one connection (it was reset before we took it) and are simply
//! skipped. Running out of descriptors or memory is different: the pending connection
//! stays queued, so retrying at once spins at 100% CPU. Mature servers back off and keep
//! serving the connections they have; so do we.
//!
//! - [`Acceptor`]: the blocking family's accept loop (blocking, threads, fork,
//!   threadpool, prethread, prefork): blocking accept(2) that wakes for the stop flag,
//!   optionally below a cap or in turn under an accept lock.
//! - [`accept_all`] and [`Pause`]: the event loops' side, a non-blocking listener
//!   emptied on readiness and left alone for [`BACKOFF`] at a resource limit.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::log::RateLimited;
use crate::sys;
use crate::sys::signal::{Stop, STOP_POLL};

/// How long to leave the listener alone after running out of descriptors.
pub const BACKOFF: Duration = Duration::from_millis(50);

/// How long a blocking accept loop at its cap waits before it asks again whether a
/// connection has finished.
pub const AT_CAP_WAIT: Duration = Duration::from_millis(1);

/// The decision after a failed accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptError {
    /// No connection is waiting (non-blocking listener, or a blocking one's timeout).
    Empty,
    /// That connection is lost; try the next one now.
    Skip,
    /// A resource limit: stop accepting for [`BACKOFF`], keep serving.
    Backoff,
}

static LIMIT_WARNING: RateLimited = RateLimited::new();

/// Classifies an error of accept(2) on `listener`, warning (rate-limited) about a
/// resource limit that keeps a client waiting.
///
/// Linux takes the new descriptor before it looks at the queue, so at the descriptor
/// limit accept(2) fails with EMFILE even when no connection is waiting (a server
/// started at the limit, before any client): the loop still backs off, but says
/// nothing until a connection really waits.
pub fn classify(err: &io::Error, listener: impl AsFd) -> AcceptError {
    match err.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EINTR) => AcceptError::Empty,
        Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS) | Some(libc::ENOMEM) => {
            if connection_waiting(listener) {
                LIMIT_WARNING.warn(format_args!(
                    "accept: {err}; backing off, still serving open connections"
                ));
            }
            AcceptError::Backoff
        }
        _ if err.kind() == io::ErrorKind::WouldBlock => AcceptError::Empty,
        _ => AcceptError::Skip,
    }
}

/// Is a connection waiting in `listener`'s queue? (poll(2) without waiting; an error
/// counts as yes, so that a limit is never kept quiet by mistake.)
fn connection_waiting(listener: impl AsFd) -> bool {
    let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::ZERO).map_or(true, |ready| ready > 0)
}

/// Accepts every waiting connection as a non-blocking socket (accept4(2)) and hands each
/// to `admit`, until none is left (`Empty`) or a resource limit stops it (`Backoff`).
/// Edge-triggered pollers rely on it stopping only there: a listener reported once must
/// be emptied, or the connections left in its queue are never reported again.
pub fn accept_all(
    listener: &TcpListener,
    mut admit: impl FnMut(TcpStream) -> io::Result<()>,
) -> io::Result<AcceptError> {
    loop {
        match sys::listener::accept_nonblocking(listener) {
            Ok(stream) => admit(stream)?,
            Err(err) => match classify(&err, listener) {
                AcceptError::Skip => {}
                outcome => return Ok(outcome),
            },
        }
    }
}

/// A listener left alone for [`BACKOFF`] after accept(2) hit a resource limit, so an
/// event loop neither spins on the queued connection nor forgets to come back to it.
#[derive(Debug, Default)]
pub struct Pause {
    since: Option<Instant>,
}

impl Pause {
    /// Stops accepting from now on.
    pub fn start(&mut self, now: Instant) {
        self.since = Some(now);
    }

    /// Is the listener left alone at the moment?
    pub fn is_paused(&self) -> bool {
        self.since.is_some()
    }

    /// Accepts every waiting connection ([`accept_all`]) unless paused, and pauses if
    /// a resource limit stopped it.
    pub fn accept_all(
        &mut self,
        listener: &TcpListener,
        now: Instant,
        admit: impl FnMut(TcpStream) -> io::Result<()>,
    ) -> io::Result<()> {
        if !self.is_paused() && accept_all(listener, admit)? == AcceptError::Backoff {
            self.start(now);
        }
        Ok(())
    }

    /// Has a paused listener waited long enough? If so it counts as resumed: the caller
    /// listens again (and accepts at once if its poller is edge-triggered).
    pub fn resume_due(&mut self, now: Instant) -> bool {
        match self.since {
            Some(since) if now.duration_since(since) >= BACKOFF => {
                self.since = None;
                true
            }
            _ => false,
        }
    }
}

/// The blocking family's accept loop: blocking accept(2) on a listener, waking at least
/// every [`STOP_POLL`] to look at the stop flag, skipping a lost connection and backing
/// off at a resource limit. A model takes connections from it one by one and does with
/// each what its mechanism says (serve it, spawn a thread, fork, queue it).
///
/// It owns the listener, so that workers that share it (threads, forked processes)
/// share the acceptor, and closing it (dropping the acceptor) closes the listener.
#[derive(Debug)]
pub struct Acceptor {
    listener: TcpListener,
    stop: Stop,
}

impl Acceptor {
    /// Makes accept(2) on `listener` give up after [`STOP_POLL`] (SO_RCVTIMEO), so the
    /// loop sees `stop` in time.
    pub fn new(listener: TcpListener, stop: Stop) -> io::Result<Self> {
        sys::listener::set_accept_timeout(&listener, STOP_POLL)?;
        Ok(Acceptor { listener, stop })
    }

    /// The next connection, or `None` once the stop flag is set.
    pub fn accept(&self) -> Option<TcpStream> {
        self.accept_when(|| true, || ())
    }

    /// As [`Self::accept`], taking a connection only while `has_room()` says so: at its
    /// cap the loop waits ([`AT_CAP_WAIT`] at a time) and new connections wait in the
    /// listen backlog.
    pub fn accept_below_cap(&self, has_room: impl FnMut() -> bool) -> Option<TcpStream> {
        self.accept_when(has_room, || ())
    }

    /// As [`Self::accept`], calling `tend` before every accept(2), so at least every
    /// [`STOP_POLL`] while no client comes (a pool replaces the workers that exited).
    pub fn accept_tending(&self, mut tend: impl FnMut()) -> Option<TcpStream> {
        self.accept_when(
            || {
                tend();
                true
            },
            || (),
        )
    }

    /// As [`Self::accept`], each accept(2) made holding what `take_turn` returns (an
    /// accept lock, released when dropped), so that the workers sharing the listener
    /// wait in accept one at a time.
    pub fn accept_in_turn<T>(&self, take_turn: impl FnMut() -> T) -> Option<TcpStream> {
        self.accept_when(|| true, take_turn)
    }

    fn accept_when<T>(
        &self,
        mut has_room: impl FnMut() -> bool,
        mut take_turn: impl FnMut() -> T,
    ) -> Option<TcpStream> {
        while !self.stop.is_set() {
            if !has_room() {
                std::thread::sleep(AT_CAP_WAIT);
                continue;
            }
            let accepted = {
                let _turn = take_turn();
                self.listener.accept()
            };
            match accepted {
                Ok((stream, _)) => return Some(stream),
                Err(err) => {
                    if classify(&err, &self.listener) == AcceptError::Backoff {
                        std::thread::sleep(BACKOFF);
                    }
                }
            }
        }
        None
    }
}
