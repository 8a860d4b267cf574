//! `async`: a single-threaded async event loop, tokio's current-thread runtime: the
//! analogue of Python's asyncio (seeds 000, 003).
//!
//! One thread runs an accept loop and a task per connection
//! ([`crate::conn::tokio::serve_listener`]); tasks yield at every would-block, and the
//! runtime's reactor (epoll underneath) wakes the ones whose sockets are ready. The
//! runtime is built here, not by `#[tokio::main]`, so no runtime thread exists before
//! a model that forks. The task that watches the stop flag also watches the number of
//! live connection tasks, to give the memory of finished ones back
//! ([`IdleTrim`](crate::conn::trim::IdleTrim)).
//!
//! An idle keep-alive connection costs the task, its boxed future (the socket, the
//! session, the timer of its wait) and the socket's registration with the reactor;
//! what each holds, and why no less, is in [`crate::conn::tokio`], and what it comes
//! to in docs/results.md, *What a held connection costs in memory*.

use std::io;

use super::Launch;
use super::{Family, ModelInfo, OffloadUse, Workers};
use crate::conn;

pub static INFO: ModelInfo = ModelInfo {
    name: "async",
    family: Family::Async,
    workers: Workers::One,
    mechanism: "single-threaded async event loop (tokio current_thread)",
    origin: "seed 000, 003",
    reuse_port: false,
    descriptor_ceiling: None,
    announces_when_ready: false,
    offload: OffloadUse::BlockingPool,
    precheck: None,
    run,
};

fn run(launch: Launch) -> io::Result<()> {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    conn::tokio::cap_blocking_pool(&mut builder, &launch.conn);
    let runtime = builder.enable_all().build()?;
    conn::tokio::serve_listener(&runtime, launch.listener, launch.conn, &launch.stop)
}
