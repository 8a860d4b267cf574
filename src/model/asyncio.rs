//! `async`: a single-threaded async event loop, tokio's current-thread runtime: the
//! analogue of Python's asyncio (seeds 000, 003).
//!
//! One thread runs an accept loop and a task per connection
//! ([`crate::conn::tokio::serve`]); tasks yield at every would-block, and the runtime's
//! reactor (epoll underneath) wakes the ones whose sockets are ready. The runtime is
//! built here, not by `#[tokio::main]`, so no runtime thread exists before a model
//! that forks. The task that watches the stop flag also watches the number of live
//! connection tasks, to give the memory of finished ones back ([`IdleTrim`]).

use std::io;

use tokio::net::TcpListener;
use tokio::runtime::Runtime;

use super::trim::IdleTrim;
use super::{Family, ModelInfo, Workers};
use super::{Server, Stop, STOP_POLL};
use crate::conn::{self, accept::AcceptError, ConnOptions};

pub static INFO: ModelInfo = ModelInfo {
    name: "async",
    family: Family::Async,
    workers: Workers::One,
    mechanism: "single-threaded async event loop (tokio current_thread)",
    origin: "seed 000, 003",
    reuse_port: false,
    precheck: None,
    run,
};

fn run(server: Server) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    serve_on(&runtime, server)
}

/// Accepts on `runtime` until stopped, a task per connection. Returning drops the
/// accept loop; dropping the runtime then drops every connection task, closing its
/// socket.
pub(super) fn serve_on(runtime: &Runtime, server: Server) -> io::Result<()> {
    server.listener.set_nonblocking(true)?;
    let opts = server.conn;
    let stop = server.stop;
    runtime.block_on(async move {
        let listener = TcpListener::from_std(server.listener)?;
        tokio::select! {
            () = accept_loop(&listener, opts) => {}
            () = stopped(&stop) => {}
        }
        Ok(())
    })
}

async fn accept_loop(listener: &TcpListener, opts: ConnOptions) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(conn::tokio::serve(stream, opts));
            }
            Err(err) => {
                if conn::accept::classify(&err) == AcceptError::Backoff {
                    tokio::time::sleep(conn::accept::BACKOFF).await;
                }
            }
        }
    }
}

/// Completes once the stop flag is set, looking every [`STOP_POLL`]. Every task the
/// runtime has is a connection's: the accept loop and this one run in `block_on`.
async fn stopped(stop: &Stop) {
    let metrics = tokio::runtime::Handle::current().metrics();
    let mut trim = IdleTrim::new();
    let mut tick = tokio::time::interval(STOP_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.is_set() {
        trim.observe(metrics.num_alive_tasks());
        tick.tick().await;
    }
}
