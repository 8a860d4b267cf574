//! One connection driven by a tokio task: the async family's connection loop
//! (`async`, on a current-thread runtime, and `async-mt`, on a multi-thread one), and
//! the accept loop that starts a task per connection ([`serve_listener`]).
//!
//! The task alternates between reading and writing: it reads once, feeds the session,
//! and writes the whole reply before reading again, so a client that stops reading
//! stops being read from (back-pressure by construction, output bounded by
//! [`OUTPUT_HIGH_WATER`]).
//!
//! An idle connection owns no read buffer: the task waits for readability holding
//! nothing, then reads into its thread's scratch buffer and feeds the session from
//! there, without an await in between; only the unconsumed tail of a partial request is
//! kept. Thousands of idle keep-alive connections then cost a task and a session each.
//!
//! Time limits: the idle/header deadline bounds every wait for input and restarts only
//! when a request completes (a client trickling one byte at a time is still cut off);
//! a reply that cannot be written within the write timeout (the idle timeout, or
//! [`WRITE_STALL`](super::WRITE_STALL) without one) ends the connection. Errors that
//! need a lingering close get one, bounded by [`LINGER_TIME`].

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::time::Instant;

use socket2::SockRef;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

use super::accept::{self, AcceptError};
use super::intake::Intake;
use super::ready::SCRATCH_LEN;
use super::trim::IdleTrim;
use super::KEEP_OUT_CAPACITY;
use super::{is_disconnect, ConnOptions, LINGER_TIME};
use crate::protocol::{Close, Progress, OUTPUT_HIGH_WATER};
use crate::sys::signal::{Stop, STOP_POLL};
use crate::vlog;

thread_local! {
    /// Where reads land; borrowed only between two awaits, so tasks on one thread
    /// never see each other's bytes.
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH_LEN].into_boxed_slice());
}

/// Accepts from `listener` on `runtime` until `stop` is set, a task per connection
/// ([`serve`]). Returning drops the accept loop; dropping the runtime then drops every
/// connection task, closing its socket.
pub fn serve_listener(
    runtime: &Runtime,
    listener: std::net::TcpListener,
    opts: ConnOptions,
    stop: &Stop,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    runtime.block_on(async move {
        let listener = TcpListener::from_std(listener)?;
        tokio::select! {
            () = accept_loop(&listener, opts) => {}
            () = stopped(stop) => {}
        }
        Ok(())
    })
}

async fn accept_loop(listener: &TcpListener, opts: ConnOptions) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream, opts));
            }
            Err(err) => {
                if accept::classify(&err, listener) == AcceptError::Backoff {
                    tokio::time::sleep(accept::BACKOFF).await;
                }
            }
        }
    }
}

/// Completes once the stop flag is set, looking every [`STOP_POLL`], meanwhile giving
/// the memory of finished connections back ([`IdleTrim`]). Every task the runtime has
/// is a connection's: the accept loop and this one run in `block_on`.
async fn stopped(stop: &Stop) {
    let metrics = tokio::runtime::Handle::current().metrics();
    let mut trim = IdleTrim::new();
    let mut tick = tokio::time::interval(STOP_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.is_set() {
        trim.observe(metrics.num_alive_tasks());
        tick.tick().await;
    }
}

/// Serves `stream` until the peer closes, the session ends it, it times out or fails.
/// Cancelling the future (dropping the task) closes the connection.
pub async fn serve(stream: TcpStream, opts: ConnOptions) {
    let peer = stream.peer_addr().ok();
    match run(stream, &opts).await {
        Ok(()) => vlog!("{peer:?}: closed"),
        Err(err) if is_disconnect(&err) => vlog!("{peer:?}: peer went away: {err}"),
        Err(err) => vlog!("{peer:?}: closed: {err}"),
    }
}

/// A connection's protocol state and the bytes it holds between reads.
struct Conn {
    /// The session and the input it has not consumed yet (a partial request, or input
    /// held back by the output high-water mark).
    intake: Intake,
    out: Vec<u8>,
}

async fn run(mut stream: TcpStream, opts: &ConnOptions) -> io::Result<()> {
    opts.apply(SockRef::from(&stream))?;
    let mut conn = Conn {
        intake: Intake::new(opts.protocol),
        out: Vec::new(),
    };
    let restart = || opts.timeout.map(|t| Instant::now() + t);
    let mut deadline = restart();
    loop {
        within(deadline, stream.readable()).await?;
        let mut progress = match conn.read(&stream) {
            Ok(Some(progress)) => progress,
            Ok(None) => return Ok(()),
            Err(err) if is_retry(&err) => continue,
            Err(err) => return Err(err),
        };
        loop {
            if progress.completed {
                deadline = restart();
            }
            write_out(&mut stream, &conn.out, opts).await?;
            conn.written();
            match progress.close {
                Some(Close::Linger) => {
                    linger(stream).await;
                    return Ok(());
                }
                Some(Close::AfterFlush) => return Ok(()),
                None => {}
            }
            // Input held back at the high-water mark is fed now that the output is
            // out; a partial request (nothing consumed) waits for more bytes.
            if !conn.intake.has_pending() || progress.consumed == 0 {
                break;
            }
            progress = conn.feed_pending();
        }
    }
}

impl Conn {
    /// Reads what the socket holds and feeds it to the session; `None` at end of input.
    fn read(&mut self, stream: &TcpStream) -> io::Result<Option<Progress>> {
        SCRATCH.with_borrow_mut(|scratch| {
            let n = stream.try_read(scratch)?;
            if n == 0 {
                return Ok(None);
            }
            Ok(Some(self.intake.absorb(&scratch[..n], &mut self.out)))
        })
    }

    /// Feeds the input held back by the output high-water mark, now that the output
    /// is out.
    fn feed_pending(&mut self) -> Progress {
        let progress = self.intake.resume(&mut self.out);
        debug_assert!(self.out.len() < OUTPUT_HIGH_WATER + SCRATCH_LEN);
        progress
    }

    /// The output was sent: keep a small buffer for the next reply, free a large one.
    fn written(&mut self) {
        if self.out.capacity() > KEEP_OUT_CAPACITY {
            self.out = Vec::new();
        } else {
            self.out.clear();
        }
    }
}

/// Writes all of `out` within the write timeout, corked if asked so the reply leaves in full
/// segments.
async fn write_out(stream: &mut TcpStream, out: &[u8], opts: &ConnOptions) -> io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    if opts.cork {
        SockRef::from(&*stream).set_cork(true)?;
    }
    let deadline = Some(Instant::now() + opts.write_timeout());
    within(deadline, stream.write_all(out)).await?;
    if opts.cork {
        SockRef::from(&*stream).set_cork(false)?;
    }
    Ok(())
}

/// Lingering close: stop sending, then read and discard until the peer closes or
/// [`LINGER_TIME`] passes, so our last reply is not destroyed by a reset.
async fn linger(mut stream: TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut discard = [0u8; 1024];
    let drain = async { while let Ok(1..) = stream.read(&mut discard).await {} };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

/// Runs `operation`, failing with `TimedOut` if `deadline` passes first.
async fn within<T>(
    deadline: Option<Instant>,
    operation: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline.into(), operation)
            .await
            .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into())),
        None => operation.await,
    }
}

fn is_retry(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}
