//! One connection served to its end on the calling thread, with blocking I/O.
//!
//! The blocking family (blocking, fork, threads, prefork, prethread, threadpool) calls
//! [`serve`] for each accepted connection with a std socket; `coroutines` calls it with
//! a may socket, whose reads and writes look blocking but suspend only the coroutine
//! ([`BlockingStream`] is what the loop needs of either).
//!
//! Time limits use the socket's own timeouts, so the steady state costs no extra system
//! call. Reads wait at most until the idle/header deadline (SO_RCVTIMEO, cut short only
//! while a request is incomplete, so a client trickling bytes is still cut off in time);
//! writes at most the timeout (SO_SNDTIMEO), so a client that never reads cannot hold a
//! worker forever. Writes are bounded even when the idle timeout is off (echo's
//! default, where an idle connection may stay forever): a reply that waits
//! [`WRITE_STALL`](super::WRITE_STALL) on a client that does not read it all ends the
//! connection, or one never-reading client would capture a worker of a pool for good. A caller that must notice the stop flag while a client holds it (the
//! single-threaded `blocking` model) passes it: every wait is then at most
//! [`STOP_POLL`], and the deadline is checked on each wake-up.
//!
//! A request that needs work is carried out where the connection is served: a thread
//! (or a process) burns the CPU and sleeps through a wait, blocking only itself; a
//! coroutine burns inline and sleeps cooperatively, so the other coroutines of its
//! thread run meanwhile ([`BlockingStream::carry_out`]). A thread or process queries
//! the database on a connection of its own; a coroutine hands the query to a pool of
//! threads and parks. The replies before it in the
//! same read leave with its reply.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use socket2::SockRef;

use super::{is_disconnect, ConnOptions, LINGER_TIME};
use crate::db;
use crate::protocol::{Close, Outcome, Work};
use crate::sys::signal::{Stop, STOP_POLL};
use crate::vlog;
use crate::work;

/// Bytes a blocking connection reads at once; also its bound on unconsumed input.
const READ_BUF: usize = 16 * 1024;

/// A connected socket whose reads and writes wait, and whose waits are bounded by
/// timeouts: std's, or a may coroutine's.
pub trait BlockingStream: Read + Write {
    /// The socket itself, for options (TCP_NODELAY, TCP_CORK) and shutdown(2).
    fn sock(&self) -> SockRef<'_>;
    /// Bounds each read's wait; a read that times out fails with `WouldBlock` or
    /// `TimedOut`.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    /// Bounds each write's wait, as [`Self::set_read_timeout`] does reads.
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    /// Carries out a request's work the way the stream's owner waits.
    fn carry_out(work: Work) -> Outcome
    where
        Self: Sized;
}

/// A thread's socket: the timeouts are SO_RCVTIMEO and SO_SNDTIMEO.
impl BlockingStream for TcpStream {
    fn sock(&self) -> SockRef<'_> {
        SockRef::from(self)
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }

    /// A thread blocks: it serves this connection alone (and queries on a connection
    /// of its own).
    fn carry_out(work: Work) -> Outcome {
        work::block(work)
    }
}

/// A coroutine's socket: non-blocking underneath; may parks the coroutine on
/// would-block and wakes it on readiness or when its own timeout expires.
impl BlockingStream for may::net::TcpStream {
    fn sock(&self) -> SockRef<'_> {
        SockRef::from(self.inner())
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        may::net::TcpStream::set_read_timeout(self, timeout)
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        may::net::TcpStream::set_write_timeout(self, timeout)
    }

    /// CPU inline (a coroutine holds its thread while it computes, as gevent's
    /// greenlets do); a wait is may's sleep, which parks the coroutine and lets its
    /// thread run the others: a thread's sleep would stall them all. A query goes to
    /// a pool of threads with connections, the coroutine parked meanwhile
    /// ([`db::parked`]), for the same reason.
    fn carry_out(work: Work) -> Outcome {
        match work {
            Work::Cpu(amount) => work::cpu::burn(amount),
            Work::Wait(amount) => may::coroutine::sleep(amount),
            Work::Db(query, url) => return db::parked::read(query, url),
        }
        Outcome::Done
    }
}

/// Serves `stream` until the peer closes, the session ends it, it times out or fails,
/// or `stop` (if given) is set.
pub fn serve(stream: impl BlockingStream, opts: &ConnOptions, stop: Option<&Stop>) {
    let peer = stream.sock().peer_addr().ok().and_then(|a| a.as_socket());
    match run(stream, opts, stop) {
        Ok(()) => vlog!("{peer:?}: closed"),
        Err(err) if is_disconnect(&err) => vlog!("{peer:?}: peer went away: {err}"),
        Err(err) => vlog!("{peer:?}: closed: {err}"),
    }
}

fn run<S: BlockingStream>(
    mut stream: S,
    opts: &ConnOptions,
    stop: Option<&Stop>,
) -> io::Result<()> {
    opts.apply(stream.sock())?;
    let mut clock = Clock::new(&stream, opts.timeout, opts.write_timeout(), stop)?;
    let mut session = opts.protocol.session(opts.handlers);
    let mut buf = vec![0u8; READ_BUF];
    let mut filled = 0;
    let mut out = Vec::new();
    loop {
        if filled == buf.len() {
            // The session refused a full buffer without asking to close: cannot happen
            // with our protocols (http answers 431 first), but never spin on it.
            return Err(io::Error::other("request larger than the read buffer"));
        }
        let n = match stream.read(&mut buf[filled..]) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) if is_timeout(&err) => {
                clock.woke_waiting()?;
                continue;
            }
            Err(err) => return Err(err),
        };
        filled += n;
        let mut completed = false;
        loop {
            let mut progress = session.feed(&buf[..filled], &mut out);
            buf.copy_within(progress.consumed..filled, 0);
            filled -= progress.consumed;
            if let Some(owed) = progress.work {
                let outcome = carry_out::<S>(owed, stop)?;
                progress = progress.then(session.finish_work(&mut out, outcome));
            }
            completed |= progress.completed;
            if !out.is_empty() {
                write_out(&mut stream, &out, opts.cork, &clock)?;
                out.clear();
            }
            if let Some(close) = progress.close {
                if close == Close::Linger {
                    linger(&mut stream, &mut buf);
                }
                return Ok(());
            }
            if progress.consumed == 0 || filled == 0 {
                break;
            }
        }
        clock.after_read(&stream, completed)?;
    }
}

