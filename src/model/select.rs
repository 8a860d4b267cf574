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
//!
//! Without `--offload`, a wait is a timer of the loop, folded into select's timeout,
//! and `/cpu` burns in the loop: a loop's own way, with no thread; a query goes down
//! the loop's own pipelined PostgreSQL connection, in the read set with the sockets.
//! `--offload N` puts the pool's queue there instead.
//!
//! [`ReadyConn::interest`]: crate::conn::ready::ReadyConn::interest

use std::io;
use std::os::fd::AsFd;

use nix::sys::select::{select, FdSet};

use super::Launch;
use super::{Family, ModelInfo, OffloadUse, Workers};
use crate::conn::offload::LoopWork;
use crate::conn::scan::{fits_fd_set, timeval, ScanLoop};

pub static INFO: ModelInfo = ModelInfo {
    name: "select",
    family: Family::Readiness,
    workers: Workers::One,
    mechanism: "select(2), fd sets rebuilt each turn, below FD_SETSIZE only",
    origin: "seed 000",
    reuse_port: false,
    descriptor_ceiling: Some(nix::sys::select::FD_SETSIZE),
    announces_when_ready: false,
    offload: OffloadUse::LoopOrPool,
    precheck: None,
    run,
};

fn run(launch: Launch) -> io::Result<()> {
    let (listener, opts, stop) = launch.into_event_loop()?;
    if !fits_fd_set(&listener) {
        return Err(io::Error::other("the listener is not below FD_SETSIZE"));
    }
    let mut scan = ScanLoop::new(opts, LoopWork::new(&opts, &stop)?);
    let completions = scan.completions();
    if (completions.as_ref()).is_some_and(|done| !fits_fd_set(&done.as_fd())) {
        return Err(io::Error::other("the work queue is not below FD_SETSIZE"));
    }
    while !stop.is_set() {
        let listener_ready = {
            let mut reads = FdSet::new();
            let mut writes = FdSet::new();
            if !scan.pause.is_paused() {
                reads.insert(listener.as_fd());
            }
            let completions = completions.as_ref().map(|done| done.as_fd());
            if let Some(done) = completions {
                reads.insert(done);
            }
            for (_, conn) in &scan.conns {
                let interest = conn.interest();
                if interest.read {
                    reads.insert(conn.stream().as_fd());
                }
                if interest.write {
                    writes.insert(conn.stream().as_fd());
                }
            }
            let mut timeout = timeval(scan.timeout());
            match select(None, &mut reads, &mut writes, None, &mut timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(err) => return Err(err.into()),
            }
            for (key, conn) in &scan.conns {
                let fd = conn.stream().as_fd();
                let (readable, writable) = (reads.contains(fd), writes.contains(fd));
                if readable || writable {
                    scan.ready.push((key, readable, writable));
                }
            }
            scan.completed = completions.is_some_and(|done| reads.contains(done));
            reads.contains(listener.as_fd())
        };
        scan.finish_turn(listener_ready.then_some(&listener), fits_fd_set)?;
    }
    Ok(())
}
