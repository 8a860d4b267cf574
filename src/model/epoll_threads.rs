//! `epoll-threads`: one epoll set shared by N threads, with EPOLLONESHOT (seed 004's
//! closing discussion).
//!
//! Every thread waits on the same epoll descriptor. A socket is registered with
//! EPOLLONESHOT, so the kernel reports it to one waiting thread and then disarms it:
//! no other thread hears of it until the thread that handled it re-arms it
//! (EPOLL_CTL_MOD) with the connection's next interest. A connection is therefore
//! handled by one thread at a time without the threads coordinating; its mutex is only
//! ever contended by the deadline sweep, which skips a connection that is busy.
//!
//! The listener is one-shot too: the thread that hears of it accepts until EAGAIN and
//! re-arms it, so new connections wake one thread, not all of them.
//!
//! The epoll data of a connection carries its slab key and a generation: an event
//! dequeued just before the sweep closed that connection must not reach a newer
//! connection that took over the same key.
//!
//! Work: the N threads run one loop, so they share one work pool (`--offload N`),
//! whose queue is registered one-shot like the listener: the thread that hears of it
//! takes what finished, re-arms it and resumes those connections. Without
//! `--offload`, a wait is a timer of the thread that started it, folded into that
//! thread's epoll_wait timeout (no thread of its own, as in every loop), and `/cpu`
//! burns on the thread that read the request, while the other threads serve on. The
//! threads share one pipelined PostgreSQL connection for their queries, as they would
//! share a pool: registered one-shot like its queue.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use slab::Slab;

use super::{Family, ModelInfo, OffloadUse, Workers};
use super::{Launch, Stop};
use crate::conn::accept::{self, AcceptError};
use crate::conn::epoll::{epoll_flags, readiness, wait, COMPLETIONS};
use crate::conn::offload::{Finished, LoopWork};
use crate::conn::ready::{Interest, ReadyConn, ReadyCtx, Step, Sweeper};
use crate::conn::ConnOptions;

pub static INFO: ModelInfo = ModelInfo {
    name: "epoll-threads",
    family: Family::Readiness,
    workers: Workers::Cpus,
    mechanism: "one epoll set shared by N threads, EPOLLONESHOT, re-armed",
    origin: "seed 004",
    reuse_port: false,
    descriptor_ceiling: None,
    announces_when_ready: false,
    offload: OffloadUse::LoopOrPool,
    precheck: None,
    run,
};

const LISTENER: u64 = u64::MAX;
/// Events one thread takes per wait: few, so that a burst is shared among the threads
/// rather than handled in turn by the first one to wake.
const EVENTS_PER_WAIT: usize = 64;

type Conn = Arc<Mutex<ReadyConn<TcpStream>>>;

struct Slot {
    conn: Conn,
    generation: u32,
}

/// The open connections, shared by every thread.
#[derive(Default)]
struct Conns {
    slab: Slab<Slot>,
    next_generation: u32,
}

/// What the threads share.
struct Shared {
    epoll: Epoll,
    listener: TcpListener,
    conns: Mutex<Conns>,
    pause: Mutex<accept::Pause>,
    sweeper: Mutex<Sweeper>,
    /// The loop's pool, if any: each thread's [`LoopWork`] is a sibling of this one.
    work: LoopWork,
    opts: ConnOptions,
    stop: Stop,
}

/// Locks a mutex, ignoring poisoning: a thread that panicked already ends the server
/// (the scope propagates it), and no lock here guards a multi-step invariant.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn token(key: usize, generation: u32) -> u64 {
    (u64::from(generation) << 32) | key as u64
}

fn one_shot(interest: Interest) -> EpollFlags {
    epoll_flags(interest) | EpollFlags::EPOLLONESHOT
}

fn run(launch: Launch) -> io::Result<()> {
    let workers = launch.workers;
    let (listener, opts, stop) = launch.into_event_loop()?;
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    epoll.add(&listener, listener_event())?;
    let work = LoopWork::new(&opts, &stop)?;
    if let Some(done) = work.completions() {
        epoll.add(done, completions_event())?;
    }
    let now = Instant::now();
    let shared = Shared {
        epoll,
        listener,
        conns: Mutex::default(),
        pause: Mutex::default(),
        sweeper: Mutex::new(Sweeper::new(now)),
        work,
        opts,
        stop,
    };
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..workers.max(1))
            .map(|_| scope.spawn(|| worker(&shared)))
            .collect();
        let mut result = Ok(());
        for thread in threads {
            let outcome = thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            if let Err(err) = outcome {
                result = Err(err);
            }
        }
        result
    })
}

fn listener_event() -> EpollEvent {
    EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLONESHOT, LISTENER)
}

fn completions_event() -> EpollEvent {
    EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLONESHOT, COMPLETIONS)
}

/// One thread: wait on the shared set, handle what it reports, re-arm.
fn worker(shared: &Shared) -> io::Result<()> {
    let result = serve_events(shared);
    if result.is_err() {
        // One thread failing ends the server: let the others see it too.
        shared.stop.set();
    }
    result
}

