//! `iomodels serve`: bind the listener, announce it, make SIGINT/SIGTERM a stop flag,
//! and hand everything to the chosen model.
//!
//! - [`args`]: the command line (`ServeArgs`) and the `--proto` value parser every
//!   command shares.

pub mod args;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};

pub use args::ServeArgs;

use crate::conn::{ConnOptions, Offload};
use crate::db;
use crate::error::usage;
use crate::model::{Announce, Family, Launch, ModelInfo, Stop};
use crate::protocol::{Database, Handlers, Protocol};
use crate::sys;

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
    /// The work of `/cpu` and `/wait`.
    pub handlers: Handlers,
    /// Where that work is carried out (`--offload`).
    pub offload: Offload,
}

/// Runs `iomodels serve` until SIGINT or SIGTERM, or until `--parent` exits.
pub fn run(args: &ServeArgs) -> Result<()> {
    crate::log::set_verbose(args.verbose);
    // Before the configuration: a model's default worker count follows the CPUs.
    if let Some(cpus) = &args.cpus {
        cpus.pin()?;
    }
    if let Some(parent) = args.parent {
        sys::process::stop_with_parent(parent)
            .map_err(|err| usage(format!("--parent {parent}: {err}")))?;
    }
    launch(&args.config())
}

/// A `--database` is for HTTP, and must answer before the server listens: a wrong one
/// is one line now, not a `503` on every request. A `--db-pool` is for the models that
/// pool their connections.
fn check_database(config: &ServeConfig) -> Result<()> {
    let Some(Database { url, pool }) = config.handlers.database else {
        return Ok(());
    };
    if config.protocol != Protocol::Http {
        return Err(usage("--database needs --proto http (/db and /queries)"));
    }
    if pool.is_some() {
        if let Some(why) = own_connections(config.model.family) {
            let model = config.model.name;
            return Err(usage(format!("{model}: --db-pool does not apply: {why}")));
        }
    }
    db::client::check(url).map_err(|why| usage(format!("--database {url}: {why}")))
}

/// Why a family has no pool of database connections for `--db-pool` to size, if so:
/// async and coroutines pool theirs ([`db::pooled`], [`db::parked`]).
fn own_connections(family: Family) -> Option<&'static str> {
    match family {
        Family::Async | Family::Coroutine => None,
        Family::Blocking => Some("each thread or process queries on a connection of its own"),
        Family::Readiness | Family::Completion => Some(
            "an event loop's queries go through the loop or its --offload threads, \
             which hold their own connections",
        ),
    }
}

/// Binds the listener `config` asks for and launches its model on it.
pub fn launch(config: &ServeConfig) -> Result<()> {
    // Holding thousands of connections needs more descriptors than many systems give
    // a process by default.
    sys::limits::raise_nofile();
    if let Some(precheck) = config.model.precheck {
        precheck()
            .map_err(|err| usage(format!("{}: {err}; use another model", config.model.name)))?;
    }
    let model = config.model.name;
    (config.model.offload.check(config.offload)).map_err(|why| usage(format!("{model}: {why}")))?;
    check_database(config)?;
    let stop = Stop::on_signals().context("cannot install the stop signal handlers")?;
    let listener = sys::listener::bind(config.addr, config.backlog, config.model.reuse_port)
        .map_err(|err| usage(format!("cannot listen on {}: {err}", config.addr)))?;
    let addr = listener.local_addr()?;
    if let Some(delay) = config.crash_after {
        sys::signal::die_after(delay).context("cannot arm --crash-after")?;
    }
    let announce = Announce::stdout(addr);
    let announce = if config.model.announces_when_ready {
        Some(announce)
    } else {
        announce.say()?;
        None
    };
    let launch = Launch {
        listener,
        addr,
        conn: ConnOptions {
            protocol: config.protocol,
            timeout: config.timeout,
            nodelay: config.nodelay,
            cork: config.cork,
            // Once per process, for its life: every session shares it.
            handlers: Box::leak(Box::new(config.handlers)),
            offload: config.offload,
        },
        workers: config.workers,
        backlog: config.backlog,
        stop,
        announce,
    };
    (config.model.run)(launch).with_context(|| format!("model {} failed", config.model.name))
}
