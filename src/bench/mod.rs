//! `iomodels bench`: the load generator. It drives any TCP server with one of the
//! seeds' three workloads (`echo`, `http`, `hold`) and measures what it sees, or turns
//! hostile clients on it (`abuse`).
//!
//! The pipeline, as in oha: each event-loop thread ([`engine`]) runs its share of the
//! connections for a workload ([`echo`], [`http`], [`hold`]) and records raw samples
//! into its own [`crate::stats::Recorder`]; the recorders are added into an
//! [`Aggregate`], which is all the printer ([`output`]) reads. Meanwhile a
//! [`Sampler`] reads the server's process tree from `/proc` if asked.
//!
//! What the engine guarantees: it never crashes or hangs on a bad server (every connect
//! and request has a timeout; every error is counted by kind); it allocates nothing per
//! request; a target that refuses every connection, or a bad flag, is a usage error.
//!
//! - [`args`]: the command line; [`config`]: the validated configuration and parsers;
//!   [`target`]: addresses and URLs.
//! - [`engine`]: threads, timers, live counters; [`net`]: sockets and error kinds.
//! - [`fanout`]: a hold past one process's descriptors, as several processes of bench
//!   over several source addresses, merged; [`watch`]: the ramp and the kernel's
//!   memory, read while connections are held; [`merge`]: `iomodels merge`;
//!   [`start`]: `--start-at`, a start on the wall clock shared by several machines.
//! - [`abuse`]: hostile clients against a server, with checking clients alongside
//!   (its own threads, not the engine: hostile clients are few and slow).
//! - [`echo`], [`http`], [`hold`]: the workloads; [`response`]: the streaming HTTP
//!   response reader; [`pattern`]: the content of echo messages.
//! - [`output`]: JSON and the human summary; [`progress`]: the live line.

pub mod abuse;
pub mod args;
pub mod config;
pub mod echo;
pub mod engine;
pub mod fanout;
pub mod hold;
pub mod http;
pub mod merge;
pub mod net;
pub mod output;
pub mod pattern;
pub mod progress;
pub mod response;
pub mod start;
pub mod target;
pub mod watch;

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

pub use args::BenchArgs;
pub use config::{BenchConfig, WorkloadConfig};
pub use output::Aggregate;

use crate::error::usage;
use crate::results::run::round3;
use crate::sample::{own_usage, HostTimes, ProcessTree, Sampler};
use crate::stats::Recorder;
use engine::{LiveTotals, Shared, ThreadResult};
use progress::ProgressLine;
use watch::HoldWatch;

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
    if let Some(parent) = config.part_of {
        return run_part(&config, stop, parent);
    }
    let plan = fanout::plan(&config, net::raise_fd_limit(), net::ephemeral_ports())?;
    let aggregate = if plan.processes > 1 {
        probe(&config)?;
        wait_to_start(&config, &stop);
        fanout::run(&config, &plan, &stop)?
    } else {
        let config = BenchConfig {
            sources: plan.sources,
            ..config.clone()
        };
        let mut progress = ProgressLine::new();
        let aggregate = run_config(&config, stop, |live| progress.tick(live));
        progress.finish();
        aggregate?
    };
    output::emit(&aggregate, config.json.as_deref())?;
    // After the summary and the JSON, which show what went wrong in full.
    match aggregate.total_failure() {
        Some(why) => Err(anyhow::anyhow!(why)),
        None => Ok(()),
    }
}

/// One part of a hold spread over processes ([`fanout`]): the run, with its progress
/// and then its run's document as lines on stdout for the process `parent` that
/// started it. It stops when that process exits.
fn run_part(config: &BenchConfig, stop: Arc<AtomicBool>, parent: u32) -> Result<()> {
    crate::sys::process::stop_with_parent(parent)
        .map_err(|err| usage(format!("--part-of {parent}: {err}")))?;
    let mut last = Instant::now();
    let aggregate = run_config(config, stop, |live| {
        if last.elapsed() >= PART_REPORT {
            last = Instant::now();
            let _ = fanout::report_progress(&mut io::stdout().lock(), live);
        }
    })?;
    fanout::report_run(&mut io::stdout().lock(), &aggregate.json())?;
    Ok(())
}

/// Waits for `--start-at`, if given (a part of a fanout does not: its parent waited).
fn wait_to_start(config: &BenchConfig, stop: &AtomicBool) {
    if let (Some(at), None) = (config.start_at, config.part_of) {
        start::wait_until(at, stop);
    }
}

/// How often a part reports its live counters.
const PART_REPORT: Duration = Duration::from_millis(100);

