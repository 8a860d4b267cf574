//! `iomodels serve`: bind the listener, announce it, make SIGINT/SIGTERM a stop flag,
//! and hand everything to the chosen model.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::cli::usage;
use crate::conn::ConnOptions;
use crate::model::ModelInfo;
use crate::protocol::Protocol;
use crate::sys;

/// The longest any model waits (in accept, poll, a lock, a queue) before it checks the
/// stop flag: the bound on how long SIGTERM takes to stop a server.
pub const STOP_POLL: Duration = Duration::from_millis(100);

/// Everything `serve` was asked for, validated.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub model: &'static ModelInfo,
    pub protocol: Protocol,
    pub addr: SocketAddr,
    pub workers: usize,
    pub backlog: u32,
    pub nodelay: bool,
    pub cork: bool,
    pub timeout: Option<Duration>,
    /// Fault injection: the server is killed by SIGALRM after this long.
    pub crash_after: Option<Duration>,
}

/// Set once SIGINT or SIGTERM arrives; every model polls it at least every [`STOP_POLL`].
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Stops the server as a signal would (used by tests and by in-process callers).
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What a model is given to run: a bound listener and the connection settings.
#[derive(Debug)]
pub struct Server {
    pub listener: TcpListener,
    /// The address actually bound (the real port when 0 was asked for).
    pub addr: SocketAddr,
    pub conn: ConnOptions,
    pub workers: usize,
    pub backlog: u32,
    pub stop: Stop,
}

impl Server {
    /// What an event-loop model starts from: the listener, made non-blocking, the
    /// connection settings and the stop flag.
    pub fn into_event_loop(self) -> io::Result<(TcpListener, ConnOptions, Stop)> {
        self.listener.set_nonblocking(true)?;
        Ok((self.listener, self.conn, self.stop))
    }
}

/// Runs `iomodels serve` until SIGINT or SIGTERM.
pub fn run(config: &ServeConfig) -> Result<()> {
    // Holding thousands of connections needs more descriptors than many systems give
    // a process by default.
    sys::limits::raise_nofile();
    if let Some(precheck) = config.model.precheck {
        precheck()
            .map_err(|err| usage(format!("{}: {err}; use another model", config.model.name)))?;
    }
    let stop = Stop::new();
    sys::signal::stop_on_signals(&stop.0).context("cannot install the stop signal handlers")?;
    let listener = sys::listener::bind(config.addr, config.backlog, config.model.reuse_port)
        .map_err(|err| usage(format!("cannot listen on {}: {err}", config.addr)))?;
    let addr = listener.local_addr()?;
    if let Some(delay) = config.crash_after {
        sys::signal::die_after(delay).context("cannot arm --crash-after")?;
    }
    announce(addr)?;
    let server = Server {
        listener,
        addr,
        conn: ConnOptions {
            protocol: config.protocol,
            timeout: config.timeout,
            nodelay: config.nodelay,
            cork: config.cork,
        },
        workers: config.workers,
        backlog: config.backlog,
        stop,
    };
    (config.model.run)(server).with_context(|| format!("model {} failed", config.model.name))
}

/// Prints `listening on ADDR`, the line scripts and `compare` wait for.
fn announce(addr: SocketAddr) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "listening on {addr}")?;
    out.flush()
}
