//! `epoll`: epoll(7), level-triggered (seeds 000, 001, 004).
//!
//! One thread, one epoll set. The kernel keeps the interest list, so each wait costs
//! in proportion to the ready sockets, not the open ones. Level-triggered: a socket
//! stays reported while it is readable, so one read per event suffices, and the
//! registration changes only when a connection's interest does (rarely: a full output
//! buffer or a lingering close).
//!
//! Without `--offload`, a wait is a timer of the loop, folded into epoll_wait's
//! timeout, and `/cpu` burns in the loop: a loop's own way, with no thread. With
//! `--offload N` the loop's pool's queue is registered with the sockets; without it, a
//! query goes down the loop's own pipelined PostgreSQL connection, registered there.

use std::io;

use super::Launch;
use super::{Family, ModelInfo, OffloadUse, Workers};
use crate::conn;

pub static INFO: ModelInfo = ModelInfo {
    name: "epoll",
    family: Family::Readiness,
    workers: Workers::One,
    mechanism: "epoll level-triggered, one thread, interest kept by the kernel",
    origin: "seed 000, 001, 004",
    reuse_port: false,
    descriptor_ceiling: None,
    announces_when_ready: false,
    offload: OffloadUse::LoopOrPool,
    precheck: None,
    run,
};

fn run(launch: Launch) -> io::Result<()> {
    // The reactor is conn's: `reuseport` runs the same loop on every thread.
    conn::epoll::reactor(launch.listener, launch.conn, &launch.stop)
}
