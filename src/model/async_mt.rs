//! `async-mt`: tokio's multi-thread runtime, work stealing (beyond the seeds).
//!
//! The same accept loop and connection tasks as `async` ([`super::asyncio::serve_on`],
//! [`crate::conn::tokio::serve`]), on a runtime with `--workers` threads: an idle
//! worker steals ready tasks from a busy one's queue, so connections spread over the
//! cores without being pinned to the thread that accepted them.

use std::io;

use super::Server;
use super::{asyncio, Family, ModelInfo, Workers};

pub static INFO: ModelInfo = ModelInfo {
    name: "async-mt",
    family: Family::Async,
    workers: Workers::Cpus,
    mechanism: "tokio multi-thread runtime, work-stealing scheduler",
    origin: "beyond",
    reuse_port: false,
    precheck: None,
    run,
};

fn run(server: Server) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(server.workers.max(1))
        .enable_all()
        .build()?;
    asyncio::serve_on(&runtime, server)
}
