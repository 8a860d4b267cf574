//! `reuseport`: N epoll reactors, a thread each, each with its own SO_REUSEPORT
//! listener on the same address (beyond the seeds: nginx's `reuseport`, the fastest
//! TechEmpower entries).
//!
//! The kernel spreads incoming connections over the listeners by a hash of the
//! connection's addresses, so the reactors share nothing: no accept lock, no queue, no
//! thundering herd, no connection ever moving between threads. Each reactor is exactly
//! the `epoll` model's loop ([`crate::conn::epoll::reactor`]), run by
//! [`crate::conn::reactors`].
//!
//! Every listener is bound before any thread starts, so a port that cannot be shared
//! is reported at start-up; if one reactor fails, the others are stopped and the error
//! is returned.
//!
//! Without `--offload`, each reactor keeps its waits as timers folded into its
//! epoll_wait timeout and burns `/cpu` itself: no thread, and the reactors already use
//! every core. `--offload N` gives each reactor a pool of N threads of its own, so the
//! reactors still share nothing; so does each reactor's own pipelined PostgreSQL
//! connection, which carries its queries without `--offload`.

use std::io;

use super::Launch;
use super::{Family, ModelInfo, OffloadUse, Workers};
use crate::conn::{epoll, reactors};

pub static INFO: ModelInfo = ModelInfo {
    name: "reuseport",
    family: Family::Readiness,
    workers: Workers::Cpus,
    mechanism: "N epoll reactors, each its own SO_REUSEPORT listener",
    origin: "beyond",
    reuse_port: true,
    descriptor_ceiling: None,
    announces_when_ready: false,
    offload: OffloadUse::LoopOrPool,
    precheck: None,
    run,
};

fn run(launch: Launch) -> io::Result<()> {
    let listeners = reactors::bind(launch.listener, launch.addr, launch.backlog, launch.workers)?;
    reactors::run(listeners, launch.conn, &launch.stop, epoll::reactor)
}
