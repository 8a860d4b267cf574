//! `async-mt`: tokio's multi-thread runtime, work stealing (beyond the seeds).
//!
//! The same accept loop and connection tasks as `async`
//! ([`crate::conn::tokio::serve_listener`]), on a runtime with `--workers` threads: an idle
//! worker steals ready tasks from a busy one's queue, so connections spread over the
//! cores without being pinned to the thread that accepted them.
//!
//! An idle keep-alive connection costs what it costs `async` (see
//! [`crate::conn::tokio`]): its task, future and registration do not depend on the
//! scheduler, and the buffers it reads and replies in are its thread's.

use std::io;

use super::Launch;
use super::{Family, ModelInfo, OffloadUse, Workers};
use crate::conn;

pub static INFO: ModelInfo = ModelInfo {
    name: "async-mt",
    family: Family::Async,
    workers: Workers::Cpus,
    mechanism: "tokio multi-thread runtime, work-stealing scheduler",
    origin: "beyond",
    reuse_port: false,
    descriptor_ceiling: None,
    announces_when_ready: false,
    offload: OffloadUse::BlockingPool,
    precheck: None,
    run,
};

fn run(launch: Launch) -> io::Result<()> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    conn::tokio::cap_blocking_pool(&mut builder, &launch.conn);
    let runtime = builder
        .worker_threads(launch.workers.max(1))
        .enable_all()
        .build()?;
    conn::tokio::serve_listener(&runtime, launch.listener, launch.conn, &launch.stop)
}
