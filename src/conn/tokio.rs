//! One connection driven by a tokio task: the async family's connection loop
//! (`async`, on a current-thread runtime, and `async-mt`, on a multi-thread one), and
//! the accept loop that starts a task per connection ([`serve_listener`]).
//!
//! The task alternates between reading and writing: it reads once, feeds the session,
//! and writes the whole reply before reading again, so a client that stops reading
//! stops being read from (back-pressure by construction, output bounded by
//! [`OUTPUT_HIGH_WATER`]).
//!
//! An idle connection owns no buffer: the task waits for readability holding nothing,
//! then reads into its thread's scratch buffer and feeds the session from there,
//! without an await in between; only the unconsumed tail of a partial request is kept.
//! Replies are built in an output buffer the thread lends to the task that is replying
//! (`Reply`) and takes back once they are written.
//!
//! A request that needs work is carried out by the task: a wait is an awaited timer,
//! which holds no thread; CPU work burns inline on the runtime's thread (the classic
//! async mistake: every task of that thread waits meanwhile), or with `--offload N` on
//! the runtime's blocking pool (`spawn_blocking`, at most N threads), awaited; a query
//! is awaited on a connection of the server's pool ([`pooled`], made when the
//! server starts, on its runtime), its rows pipelined.
//!
//! Time limits: the idle/header deadline bounds every wait for input and restarts only
//! when a request completes (a client trickling one byte at a time is still cut off);
//! a reply that cannot be written within the write timeout (the idle timeout, or
//! [`WRITE_STALL`](super::WRITE_STALL) without one) ends the connection. Errors that
//! need a lingering close get one, bounded by [`LINGER_TIME`].
//!
//! # What an idle connection costs
//!
//! Three blocks: tokio's `ScheduledIo` (the stream's registration with the reactor);
//! the task cell (state, scheduler handle, task id, list links, join waker, and a
//! pointer to the future); and the connection's future, boxed, which holds the stream,
//! the server's options (a pointer, shared with its database pool), the peer's address for `-v`, the session and its unconsumed input, the
//! idle/header deadline and the timer of its wait, and no buffer.
//!
//! Tokio aligns the first two to 128 bytes (against false sharing), and glibc's
//! posix_memalign carves an aligned block from a larger chunk and returns the ends to
//! its free lists, where few of this program's blocks fit: those two set the floor of
//! what a connection costs on this allocator, whatever the future holds. Hence the box:
//! inside the task cell, which is sized and aligned for the future, the future would be
//! padded and carved the same way, while a box is a plain malloc chunk. Below that
//! floor a connection would need another allocator or another runtime, not a smaller
//! future. The bytes of each block, and what `async` and `async-mt` measured, are in
//! docs/results.md, *What a held connection costs in memory*.

use std::cell::{Cell, RefCell};
use std::future::{self, Future};
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::time::timeout_at;

use super::accept::{self, AcceptError};
use super::intake::Intake;
use super::ready::SCRATCH_LEN;
use super::trim::IdleTrim;
use super::KEEP_OUT_CAPACITY;
use super::{is_disconnect, ConnOptions, Offload, LINGER_TIME};
use crate::db::pooled::{self, AsyncPool};
use crate::protocol::{Close, Outcome, Progress, Work, OUTPUT_HIGH_WATER};
use crate::sys::signal::{Stop, STOP_POLL};
use crate::vlog;
use crate::work::cpu;

thread_local! {
    /// Where reads land; borrowed only between two awaits, so tasks on one thread
    /// never see each other's bytes.
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH_LEN].into_boxed_slice());

    /// The output buffer lent to the task that is replying ([`Reply`]), and given
    /// back once its replies are out.
    static SPARE_OUT: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Accepts from `listener` on `runtime` until `stop` is set, a task per connection
/// ([`serve`]). Returning drops the accept loop; dropping the runtime then drops every
/// connection task, closing its socket, and the pool's connections with them.
pub fn serve_listener(
    runtime: &Runtime,
    listener: std::net::TcpListener,
    opts: ConnOptions,
    stop: &Stop,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let server = Arc::new(Server::new(opts)?);
    runtime.block_on(async move {
        let listener = TcpListener::from_std(listener)?;
        tokio::select! {
            () = accept_loop(&listener, server) => {}
            () = stopped(stop) => {}
        }
        Ok(())
    })
}

