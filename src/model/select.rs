//! `select`: select(2) over every socket, one thread (seed 000).
//!
//! The interest list lives in user space: every turn the read and write sets are
//! rebuilt from each connection's [`ReadyConn::interest`], handed to the kernel, which
//! scans them, and scanned again here to find the ready ones. Each turn therefore costs
//! in proportion to the open connections, ready or not, which is what the seeds measure
//! against epoll.
//!
//! An `fd_set` is a fixed bitmap of FD_SETSIZE (1024) bits: a descriptor at or above it
//! cannot be watched at all (writing its bit is undefined behaviour in C, a panic in
//! nix). Such a connection is refused, with a rate-limited line saying why, and closed.

use std::io;
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Instant;

use nix::sys::select::{select, FdSet, FD_SETSIZE};
use nix::sys::time::{TimeVal, TimeValLike};
use slab::Slab;

use super::poll::finish_turn;
use super::{Family, ModelInfo, Workers};
use super::{Server, STOP_POLL};
use crate::conn::accept;
use crate::conn::ready::{ReadyConn, ReadyCtx, Sweeper};
use crate::log::RateLimited;

pub static INFO: ModelInfo = ModelInfo {
    name: "select",
    family: Family::Readiness,
    workers: Workers::One,
    mechanism: "select(2), fd sets rebuilt each turn, below FD_SETSIZE only",
    origin: "seed 000",
    reuse_port: false,
    precheck: None,
    run,
};

static REFUSED: RateLimited = RateLimited::new();

/// Can select(2) watch this descriptor? If not, says so (rate-limited) so the caller
/// can close it: the connection is refused, the server carries on.
pub(crate) fn fits_fd_set(fd: &impl AsRawFd) -> bool {
    let fits = usize::try_from(fd.as_raw_fd()).is_ok_and(|fd| fd < FD_SETSIZE);
    if !fits {
        REFUSED.warn(format_args!(
            "select: descriptor {} is not below FD_SETSIZE ({FD_SETSIZE}); \
             closing that connection (use poll or epoll for more connections)",
            fd.as_raw_fd()
        ));
    }
    fits
}

/// select(2)'s timeout: the stop-flag period.
pub(crate) fn stop_poll_timeval() -> TimeVal {
    TimeVal::milliseconds(STOP_POLL.as_millis() as i64)
}

fn run(server: Server) -> io::Result<()> {
    let (listener, opts, stop) = server.into_event_loop()?;
    if !fits_fd_set(&listener) {
        return Err(io::Error::other("the listener is not below FD_SETSIZE"));
    }
    let mut conns: Slab<ReadyConn<TcpStream>> = Slab::new();
    let mut ctx = ReadyCtx::new(opts, false);
    let mut pause = accept::Pause::default();
    let mut sweeper = Sweeper::new(Instant::now());
    // (key, readable, writable) of the connections select reported, reused every turn.
    let mut ready: Vec<(usize, bool, bool)> = Vec::new();
    while !stop.is_set() {
        ready.clear();
        let listener_ready = {
            let mut reads = FdSet::new();
            let mut writes = FdSet::new();
            if !pause.is_paused() {
                reads.insert(listener.as_fd());
            }
            for (_, conn) in &conns {
                let interest = conn.interest();
                if interest.read {
                    reads.insert(conn.stream().as_fd());
                }
                if interest.write {
                    writes.insert(conn.stream().as_fd());
                }
            }
            let mut timeout = stop_poll_timeval();
            match select(None, &mut reads, &mut writes, None, &mut timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(err) => return Err(err.into()),
            }
            for (key, conn) in &conns {
                let fd = conn.stream().as_fd();
                let (readable, writable) = (reads.contains(fd), writes.contains(fd));
                if readable || writable {
                    ready.push((key, readable, writable));
                }
            }
            reads.contains(listener.as_fd())
        };
        let listener = listener_ready.then_some(&listener);
        finish_turn(
            &mut conns,
            &ready,
            &mut ctx,
            listener,
            &mut pause,
            &mut sweeper,
            fits_fd_set,
        )?;
    }
    Ok(())
}
