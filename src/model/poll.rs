//! `poll`: poll(2) over every socket, one thread (seed 002).
//!
//! Like select, the interest list lives in user space and each turn costs in proportion
//! to the open connections; unlike select, it is an array of `pollfd`s with no
//! FD_SETSIZE limit. The array is rebuilt every turn from each connection's
//! [`ReadyConn::interest`], which keeps it trivially in step with the connections
//! (one pass over memory the kernel is about to scan anyway).

use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::Instant;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use slab::Slab;

use super::{Family, ModelInfo, Workers};
use super::{Server, STOP_POLL};
use crate::conn::accept;
use crate::conn::ready::{Interest, ReadyConn, ReadyCtx, Step, Sweeper};

pub static INFO: ModelInfo = ModelInfo {
    name: "poll",
    family: Family::Readiness,
    workers: Workers::One,
    mechanism: "poll(2), pollfd array rebuilt from interests every turn",
    origin: "seed 002",
    reuse_port: false,
    precheck: None,
    run,
};

/// The poll events for an interest. POLLIN also reports the peer's FIN; nothing is
/// asked while the connection is not reading (back-pressure), since poll is
/// level-triggered and would otherwise report a half-closed peer on every turn.
pub(crate) fn poll_flags(interest: Interest) -> PollFlags {
    let mut flags = PollFlags::empty();
    if interest.read {
        flags |= PollFlags::POLLIN;
    }
    if interest.write {
        flags |= PollFlags::POLLOUT;
    }
    flags
}

/// What poll reported for a descriptor: (readable, writable). A hang-up or an error
/// counts as both, so the connection's next read or write meets it and closes.
pub(crate) fn poll_readiness(revents: PollFlags) -> (bool, bool) {
    let failed = PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL;
    (
        revents.intersects(PollFlags::POLLIN | failed),
        revents.intersects(PollFlags::POLLOUT | failed),
    )
}

fn run(server: Server) -> io::Result<()> {
    let (listener, opts, stop) = server.into_event_loop()?;
    let mut conns: Slab<ReadyConn<TcpStream>> = Slab::new();
    let mut ctx = ReadyCtx::new(opts, false);
    let mut pause = accept::Pause::default();
    let mut sweeper = Sweeper::new(Instant::now());
    let wait = PollTimeout::try_from(STOP_POLL).expect("STOP_POLL fits a poll timeout");
    // The slab key of each pollfd after the listener's, and what poll reported for it;
    // both reused every turn.
    let mut keys: Vec<usize> = Vec::new();
    let mut ready: Vec<(usize, bool, bool)> = Vec::new();
    while !stop.is_set() {
        keys.clear();
        ready.clear();
        let listener_ready = {
            let listen = if pause.is_paused() {
                PollFlags::empty()
            } else {
                PollFlags::POLLIN
            };
            let mut fds = Vec::with_capacity(conns.len() + 1);
            fds.push(PollFd::new(listener.as_fd(), listen));
            for (key, conn) in &conns {
                keys.push(key);
                fds.push(PollFd::new(
                    conn.stream().as_fd(),
                    poll_flags(conn.interest()),
                ));
            }
            match poll(&mut fds, wait) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(err) => return Err(err.into()),
            }
            for (fd, &key) in fds[1..].iter().zip(&keys) {
                let (readable, writable) =
                    poll_readiness(fd.revents().unwrap_or(PollFlags::empty()));
                if readable || writable {
                    ready.push((key, readable, writable));
                }
            }
            fds[0].any().unwrap_or(false)
        };
        let listener = listener_ready.then_some(&listener);
        finish_turn(
            &mut conns,
            &ready,
            &mut ctx,
            listener,
            &mut pause,
            &mut sweeper,
            |_| true,
        )?;
    }
    Ok(())
}

/// The end of a turn of a loop that keeps its interest list in user space (select,
/// poll): serve the connections reported ready, accept the waiting ones that `admit`
/// lets in (if the listener was reported), and close those past their deadline.
pub(crate) fn finish_turn(
    conns: &mut Slab<ReadyConn<TcpStream>>,
    ready: &[(usize, bool, bool)],
    ctx: &mut ReadyCtx,
    listener: Option<&TcpListener>,
    pause: &mut accept::Pause,
    sweeper: &mut Sweeper,
    admit: impl Fn(&TcpStream) -> bool,
) -> io::Result<()> {
    let now = Instant::now();
    for &(key, readable, writable) in ready {
        if conns[key].on_ready(readable, writable, ctx, now) == Step::Close {
            drop(conns.remove(key));
        }
    }
    if let Some(listener) = listener {
        pause.accept_all(listener, now, |stream| {
            if admit(&stream) {
                if let Ok(conn) = ReadyConn::new(stream, &ctx.opts, now) {
                    conns.insert(conn);
                }
            }
            Ok(())
        })?;
    }
    pause.resume_due(now);
    if sweeper.due(now) {
        conns.retain(|_, conn| !conn.expired(now));
    }
    Ok(())
}
