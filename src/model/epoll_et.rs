//! `epoll-et`: epoll edge-triggered, one thread (seed 004, example 4).
//!
//! Every socket is registered once, for everything it may ever want (EPOLLIN, EPOLLOUT,
//! EPOLLRDHUP) with EPOLLET, and never modified: the kernel reports a change of state,
//! not a state. The price is that an event must be used up: a readable connection is
//! read until EAGAIN ([`ReadyCtx`] with `drain`), the listener accepted from until
//! EAGAIN. A connection that back-pressure stops before EAGAIN remembers that it may
//! still hold input ([`ReadyConn`] does), since no new edge will say so; the EPOLLOUT
//! edge that follows its flush brings it back.
//!
//! Without `--offload`, a wait is a timer of the loop, folded into epoll_wait's
//! timeout, and `/cpu` burns in the loop: no thread, no hand-over, on the one thread
//! this model has. The work pool's queue (`--offload N`) is registered level-triggered,
//! like any descriptor the loop only reads to reset, and so is the loop's own pipelined
//! PostgreSQL connection, which carries its queries without `--offload`.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use slab::Slab;

use super::Launch;
use super::{Family, ModelInfo, OffloadUse, Workers};
use crate::conn::accept;
use crate::conn::epoll::{readiness, wait, COMPLETIONS};
use crate::conn::offload::{Finished, LoopWork};
use crate::conn::ready::{ReadyConn, ReadyCtx, Step, Sweeper};
use crate::conn::ConnOptions;

pub static INFO: ModelInfo = ModelInfo {
    name: "epoll-et",
    family: Family::Readiness,
    workers: Workers::One,
    mechanism: "epoll edge-triggered, registered once, drained until EAGAIN",
    origin: "seed 004",
    reuse_port: false,
    descriptor_ceiling: None,
    announces_when_ready: false,
    offload: OffloadUse::LoopOrPool,
    precheck: None,
    run,
};

const LISTENER: u64 = u64::MAX;

/// Everything a connection can ever want, edge-triggered: set once, never modified.
fn conn_flags() -> EpollFlags {
    EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT | EpollFlags::EPOLLRDHUP | EpollFlags::EPOLLET
}

fn run(launch: Launch) -> io::Result<()> {
    let (listener, opts, stop) = launch.into_event_loop()?;
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    epoll.add(
        &listener,
        EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLET, LISTENER),
    )?;
    let mut ctx = ReadyCtx::new(opts, true, LoopWork::new(&opts, &stop)?);
    if let Some(done) = ctx.work.completions() {
        epoll.add(done, EpollEvent::new(EpollFlags::EPOLLIN, COMPLETIONS))?;
    }
    let mut pause = accept::Pause::default();
    let mut conns: Slab<ReadyConn<TcpStream>> = Slab::new();
    let mut events = vec![EpollEvent::empty(); 1024];
    let mut finished: Vec<Finished> = Vec::new();
    let mut sweeper = Sweeper::new(Instant::now());
    while !stop.is_set() {
        let ready = wait(&epoll, &mut events, ctx.work.timeout(Instant::now()))?;
        let now = Instant::now();
        for event in &events[..ready] {
            match event.data() {
                // While paused, the edge is dropped: the resume below accepts anyway.
                LISTENER => {
                    accept_until_empty(&listener, &epoll, &mut conns, &ctx.opts, now, &mut pause)?;
                }
                COMPLETIONS => ctx.work.take_completed(&mut finished),
                key => {
                    let key = key as usize;
                    let (readable, writable) = readiness(event.events());
                    if let Some(conn) = conns.get_mut(key) {
                        if conn.on_ready(key, readable, writable, &mut ctx, now) == Step::Close {
                            // Closing the socket removes it from the epoll set.
                            drop(conns.remove(key));
                        }
                    }
                }
            }
        }
        ctx.work.take_due(now, &mut finished);
        for done in finished.drain(..) {
            let key = done.key;
            if let Some(conn) = conns.get_mut(key) {
                if conn.on_finished(done, &mut ctx, now) == Step::Close {
                    drop(conns.remove(key));
                }
            }
        }
        // No edge announces the connections that queued up during a pause.
        if pause.resume_due(now) {
            accept_until_empty(&listener, &epoll, &mut conns, &ctx.opts, now, &mut pause)?;
        }
        if sweeper.due(now) {
            conns.retain(|_, conn| !conn.expired(now));
        }
    }
    Ok(())
}

/// Accepts until EAGAIN, registering each connection once; pauses on a resource limit.
fn accept_until_empty(
    listener: &TcpListener,
    epoll: &Epoll,
    conns: &mut Slab<ReadyConn<TcpStream>>,
    opts: &ConnOptions,
    now: Instant,
    pause: &mut accept::Pause,
) -> io::Result<()> {
    pause.accept_all(listener, now, |stream| {
        let Ok(conn) = ReadyConn::new(stream, opts, now) else {
            return Ok(());
        };
        let slot = conns.vacant_entry();
        epoll.add(
            conn.stream(),
            EpollEvent::new(conn_flags(), slot.key() as u64),
        )?;
        slot.insert(conn);
        Ok(())
    })
}