/// With `--server-pid`: the sampler of the server's process tree, started now.
fn server_sampler(config: &BenchConfig) -> Result<Option<Sampler>> {
    let Some(pid) = config.server_pid else {
        return Ok(None);
    };
    let tree = ProcessTree::new(pid).map_err(|err| usage(format!("--server-pid {pid}: {err}")))?;
    Ok(Some(Sampler::start(tree, SAMPLE_INTERVAL)))
}

/// One blocking connect to the target, so a target that refuses connections gets one
/// clear line.
fn probe(config: &BenchConfig) -> Result<()> {
    let target = &config.target;
    net::probe(
        target.addr,
        config.sources.first().copied(),
        config.timeout.min(Duration::from_secs(2)),
    )
    .map_err(|err| usage(format!("cannot connect to {}: {err}", target.display)))
}

/// Runs one validated workload in this process and returns what it measured; `stop`
/// ends it early, `show` is given the live counters every [`engine::PROGRESS_TICK`].
/// [`run`] calls it; `compare` does not: it runs `iomodels bench ... --json FILE` as a
/// child process and reads the file back (`compare/child.rs`).
pub fn run_config(
    config: &BenchConfig,
    stop: Arc<AtomicBool>,
    mut show: impl FnMut(LiveTotals),
) -> Result<Aggregate> {
    let connections = config.workload.connections();
    let fits = net::raise_fd_limit();
    if connections as u64 > fits {
        return Err(usage(format!(
            "{connections} connections need more file descriptors than the limit allows \
             (at most {fits} here; see ulimit -n)"
        )));
    }
    probe(config)?;
    wait_to_start(config, &stop);
    let target = &config.target;
    let sampler = server_sampler(config)?;
    let before = own_usage()?;
    let host_before = HostTimes::now().ok();
    let shared = Shared::new(config.threads, stop);
    let started_at = round3(start::unix_now_s());
    let start = Instant::now();
    let mut watch = matches!(config.workload, WorkloadConfig::Hold(_))
        .then(|| HoldWatch::new(start, connections));
    let results = engine::run_threads(
        config,
        &shared,
        start,
        |ctx| match &config.workload {
            WorkloadConfig::Echo(echo) => echo::run_thread(ctx, echo),
            WorkloadConfig::Http(http) => http::run_thread(ctx, http),
            WorkloadConfig::Hold(hold) => hold::run_thread(ctx, hold),
        },
        |shared| {
            let live = shared.live();
            show(live);
            if let Some(watch) = &mut watch {
                watch.observe(live);
            }
        },
    );
    let server = sampler.map(Sampler::finish);
    let results = results?;
    let client = own_usage()?.since(&before);
    let host = host_before.and_then(|b| Some(HostTimes::now().ok()?.since(&b)));
    let mut aggregate = aggregate(config, start, results, server, client);
    aggregate.host = host;
    aggregate.started_at = Some(started_at);
    aggregate.origin = Some(origin());
    if let Some(watch) = &watch {
        let held_peak = aggregate.held.map_or(0, |(_, peak)| peak);
        aggregate.ramp_s = watch.ramp_s();
        aggregate.memory = watch.memory(aggregate.server.as_ref(), held_peak);
    }
    let r = &aggregate.recorder;
    if r.requests == 0 && r.connections_opened == 0 && r.errors.connect_failures() > 0 {
        return Err(usage(format!(
            "{} refused every connection ({} attempts)",
            target.display,
            r.errors.connect_failures()
        )));
    }
    Ok(aggregate)
}

fn aggregate(
    config: &BenchConfig,
    start: Instant,
    results: Vec<ThreadResult>,
    server: Option<crate::sample::TreeUsage>,
    client: crate::sample::OwnUsage,
) -> Aggregate {
    let mut recorder = Recorder::new();
    let (mut held, mut held_peak) = (0, 0);
    let mut end = start;
    for result in &results {
        recorder.add(&result.recorder);
        held += result.held;
        held_peak += result.held_peak;
        end = end.max(result.ended);
    }
    Aggregate {
        workload: config.workload.name().to_string(),
        target: config.target.display.clone(),
        connections: config.workload.connections(),
        threads: config.threads,
        duration_s: (end - start).as_secs_f64(),
        recorder,
        held: matches!(config.workload, WorkloadConfig::Hold(_)).then_some((held, held_peak)),
        server,
        client,
        host: None,
        started_at: None,
        origin: None,
        ramp_s: None,
        memory: None,
        parts: None,
        start_spread_s: None,
    }
}

/// This machine's name and this process's id: who made a run.
fn origin() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{} pid {}", host.trim(), std::process::id())
}
