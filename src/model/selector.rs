//! `selector`: a portable readiness selector with a callback per registration (mio), the
//! analogue of Python's `selectors` module (seed 002).
//!
//! The seed registers each socket with the function that handles it,
//! `sel.register(sock, EVENT_READ, accept)`, and its loop knows nothing else:
//! `callback = key.data; callback(key.fileobj, mask)`. Here a [`Key`] holds the socket
//! (`fileobj`) and a [`Callback`] (`data`): [`accept`] for the listener, [`serve`] for a
//! connection, and the loop only dispatches.
//!
//! mio is edge-triggered on every platform that can be (epoll with EPOLLET here), so a
//! connection is registered once for reading and writing and drained until EAGAIN, as
//! in `epoll-et`.
//!
//! Without `--offload`, a wait is a timer of the loop, folded into the selector's
//! timeout, and `/cpu` burns in the loop: a loop's own way, with no thread. With
//! `--offload N` the pool's queue is registered like a socket, with its own callback
//! ([`completed`]), as Python registers any file object; without it, so is the loop's
//! own pipelined PostgreSQL connection, which carries its queries.

use std::io;
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Instant;

use mio::event::Event;
use mio::net::TcpStream;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;

use super::Launch;
use super::{Family, ModelInfo, OffloadUse, Workers};
use crate::conn::accept;
use crate::conn::offload::{Finished, LoopWork};
use crate::conn::ready::{ReadyConn, ReadyCtx, Step, Sweeper};

pub static INFO: ModelInfo = ModelInfo {
    name: "selector",
    family: Family::Readiness,
    workers: Workers::One,
    mechanism: "mio selector, a callback stored with each registration",
    origin: "seed 002",
    reuse_port: false,
    descriptor_ceiling: None,
    announces_when_ready: false,
    offload: OffloadUse::LoopOrPool,
    precheck: None,
    run,
};

/// What the poller reported for a registration: Python's `mask`.
#[derive(Debug, Clone, Copy, Default)]
struct Mask {
    readable: bool,
    writable: bool,
}

impl Mask {
    /// A closed or failed socket counts as both, so the next read or write meets it.
    fn of(event: &Event) -> Self {
        Mask {
            readable: event.is_readable() || event.is_read_closed() || event.is_error(),
            writable: event.is_writable() || event.is_write_closed() || event.is_error(),
        }
    }
}

/// The function registered with a socket, called with the selector, the socket's
/// token and the mask: Python's `key.data(key.fileobj, mask)`.
type Callback = fn(&mut Selector, usize, Mask) -> io::Result<()>;

/// A registered socket, or the descriptor work comes back through (a pool's queue or
/// the database pipeline, which the loop's [`LoopWork`] owns).
enum FileObj {
    Listener(TcpListener),
    Conn(ReadyConn<TcpStream>),
    Completions,
}

/// A registration: Python's `SelectorKey`.
struct Key {
    fileobj: FileObj,
    data: Callback,
}

/// The loop's state, which every callback receives.
struct Selector {
    registry: Registry,
    keys: Slab<Key>,
    ctx: ReadyCtx,
    pause: accept::Pause,
    /// Connections accepted but not registered yet (reused buffer).
    accepted: Vec<std::net::TcpStream>,
    /// Work that came back, its connections to resume (reused buffer).
    finished: Vec<Finished>,
    /// When the current batch of events was reported.
    now: Instant,
}

