//! `epoll-et`: epoll edge-triggered, one thread (seed 004, example 4).
//!
//! Every socket is registered once, for everything it may ever want (EPOLLIN, EPOLLOUT,
//! EPOLLRDHUP) with EPOLLET, and never modified: the kernel reports a change of state,
//! not a state. The price is that an event must be used up: a readable connection is
//! read until EAGAIN ([`ReadyCtx`] with `drain`), the listener accepted from until
//! EAGAIN. A connection that back-pressure stops before EAGAIN remembers that it may
//! still hold input ([`ReadyConn`] does), since no new edge will say so; the EPOLLOUT
//! edge that follows its flush brings it back.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use slab::Slab;

use super::Launch;
use super::{Family, ModelInfo, OffloadUse, Workers};
use crate::conn::accept;
use crate::conn::epoll::{readiness, wait};
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
    let mut pause = accept::Pause::default();
    let mut conns: Slab<ReadyConn<TcpStream>> = Slab::new();
    let mut ctx = ReadyCtx::new(opts, true);
    let mut events = vec![EpollEvent::empty(); 1024];
    let mut sweeper = Sweeper::new(Instant::now());
    while !stop.is_set() {
        let ready = wait(&epoll, &mut events)?;
        let now = Instant::now();
        for event in &events[..ready] {
            if event.data() == LISTENER {
                // While paused, the edge is dropped: the resume below accepts anyway.
                accept_until_empty(&listener, &epoll, &mut conns, &ctx.opts, now, &mut pause)?;
                continue;
            }
            let key = event.data() as usize;
            let Some(conn) = conns.get_mut(key) else {
                continue;
            };
            let (readable, writable) = readiness(event.events());
            if conn.on_ready(readable, writable, &mut ctx, now) == Step::Close {
                // Closing the socket removes it from the epoll set.
                drop(conns.remove(key));
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