/// Carries out `work` as the stream's owner does; a server that must notice its stop
/// flag (only thread streams are given one) sleeps through a wait in slices of
/// [`STOP_POLL`], and gives up on the connection once it is set.
fn carry_out<S: BlockingStream>(owed: Work, stop: Option<&Stop>) -> io::Result<Outcome> {
    match stop {
        Some(stop) => work::block_unless_stopped(owed, stop)
            .ok_or_else(|| io::Error::other("server stopping")),
        None => Ok(S::carry_out(owed)),
    }
}

/// Writes all of `out`, corked if asked so the reply leaves in full segments.
fn write_out(
    stream: &mut impl BlockingStream,
    mut out: &[u8],
    cork: bool,
    clock: &Clock,
) -> io::Result<()> {
    if cork {
        stream.sock().set_cork(true)?;
    }
    let started = Instant::now();
    while !out.is_empty() {
        match stream.write(out) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                out = &out[n..];
                // SO_SNDTIMEO only bounds a wait with no progress at all; a client that
                // takes a byte now and then must still take the reply in time.
                if !out.is_empty() && started.elapsed() >= clock.write_timeout {
                    return Err(io::ErrorKind::TimedOut.into());
                }
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) if is_timeout(&err) => clock.woke_writing(started)?,
            Err(err) => return Err(err),
        }
    }
    if cork {
        stream.sock().set_cork(false)?;
    }
    Ok(())
}

/// Lingering close: stop sending, then read and discard until the peer closes or
/// [`LINGER_TIME`] passes, so our last reply is not destroyed by a reset.
fn linger(stream: &mut impl BlockingStream, buf: &mut [u8]) {
    if stream.sock().shutdown(Shutdown::Write).is_err() {
        return;
    }
    let give_up = Instant::now() + LINGER_TIME;
    loop {
        let left = give_up.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The connection's time limits, kept in the socket's SO_RCVTIMEO and SO_SNDTIMEO.
struct Clock<'a> {
    timeout: Option<Duration>,
    /// How long one reply may take to write.
    write_timeout: Duration,
    /// When the idle/header timeout expires.
    deadline: Instant,
    /// SO_RCVTIMEO currently holds less than the full timeout.
    shortened: bool,
    stop: Option<&'a Stop>,
}

impl<'a> Clock<'a> {
    fn new(
        stream: &impl BlockingStream,
        timeout: Option<Duration>,
        write_timeout: Duration,
        stop: Option<&'a Stop>,
    ) -> io::Result<Self> {
        let (read_wait, write_wait) = match stop {
            Some(_) => (
                Some(timeout.map_or(STOP_POLL, |t| t.min(STOP_POLL))),
                write_timeout.min(STOP_POLL),
            ),
            None => (timeout, write_timeout),
        };
        stream.set_read_timeout(read_wait)?;
        stream.set_write_timeout(Some(write_wait))?;
        Ok(Clock {
            timeout,
            write_timeout,
            deadline: Instant::now() + timeout.unwrap_or_default(),
            shortened: false,
            stop,
        })
    }

    /// A read timed out: give up if stopping or past the deadline, else wait again.
    fn woke_waiting(&self) -> io::Result<()> {
        self.check_stop()?;
        if self.stop.is_none() || (self.timeout.is_some() && Instant::now() >= self.deadline) {
            return Err(io::ErrorKind::TimedOut.into());
        }
        Ok(())
    }

    /// A write started at `started` timed out: give up if stopping or out of time.
    fn woke_writing(&self, started: Instant) -> io::Result<()> {
        self.check_stop()?;
        if self.stop.is_none() || started.elapsed() >= self.write_timeout {
            return Err(io::ErrorKind::TimedOut.into());
        }
        Ok(())
    }

    fn check_stop(&self) -> io::Result<()> {
        match self.stop {
            Some(stop) if stop.is_set() => Err(io::Error::other("server stopping")),
            _ => Ok(()),
        }
    }

    /// After a read was processed: a completed request restarts the deadline; an
    /// incomplete one keeps it, so the next wait is cut to what is left.
    fn after_read(&mut self, stream: &impl BlockingStream, completed: bool) -> io::Result<()> {
        let Some(timeout) = self.timeout else {
            return Ok(());
        };
        let now = Instant::now();
        if completed {
            self.deadline = now + timeout;
            if self.shortened {
                stream.set_read_timeout(Some(timeout))?;
                self.shortened = false;
            }
            return Ok(());
        }
        let left = self.deadline.saturating_duration_since(now);
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        // With a stop flag every wait is already short and the deadline is checked on
        // each wake-up; otherwise the socket's timeout is the deadline.
        if self.stop.is_none() {
            stream.set_read_timeout(Some(left))?;
            self.shortened = true;
        }
        Ok(())
    }
}
