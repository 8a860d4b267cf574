//! epoll(7) for the models that use it directly: the flags for an interest, what an
//! event means, a wait bounded by the stop-flag period or the loop's next timer
//! (epoll, epoll-et, epoll-threads, reuseport), and the level-triggered reactor that
//! `epoll` runs once, `reuseport` once per thread and `epoll-prefork` once per worker.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use slab::Slab;

use super::accept::{self, AcceptError};
use super::offload::{Finished, LoopWork};
use super::ready::{Interest, ReadyConn, ReadyCtx, Step, Sweeper};
use super::ConnOptions;
use crate::sys::signal::Stop;

const LISTENER: u64 = u64::MAX;
/// The event of the descriptor work comes back through (a pool's queue, the database
/// pipeline): there is finished work to take.
pub const COMPLETIONS: u64 = u64::MAX - 1;

struct Entry {
    conn: ReadyConn<TcpStream>,
    registered: Interest,
}

/// The epoll flags for an interest. EPOLLRDHUP only while reading: level-triggered, a
/// peer's half-close would otherwise be reported on every wait while back-pressure
/// keeps the connection from reading, and the loop would spin until the peer reads.
pub fn epoll_flags(interest: Interest) -> EpollFlags {
    let mut flags = EpollFlags::empty();
    if interest.read {
        flags |= EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP;
    }
    if interest.write {
        flags |= EpollFlags::EPOLLOUT;
    }
    flags
}

/// What an epoll event means for a connection: (readable, writable). A hang-up or an
/// error counts as both, so the connection's next read or write meets it and closes.
pub fn readiness(flags: EpollFlags) -> (bool, bool) {
    let failed = EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR;
    (
        flags.intersects(EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP | failed),
        flags.intersects(EpollFlags::EPOLLOUT | failed),
    )
}

/// Waits for events at most `timeout` (at most the stop-flag period, so the caller
/// checks its stop flag in time: [`LoopWork::timeout`]), to the nanosecond; a wait
/// interrupted by a signal reports none. One door for every epoll loop.
pub use crate::sys::epoll_wait::wait;

/// One level-triggered epoll reactor: accepts from `listener` and serves its
/// connections on the calling thread until `stop` is set. The `epoll` model runs one;
/// `reuseport` runs one per thread, each with its own listener ([`super::reactors`]),
/// and `epoll-prefork` one per worker process. Each has its own [`LoopWork`] (made
/// here, so a forked worker starts its pool's threads itself).
///
/// The registration of a connection changes only when its interest does (rarely: a
/// full output buffer, work in flight or a lingering close).
pub fn reactor(listener: TcpListener, opts: ConnOptions, stop: &Stop) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    epoll.add(&listener, EpollEvent::new(EpollFlags::EPOLLIN, LISTENER))?;
    let mut ctx = ReadyCtx::new(opts, false, LoopWork::new(&opts, stop)?);
    if let Some(done) = ctx.work.completions() {
        epoll.add(done, EpollEvent::new(EpollFlags::EPOLLIN, COMPLETIONS))?;
    }
    let mut pause = accept::Pause::default();
    let mut conns: Slab<Entry> = Slab::new();
    let mut events = vec![EpollEvent::empty(); 1024];
    let mut finished: Vec<Finished> = Vec::new();
    let mut sweeper = Sweeper::new(Instant::now());
    while !stop.is_set() {
        let ready = wait(&epoll, &mut events, ctx.work.timeout(Instant::now()))?;
        let now = Instant::now();
        for event in &events[..ready] {
            match event.data() {
                LISTENER => {
                    if accept_all(&listener, &epoll, &mut conns, &ctx.opts, now)?
                        == AcceptError::Backoff
                    {
                        epoll.modify(
                            &listener,
                            &mut EpollEvent::new(EpollFlags::empty(), LISTENER),
                        )?;
                        pause.start(now);
                    }
                }
                COMPLETIONS => ctx.work.take_completed(&mut finished),
                key => {
                    let key = key as usize;
                    let (readable, writable) = readiness(event.events());
                    settle(&epoll, &mut conns, key, |conn| {
                        conn.on_ready(key, readable, writable, &mut ctx, now)
                    })?;
                }
            }
        }
        ctx.work.take_due(now, &mut finished);
        for done in finished.drain(..) {
            settle(&epoll, &mut conns, done.key, |conn| {
                conn.on_finished(done, &mut ctx, now)
            })?;
        }
        if pause.resume_due(now) {
            epoll.modify(
                &listener,
                &mut EpollEvent::new(EpollFlags::EPOLLIN, LISTENER),
            )?;
        }
        if sweeper.due(now) {
            conns.retain(|_, entry| !entry.conn.expired(now));
        }
    }
    Ok(())
}

/// Lets `serve` handle the connection in slot `key` (if it is still open), then drops
/// it or brings its registration in line with its interest.
fn settle(
    epoll: &Epoll,
    conns: &mut Slab<Entry>,
    key: usize,
    serve: impl FnOnce(&mut ReadyConn<TcpStream>) -> Step,
) -> io::Result<()> {
    let Some(entry) = conns.get_mut(key) else {
        return Ok(());
    };
    match serve(&mut entry.conn) {
        // Closing the socket removes it from the epoll set.
        Step::Close => drop(conns.remove(key)),
        Step::Keep => {
            let interest = entry.conn.interest();
            if interest != entry.registered {
                let mut event = EpollEvent::new(epoll_flags(interest), key as u64);
                epoll.modify(entry.conn.stream(), &mut event)?;
                entry.registered = interest;
            }
        }
    }
    Ok(())
}

/// Accepts every waiting connection; returns `Backoff` if a resource limit stopped it.
fn accept_all(
    listener: &TcpListener,
    epoll: &Epoll,
    conns: &mut Slab<Entry>,
    opts: &ConnOptions,
    now: Instant,
) -> io::Result<AcceptError> {
    accept::accept_all(listener, |stream| {
        let Ok(conn) = ReadyConn::new(stream, opts, now) else {
            return Ok(());
        };
        let slot = conns.vacant_entry();
        let interest = conn.interest();
        epoll.add(
            conn.stream(),
            EpollEvent::new(epoll_flags(interest), slot.key() as u64),
        )?;
        slot.insert(Entry {
            conn,
            registered: interest,
        });
        Ok(())
    })
}
