//! epoll(7) for the models that use it directly: the flags for an interest, what an
//! event means, a wait bounded by the stop-flag period (epoll, epoll-et, epoll-threads,
//! reuseport), and the level-triggered reactor that `epoll` runs once and `reuseport`
//! once per thread.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use slab::Slab;

use super::accept::{self, AcceptError};
use super::ready::{Interest, ReadyConn, ReadyCtx, Step, Sweeper};
use super::ConnOptions;
use crate::sys::signal::{Stop, STOP_POLL};

const LISTENER: u64 = u64::MAX;

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

/// Waits for events at most [`STOP_POLL`], so the caller checks its stop flag in time;
/// a wait interrupted by a signal reports none.
pub fn wait(epoll: &Epoll, events: &mut [EpollEvent]) -> io::Result<usize> {
    let timeout = EpollTimeout::try_from(STOP_POLL).expect("STOP_POLL fits an epoll timeout");
    match epoll.wait(events, timeout) {
        Ok(n) => Ok(n),
        Err(nix::errno::Errno::EINTR) => Ok(0),
        Err(err) => Err(err.into()),
    }
}

/// One level-triggered epoll reactor: accepts from `listener` and serves its
/// connections on the calling thread until `stop` is set. The `epoll` model runs one;
/// `reuseport` runs one per thread, each with its own listener ([`super::reactors`]).
///
/// The registration of a connection changes only when its interest does (rarely: a
/// full output buffer or a lingering close).
pub fn reactor(listener: TcpListener, opts: ConnOptions, stop: &Stop) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    epoll.add(&listener, EpollEvent::new(EpollFlags::EPOLLIN, LISTENER))?;
    let mut pause = accept::Pause::default();
    let mut conns: Slab<Entry> = Slab::new();
    let mut ctx = ReadyCtx::new(opts, false);
    let mut events = vec![EpollEvent::empty(); 1024];
    let mut sweeper = Sweeper::new(Instant::now());
    while !stop.is_set() {
        let ready = wait(&epoll, &mut events)?;
        let now = Instant::now();
        for event in &events[..ready] {
            if event.data() == LISTENER {
                if accept_all(&listener, &epoll, &mut conns, &ctx.opts, now)?
                    == AcceptError::Backoff
                {
                    epoll.modify(
                        &listener,
                        &mut EpollEvent::new(EpollFlags::empty(), LISTENER),
                    )?;
                    pause.start(now);
                }
                continue;
            }
            let key = event.data() as usize;
            let Some(entry) = conns.get_mut(key) else {
                continue;
            };
            let (readable, writable) = readiness(event.events());
            match entry.conn.on_ready(readable, writable, &mut ctx, now) {
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