/// What every connection task of a server shares: the options, and the pool of
/// connections to the database when it has one.
#[derive(Debug)]
pub struct Server {
    opts: ConnOptions,
    db: Option<AsyncPool>,
}

impl Server {
    /// The server `opts` describe; its database pool, of `--db-pool` connections or
    /// [`pooled::default_size`], connects as requests need it. An error if the
    /// database's address does not parse.
    pub fn new(opts: ConnOptions) -> io::Result<Server> {
        let db = match opts.handlers.database {
            Some(database) => {
                let size = database.pool.map_or_else(pooled::default_size, usize::from);
                Some(AsyncPool::new(database.url, size).map_err(io::Error::other)?)
            }
            None => None,
        };
        Ok(Server { opts, db })
    }
}

/// Every connection task shares the server (a pointer in each task's future, not a
/// copy: see the module documentation).
async fn accept_loop(listener: &TcpListener, server: Arc<Server>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                // Boxed: the task cell, aligned to 128 bytes, then holds a pointer
                // (see the module documentation).
                tokio::spawn(Box::pin(serve(stream, peer, Arc::clone(&server))));
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

/// Serves `stream`, from `peer`, until the peer closes, the session ends it, it times
/// out or fails. Cancelling the future (dropping the task) closes the connection.
///
/// Not an `async fn`: one keeps a copy of its arguments beside the variables they move
/// into, 88 bytes more in the future of every connection.
#[allow(clippy::manual_async_fn)]
pub fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    server: Arc<Server>,
) -> impl Future<Output = ()> {
    async move {
        match run(&mut stream, &server).await {
            Ok(()) => vlog!("{peer}: closed"),
            Err(err) if is_disconnect(&err) => vlog!("{peer}: peer went away: {err}"),
            Err(err) => vlog!("{peer}: closed: {err}"),
        }
    }
}

/// The connection's loop: wait for input, read and feed it, write the replies, and again.
async fn run(stream: &mut TcpStream, server: &Server) -> io::Result<()> {
    let opts = &server.opts;
    opts.apply(SockRef::from(&*stream))?;
    let mut intake = Intake::new(opts);
    let mut deadline = idle_deadline(opts);
    loop {
        let input = read(stream, &mut intake);
        let input = match deadline {
            Some(deadline) => timeout_at(deadline.into(), input).await??,
            None => input.await?,
        };
        let Some((mut progress, mut out)) = input else {
            return Ok(());
        };
        loop {
            if progress.completed {
                deadline = idle_deadline(opts);
            }
            // Only these two outlive the write (the work owed is asked for after it): the
            // future of every connection stays as small as it was.
            let (consumed, close) = (progress.consumed, progress.close);
            if !out.is_empty() {
                // Corked if asked, so the reply leaves in full segments.
                if opts.cork {
                    SockRef::from(&*stream).set_cork(true)?;
                }
                let deadline = Instant::now() + opts.write_timeout();
                timeout_at(deadline.into(), stream.write_all(&out)).await??;
                if opts.cork {
                    SockRef::from(&*stream).set_cork(false)?;
                }
                out.clear();
            }
            match close {
                Some(Close::Linger) => {
                    drop(out);
                    if SockRef::from(&*stream).shutdown(Shutdown::Write).is_ok() {
                        let deadline = Instant::now() + LINGER_TIME;
                        let _ = timeout_at(deadline.into(), discard_input(stream)).await;
                    }
                    return Ok(());
                }
                Some(Close::AfterFlush) => return Ok(()),
                None => {}
            }
            if let Some(owed) = intake.work_owed() {
                // The replies before it are out: a connection waiting on its work holds
                // no output buffer, and the future none across this await. The timer is
                // awaited directly: a future around it would hold the work beside it.
                drop(out);
                let outcome = match owed {
                    Work::Wait(amount) => {
                        tokio::time::sleep(amount).await;
                        Outcome::Done
                    }
                    Work::Cpu(amount) => {
                        burn(amount, opts.offload).await;
                        Outcome::Done
                    }
                    Work::Db(query, _) => match &server.db {
                        Some(pool) => pool.read(query).await,
                        None => Outcome::Failed("database: this server has no pool".into()),
                    },
                };
                out = Reply::lend();
                progress = intake.finish_work(&mut out, outcome);
                continue;
            }
            // Input held back at the high-water mark is fed now that the output is
            // out; a partial request (nothing consumed) waits for more bytes.
            if !intake.has_pending() || consumed == 0 {
                break;
            }
            progress = intake.resume(&mut out);
            debug_assert!(out.len() < OUTPUT_HIGH_WATER + SCRATCH_LEN);
        }
    }
}