fn serve_events(shared: &Shared) -> io::Result<()> {
    let mut ctx = ReadyCtx::new(shared.opts, false, shared.work.sibling());
    let mut events = vec![EpollEvent::empty(); EVENTS_PER_WAIT];
    let mut finished: Vec<Finished> = Vec::new();
    while !shared.stop.is_set() {
        let ready = wait(&shared.epoll, &mut events, ctx.work.timeout(Instant::now()))?;
        let now = Instant::now();
        for event in &events[..ready] {
            match event.data() {
                LISTENER => accept_connections(shared, now)?,
                COMPLETIONS => {
                    ctx.work.take_completed(&mut finished);
                    let done = ctx
                        .work
                        .completions()
                        .expect("a pool's queue or a pipeline");
                    shared.epoll.modify(done, &mut completions_event())?;
                }
                data => {
                    let (readable, writable) = readiness(event.events());
                    let (key, generation) = slot_of(data);
                    settle(shared, key, Some(generation), |conn| {
                        conn.on_ready(key, readable, writable, &mut ctx, now)
                    })?;
                }
            }
        }
        ctx.work.take_due(now, &mut finished);
        for done in finished.drain(..) {
            settle(shared, done.key, None, |conn| {
                conn.on_finished(done, &mut ctx, now)
            })?;
        }
        if lock(&shared.pause).resume_due(now) {
            shared
                .epoll
                .modify(&shared.listener, &mut listener_event())?;
        }
        // One thread sweeps; the others need not wait for it.
        let due = shared.sweeper.try_lock().is_ok_and(|mut s| s.due(now));
        if due {
            sweep(shared, now);
        }
    }
    Ok(())
}

/// Accepts until EAGAIN, then re-arms the listener, unless a resource limit pauses it.
fn accept_connections(shared: &Shared, now: Instant) -> io::Result<()> {
    let outcome = accept::accept_all(&shared.listener, |stream| {
        let Ok(conn) = ReadyConn::new(stream, &shared.opts, now) else {
            return Ok(());
        };
        let interest = conn.interest();
        let conn = Arc::new(Mutex::new(conn));
        // In the slab before the epoll set: another thread may get its first event
        // as soon as it is added.
        let (key, generation) = {
            let mut conns = lock(&shared.conns);
            let generation = conns.next_generation;
            conns.next_generation = generation.wrapping_add(1);
            let key = conns.slab.insert(Slot {
                conn: Arc::clone(&conn),
                generation,
            });
            (key, generation)
        };
        let event = EpollEvent::new(one_shot(interest), token(key, generation));
        let added = shared.epoll.add(lock(&conn).stream(), event);
        if let Err(err) = added {
            lock(&shared.conns).slab.remove(key);
            return Err(err.into());
        }
        Ok(())
    })?;
    if outcome == AcceptError::Backoff {
        lock(&shared.pause).start(now);
    } else {
        shared
            .epoll
            .modify(&shared.listener, &mut listener_event())?;
    }
    Ok(())
}

/// The slot key and generation an event's data names.
fn slot_of(data: u64) -> (usize, u32) {
    ((data & u64::from(u32::MAX)) as usize, (data >> 32) as u32)
}

/// Lets `serve` handle the connection in slot `key` (if it is still the one of
/// `generation`, when the caller knows it), with the connection to itself, then
/// re-arms it or closes it.
fn settle(
    shared: &Shared,
    key: usize,
    generation: Option<u32>,
    serve: impl FnOnce(&mut ReadyConn<TcpStream>) -> Step,
) -> io::Result<()> {
    let (conn, generation) = {
        let conns = lock(&shared.conns);
        match conns.slab.get(key) {
            Some(slot) if generation.map_or(true, |g| g == slot.generation) => {
                (Arc::clone(&slot.conn), slot.generation)
            }
            // Closed by the sweep after the kernel queued this event.
            _ => return Ok(()),
        }
    };
    let mut guard = lock(&conn);
    match serve(&mut guard) {
        Step::Keep => {
            let mut rearm = EpollEvent::new(one_shot(guard.interest()), token(key, generation));
            shared.epoll.modify(guard.stream(), &mut rearm)?;
        }
        Step::Close => {
            drop(guard);
            let mut conns = lock(&shared.conns);
            if conns
                .slab
                .get(key)
                .is_some_and(|slot| slot.generation == generation)
            {
                conns.slab.remove(key);
            }
            // The last reference closes the socket, which leaves the epoll set.
        }
    }
    Ok(())
}

/// Closes connections past their deadline, skipping any a thread is handling now.
fn sweep(shared: &Shared, now: Instant) {
    lock(&shared.conns)
        .slab
        .retain(|_, slot| match slot.conn.try_lock() {
            Ok(conn) => !conn.expired(now),
            Err(_) => true,
        });
}
