//! `poll`: poll(2) over every socket, one thread (seed 002).
//!
//! Like select, the interest list lives in user space and each turn costs in proportion
//! to the open connections; unlike select, it is an array of `pollfd`s with no
//! FD_SETSIZE limit. The array is rebuilt every turn from each connection's
//! [`ReadyConn::interest`], which keeps it trivially in step with the connections
//! (one pass over memory the kernel is about to scan anyway).
//!
//! Without `--offload`, a wait is a timer of the loop, folded into poll's timeout, and
//! `/cpu` burns in the loop: a loop's own way, with no thread; a query goes down the
//! loop's own pipelined PostgreSQL connection, whose descriptor follows the listener in
//! the array. `--offload N` puts the pool's queue there instead.
//!
//! [`ReadyConn::interest`]: crate::conn::ready::ReadyConn::interest

use std::io;
use std::os::fd::AsFd;

use nix::poll::{ppoll, PollFd, PollFlags};
use nix::sys::time::TimeSpec;

use super::Launch;
use super::{Family, ModelInfo, OffloadUse, Workers};
use crate::conn::offload::LoopWork;
use crate::conn::ready::Interest;
use crate::conn::scan::ScanLoop;

pub static INFO: ModelInfo = ModelInfo {
    name: "poll",
    family: Family::Readiness,
    workers: Workers::One,
    mechanism: "poll(2), pollfd array rebuilt from interests every turn",
    origin: "seed 002",
    reuse_port: false,
    descriptor_ceiling: None,
    announces_when_ready: false,
    offload: OffloadUse::LoopOrPool,
    precheck: None,
    run,
};

/// The poll events for an interest. POLLIN also reports the peer's FIN; nothing is
/// asked while the connection is not reading (back-pressure), since poll is
/// level-triggered and would otherwise report a half-closed peer on every turn.
fn poll_flags(interest: Interest) -> PollFlags {
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
fn poll_readiness(revents: PollFlags) -> (bool, bool) {
    let failed = PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL;
    (
        revents.intersects(PollFlags::POLLIN | failed),
        revents.intersects(PollFlags::POLLOUT | failed),
    )
}

fn run(launch: Launch) -> io::Result<()> {
    let (listener, opts, stop) = launch.into_event_loop()?;
    let mut scan = ScanLoop::new(opts, LoopWork::new(&opts, &stop)?);
    let completions = scan.completions();
    // The pollfds before the connections': the listener's, and the queue's if any.
    let fixed = 1 + usize::from(completions.is_some());
    // The slab key of each pollfd after those, reused every turn.
    let mut keys: Vec<usize> = Vec::new();
    while !stop.is_set() {
        keys.clear();
        let listener_ready = {
            let listen = if scan.pause.is_paused() {
                PollFlags::empty()
            } else {
                PollFlags::POLLIN
            };
            let mut fds = Vec::with_capacity(scan.conns.len() + fixed);
            fds.push(PollFd::new(listener.as_fd(), listen));
            if let Some(done) = &completions {
                fds.push(PollFd::new(done.as_fd(), PollFlags::POLLIN));
            }
            for (key, conn) in &scan.conns {
                keys.push(key);
                fds.push(PollFd::new(
                    conn.stream().as_fd(),
                    poll_flags(conn.interest()),
                ));
            }
            // ppoll(2) is poll(2) with its timeout in nanoseconds: a wait's deadline
            // 9.3 ms away is not rounded to whole milliseconds.
            let timeout = TimeSpec::from_duration(scan.timeout());
            match ppoll(&mut fds, Some(timeout), None) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(err) => return Err(err.into()),
            }
            for (fd, &key) in fds[fixed..].iter().zip(&keys) {
                let (readable, writable) =
                    poll_readiness(fd.revents().unwrap_or(PollFlags::empty()));
                if readable || writable {
                    scan.ready.push((key, readable, writable));
                }
            }
            scan.completed = fixed > 1 && fds[1].any().unwrap_or(false);
            fds[0].any().unwrap_or(false)
        };
        scan.finish_turn(listener_ready.then_some(&listener), |_| true)?;
    }
    Ok(())
}