/// Burns `amount` of CPU: inline on the runtime's thread, or on its blocking pool with
/// `--offload N`, awaited.
async fn burn(amount: Duration, offload: Offload) {
    match offload {
        Offload::Pool(_) => {
            // A burn that panicked or a runtime shutting down: the reply goes anyway.
            let _ = tokio::task::spawn_blocking(move || cpu::burn(amount)).await;
        }
        Offload::Unset | Offload::Inline => cpu::burn(amount),
    }
}

/// Caps the runtime's blocking pool at `--offload N`'s N, the threads `spawn_blocking`
/// runs CPU work on; without it tokio's own cap stands (unused: no CPU work goes there).
pub fn cap_blocking_pool(builder: &mut tokio::runtime::Builder, opts: &ConnOptions) {
    if let Offload::Pool(threads) = opts.offload {
        builder.max_blocking_threads(usize::from(threads));
    }
}

/// When the idle/header timeout ends the connection, counted from now.
fn idle_deadline(opts: &ConnOptions) -> Option<Instant> {
    opts.timeout.map(|t| Instant::now() + t)
}

/// Waits for input, reads what the socket holds into the thread's scratch buffer and
/// feeds it to the session, replying into a lent [`Reply`]; `None` at end of input.
fn read<'a>(
    stream: &'a mut TcpStream,
    intake: &'a mut Intake,
) -> impl Future<Output = io::Result<Option<(Progress, Reply)>>> + 'a {
    future::poll_fn(move |cx| {
        poll_scratch(stream, cx, |data| {
            (!data.is_empty()).then(|| {
                let mut out = Reply::lend();
                let progress = intake.absorb(data, &mut out);
                (progress, out)
            })
        })
    })
}

/// The read side of a lingering close: reads and discards until the peer closes or
/// the socket fails.
fn discard_input(stream: &mut TcpStream) -> impl Future<Output = ()> + '_ {
    future::poll_fn(move |cx| loop {
        match ready!(poll_scratch(stream, cx, <[u8]>::len)) {
            Ok(1..) => {}
            Ok(0) | Err(_) => return Poll::Ready(()),
        }
    })
}

/// Polls a read of `stream` into the thread's scratch buffer and hands the bytes read
/// (none at end of input) to `consume` within the same poll, so no wait ever holds a
/// buffer.
///
/// The read is tokio's `poll_read`, which takes a read that did not fill the buffer as
/// proof that the socket is drained and waits for the next readiness event without
/// another read; a `try_read` after each wait would make one more read(2) per
/// request, failing with EAGAIN (docs/results.md, *What the async models cost per
/// request*).
fn poll_scratch<T>(
    stream: &mut TcpStream,
    cx: &mut Context<'_>,
    consume: impl FnOnce(&[u8]) -> T,
) -> Poll<io::Result<T>> {
    SCRATCH.with_borrow_mut(|scratch| {
        let mut buf = ReadBuf::new(scratch);
        ready!(Pin::new(stream).poll_read(cx, &mut buf))?;
        Poll::Ready(Ok(consume(buf.filled())))
    })
}

/// The output buffer of one read's replies, lent by the thread's spare
/// ([`SPARE_OUT`]): tasks that reply one after another on a thread pass one buffer
/// round, and an idle connection owns none. Dropping it gives it back, emptied, unless
/// the spare was replaced meanwhile (another task replied while this one waited to
/// write) or it grew beyond [`KEEP_OUT_CAPACITY`]; then it is freed.
struct Reply(Vec<u8>);

impl Reply {
    fn lend() -> Self {
        Reply(SPARE_OUT.with(Cell::take))
    }
}

impl Deref for Reply {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for Reply {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        let mut out = std::mem::take(&mut self.0);
        if out.capacity() > KEEP_OUT_CAPACITY {
            return;
        }
        out.clear();
        // A task dropped while the runtime's thread exits finds no spare: it frees.
        let _ = SPARE_OUT.try_with(|spare| {
            let held = spare.take();
            spare.set(if held.capacity() == 0 { out } else { held });
        });
    }
}
