//! `iomodels bench`: the load generator. It drives any TCP server with one of the
//! seeds' three workloads (`echo`, `http`, `hold`) and measures what it sees, or turns
//! hostile clients on it (`abuse`).
//!
//! The pipeline, as in oha: each event-loop thread ([`engine`]) runs its share of the
//! connections for a workload ([`echo`], [`http`], [`hold`]) and records raw samples
//! into its own [`crate::stats::Recorder`]; the recorders are added into an
//! [`Aggregate`], which is all the printer ([`output`]) reads. Meanwhile a
//! [`crate::sample::Sampler`] reads the server's process tree from `/proc` if asked.
//!
//! One path runs every bench: a [`fanout`] plan says over how many processes the
//! connections go; [`parts`] does what stands around them once (the probe, the start
//! time, the server's sampling, the watch) and runs one part in this process
//! ([`measure`]) or several as processes of bench ([`spawn`]), merged exactly into one
//! run.
//!
//! What the engine guarantees: it never crashes or hangs on a bad server (every connect
//! and request has a timeout; every error is counted by kind); it allocates nothing per
//! request; a target that refuses every connection, or a bad flag, is a usage error.
//!
//! - [`args`]: the command line; [`config`]: the validated configuration and parsers;
//!   [`argv`]: a configuration as the command line that gives it; [`target`]:
//!   addresses and URLs.
//! - [`engine`]: threads, timers, live counters; [`net`]: sockets and error kinds.
//! - [`fanout`], [`parts`], [`measure`], [`spawn`]: a run and its parts, as above;
//!   [`watch`]: the ramp and the memory it costs (the kernel's by cache, the load
//!   generator's), read while connections are held;
//! - before a hold, [`preflight`]: [`calibrate`] (the CPU a request costs) and
//!   [`limits`] (what the machine allows, the ping interval rule); after it,
//!   [`losses`] (each kind of lost connection and its cause); [`hold_report`] prints
//!   them;
//!   [`start`]: `--start-at`, a start on the wall clock shared by several machines.
//! - [`merge`]: `iomodels merge`, runs made at once as one.
//! - [`abuse`]: hostile clients against a server, with checking clients alongside
//!   (its own threads, not the engine: hostile clients are few and slow).
//! - [`echo`], [`http`], [`hold`]: the workloads; [`response`]: the streaming HTTP
//!   response reader; [`pattern`]: the content of echo messages.
//! - [`output`]: JSON and the human summary; [`progress`]: the live line.

pub mod abuse;
pub mod args;
pub mod argv;
pub mod calibrate;
pub mod config;
pub mod echo;
pub mod engine;
pub mod fanout;
pub mod hold;
pub mod hold_report;
pub mod http;
pub mod limits;
pub mod losses;
pub mod measure;
pub mod merge;
pub mod net;
pub mod output;
pub mod parts;
pub mod pattern;
pub mod preflight;
pub mod progress;
pub mod response;
pub mod spawn;
pub mod start;
pub mod target;
pub mod watch;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

pub use args::BenchArgs;
pub use config::{BenchConfig, WorkloadConfig};
pub use output::Aggregate;

/// How often `--server-pid` samples the server's process tree.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(200);

/// Runs `iomodels bench`: the workload, then the summary on stdout and the JSON file;
/// a run in which no request succeeded is an error (exit code 1) saying why.
/// SIGINT or SIGTERM ends the run early, and its results are still written.
pub fn run(args: &BenchArgs) -> Result<()> {
    if let args::WorkloadArgs::Abuse(abuse) = &args.workload {
        return abuse::run(abuse);
    }
    let config = args.config()?;
    let stop = Arc::new(AtomicBool::new(false));
    crate::sys::signal::stop_on_signals(&stop).context("cannot install the signal handlers")?;
    let fits = net::raise_fd_limit();
    if let Some(parent) = config.part_of {
        return spawn::run_part(&config, stop, parent);
    }
    let fanout = fanout::plan(&config, fits, crate::sample::sockstat::ephemeral_ports())?;
    let (config, limits) = preflight::prepare(&config, &fanout, fits)?;
    let mut aggregate = parts::run_parts(&config, &fanout, stop)?;
    if config.workload.is_hold() {
        aggregate.losses = Some(explain_losses(&config, &aggregate, limits.as_ref()));
        aggregate.limits = limits;
    }
    output::emit(&aggregate, config.json.as_deref())?;
    // After the summary and the JSON, which show what went wrong in full.
    match aggregate.total_failure() {
        Some(why) => Err(anyhow::anyhow!(why)),
        None => Ok(()),
    }
}

/// Each kind of connection a hold lost, with its cause ([`losses`]).
fn explain_losses(
    config: &BenchConfig,
    aggregate: &Aggregate,
    limits: Option<&crate::results::hold::Limits>,
) -> crate::results::hold::Losses {
    let r = &aggregate.recorder;
    losses::explain(&losses::RunFigures {
        connections: config.workload.connections() as u64,
        held: aggregate.held.map_or(0, |(held, _)| held),
        errors: &r.errors,
        latency: &crate::stats::Summary::of(&r.latency),
        connect: &crate::stats::Summary::of(&r.connect),
        timeout_s: config.timeout.as_secs_f64(),
        host: aggregate.host.as_ref(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        limits,
        kernel: aggregate.kernel_counters.unwrap_or_default(),
        holding: aggregate.ping_cost,
    })
}