fn run(launch: Launch) -> io::Result<()> {
    let (listener, opts, stop) = launch.into_event_loop()?;
    let mut poll = Poll::new()?;
    let mut sel = Selector {
        registry: poll.registry().try_clone()?,
        keys: Slab::new(),
        ctx: ReadyCtx::new(opts, true, LoopWork::new(&opts, &stop)?),
        pause: accept::Pause::default(),
        accepted: Vec::new(),
        finished: Vec::new(),
        now: Instant::now(),
    };
    let listener_token = sel.keys.vacant_key();
    sel.registry.register(
        &mut SourceFd(&listener.as_raw_fd()),
        Token(listener_token),
        Interest::READABLE,
    )?;
    sel.keys.insert(Key {
        fileobj: FileObj::Listener(listener),
        data: accept,
    });
    if let Some(done) = sel.ctx.work.completions() {
        let token = sel.keys.vacant_key();
        sel.registry.register(
            &mut SourceFd(&done.as_fd().as_raw_fd()),
            Token(token),
            Interest::READABLE,
        )?;
        sel.keys.insert(Key {
            fileobj: FileObj::Completions,
            data: completed,
        });
    }
    let mut events = Events::with_capacity(1024);
    let mut sweeper = Sweeper::new(sel.now);
    while !stop.is_set() {
        match poll.poll(&mut events, Some(sel.ctx.work.timeout(Instant::now()))) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
        sel.now = Instant::now();
        for event in &events {
            let token = event.token().0;
            // An earlier callback of this batch may have closed it.
            let Some(key) = sel.keys.get(token) else {
                continue;
            };
            let callback = key.data;
            callback(&mut sel, token, Mask::of(event))?;
        }
        let now = sel.now;
        sel.ctx.work.take_due(now, &mut sel.finished);
        resume(&mut sel);
        // Edge-triggered: nothing announces the connections queued during a pause.
        if sel.pause.resume_due(now) {
            accept(&mut sel, listener_token, Mask::default())?;
        }
        if sweeper.due(now) {
            sel.keys.retain(|_, key| match &key.fileobj {
                FileObj::Conn(conn) => !conn.expired(now),
                FileObj::Listener(_) | FileObj::Completions => true,
            });
        }
    }
    Ok(())
}

/// The listener's callback: accept until EAGAIN, registering each connection with
/// [`serve`].
fn accept(sel: &mut Selector, token: usize, _mask: Mask) -> io::Result<()> {
    let FileObj::Listener(listener) = &sel.keys[token].fileobj else {
        return Ok(());
    };
    let accepted = &mut sel.accepted;
    sel.pause.accept_all(listener, sel.now, |stream| {
        accepted.push(stream);
        Ok(())
    })?;
    let mut accepted = std::mem::take(&mut sel.accepted);
    for stream in accepted.drain(..) {
        let mut stream = TcpStream::from_std(stream);
        let slot = sel.keys.vacant_entry();
        sel.registry.register(
            &mut stream,
            Token(slot.key()),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        if let Ok(conn) = ReadyConn::new(stream, &sel.ctx.opts, sel.now) {
            slot.insert(Key {
                fileobj: FileObj::Conn(conn),
                data: serve,
            });
        }
    }
    sel.accepted = accepted;
    Ok(())
}

/// A connection's callback: let it read and write what it can.
fn serve(sel: &mut Selector, token: usize, mask: Mask) -> io::Result<()> {
    let FileObj::Conn(conn) = &mut sel.keys[token].fileobj else {
        return Ok(());
    };
    if conn.on_ready(token, mask.readable, mask.writable, &mut sel.ctx, sel.now) == Step::Close {
        // Closing the socket removes it from the poller.
        drop(sel.keys.remove(token));
    }
    Ok(())
}

/// The work descriptor's callback: resume the connections whose work came back.
fn completed(sel: &mut Selector, _token: usize, _mask: Mask) -> io::Result<()> {
    sel.ctx.work.take_completed(&mut sel.finished);
    resume(sel);
    Ok(())
}

/// Resumes the connections of the work in [`Selector::finished`].
fn resume(sel: &mut Selector) {
    for done in sel.finished.drain(..) {
        let key = done.key;
        let Some(Key {
            fileobj: FileObj::Conn(conn),
            ..
        }) = sel.keys.get_mut(key)
        else {
            continue;
        };
        if conn.on_finished(done, &mut sel.ctx, sel.now) == Step::Close {
            drop(sel.keys.remove(key));
        }
    }
}
