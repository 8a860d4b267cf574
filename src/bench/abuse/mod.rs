//! `iomodels bench abuse`: hostile clients against a server, with well-behaved clients
//! checking that nobody else is wronged.
//!
//! A run has three phases. *Before*: only the well-behaved clients ([`checker`]), for a
//! baseline latency. *During* (`--duration`): every hostile kind ([`hostile`]) with
//! `--per-kind` connections each, reopened as the server drops them, and the flood
//! ([`flood`]) in the second half. *After*: the hostile connections are gone; the run
//! waits for the first answered check, then checks a little longer. [`outcome`]
//! classifies what the server did with each hostile connection; [`output`] prints it.
//!
//! The run fails (non-zero exit) if a well-behaved client got a wrong answer, or the
//! server died or no longer serves after the abuse. Errors and slow answers during the
//! abuse are reported, not failures: a blocking model with two workers *will* make
//! clients wait while hostile ones hold them; how long is what the summary shows. So is
//! whether the server's memory came back near where it started
//! ([`output::memory_recovered`], with `--server-pid`).

pub mod args;
pub mod checker;
pub mod flood;
pub mod hostile;
pub mod outcome;
pub mod output;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

pub use args::AbuseArgs;
use args::AbuseConfig;
use checker::{AbusePhase, Checkers, PhaseStats};
use hostile::Kind;
use output::{AbuseRun, FloodTally, KindTally, ServerHealth, WellBehaved};

use crate::bench::net;
use crate::error::usage;
use crate::sample::procfs::is_alive;
use crate::sample::{ProcessTree, Sampler};

/// How long the well-behaved clients run alone, before and after the abuse.
const CALM: Duration = Duration::from_secs(1);
/// The memory *after* is read at least this long after the abuse ended: a server may
/// give freed memory back only now and then (ours trim at most once a second).
const MEMORY_SETTLE: Duration = Duration::from_secs(2);
/// ... and once the tree is back to the processes it had before (a `fork` server is
/// still forking children for connections the flood left in its backlog and closed),
/// or this long after the abuse ended.
const MEMORY_SETTLE_MAX: Duration = Duration::from_secs(5);
/// Descriptors kept for everything but the flood (checkers, hostile slots, stdio).
const RESERVED_FDS: usize = 256;

/// Runs `bench abuse`: prints the summary, writes the JSON if asked, and fails if the
/// server wronged a client or died.
pub fn run(args: &AbuseArgs) -> Result<()> {
    let config = args.config()?;
    let stop = Arc::new(AtomicBool::new(false));
    crate::sys::signal::stop_on_signals(&stop).context("cannot install the signal handlers")?;
    let outcome = run_phases(&config, &stop)?;
    if let Some(path) = &config.json {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut out = BufWriter::new(file);
        serde_json::to_writer_pretty(&mut out, &outcome)?;
        writeln!(out)?;
        out.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    outcome.print(&mut io::stdout().lock())?;
    match outcome.failures.first() {
        Some(first) => Err(anyhow!("the server failed the abuse run: {first}")),
        None => Ok(()),
    }
}

/// Runs the three phases and gathers what they found.
pub fn run_phases(config: &AbuseConfig, stop: &Arc<AtomicBool>) -> Result<AbuseRun> {
    let tree = reach_server(config)?;
    let flood_size = flood_size(config);
    let started = Instant::now();

    // Before: the well-behaved clients alone, for a baseline.
    let checkers = Checkers::start(config)?;
    let before = tree.as_ref().and_then(|t| t.sample().ok());
    pause(CALM, stop);

    // During: the hostile clients and the flood, the server's tree sampled.
    let sampler = tree
        .clone()
        .map(|t| Sampler::start(t, crate::bench::SAMPLE_INTERVAL));
    checkers.set_phase(AbusePhase::During);
    let (hostile, flood) = abuse(config, flood_size, stop)?;
    let abuse_ended = Instant::now();

    // After: how soon the server serves again, and whether its memory comes back.
    checkers.set_phase(AbusePhase::After);
    let recovered = wait_for_service(&checkers, config.timeout + CALM, stop);
    let recovery_s = recovered.then(|| abuse_ended.elapsed().as_secs_f64());
    if recovered {
        pause(CALM, stop);
    }
    let phases = checkers.finish();
    let usage = sampler.map(Sampler::finish);
    let rss_after = tree.as_ref().and_then(|tree| {
        let processes = before.as_ref().map_or(1, |s| s.processes);
        settled_memory(tree, processes, abuse_ended, stop)
    });
    let alive = config.server_pid.map_or(recovered, is_alive);

    let failures = failures(&phases, alive, recovered, stop);
    Ok(AbuseRun {
        target: config.target.display.clone(),
        proto: config.proto.name(),
        duration_s: started.elapsed().as_secs_f64(),
        well_behaved: WellBehaved::of(&phases, recovery_s),
        hostile,
        flood,
        server: ServerHealth::of(alive, before.map(|s| s.pss_kb), usage, rss_after),
        failures,
    })
}

/// Checks that the target answers a connect, and finds the server's process tree if
/// `--server-pid` names one; either failing is a usage error.
fn reach_server(config: &AbuseConfig) -> Result<Option<ProcessTree>> {
    let target = &config.target;
    net::probe(target.addr, None, Duration::from_secs(2))
        .map_err(|err| usage(format!("cannot connect to {}: {err}", target.display)))?;
    config
        .server_pid
        .map(|pid| ProcessTree::new(pid).map_err(|e| usage(format!("--server-pid {pid}: {e}"))))
        .transpose()
}

/// How many connections the flood opens: `--flood`, at most what the descriptor limit
/// (raised as far as it goes) leaves beside the hostile slots and [`RESERVED_FDS`].
fn flood_size(config: &AbuseConfig) -> usize {
    let fits = usize::try_from(net::raise_fd_limit()).unwrap_or(usize::MAX);
    let hostile = Kind::for_proto(config.proto).len() * config.per_kind;
    let flood_fits = fits.saturating_sub(RESERVED_FDS + hostile);
    config.flood.unwrap_or(flood_fits).min(flood_fits)
}

/// The abuse itself: every hostile kind for `--duration`, the flood in its second half.
/// Returns once they have all ended, with what the server did to each.
fn abuse(
    config: &AbuseConfig,
    flood_size: usize,
    stop: &Arc<AtomicBool>,
) -> Result<(Vec<KindTally>, Option<FloodTally>)> {
    let end = Instant::now() + config.duration;
    let mut slots = Vec::new();
    for &kind in Kind::for_proto(config.proto) {
        slots.push((kind, hostile::start(kind, config, end, stop)?));
    }
    let flood = (flood_size > 0).then(|| {
        let (addr, stop) = (config.target.addr, stop.clone());
        std::thread::spawn(move || {
            // The flood starts halfway, so the first half shows the other kinds alone.
            pause(end.saturating_duration_since(Instant::now()) / 2, &stop);
            flood::run(addr, flood_size, end, &stop)
        })
    });
    pause(end.saturating_duration_since(Instant::now()), stop);
    let hostile = slots
        .into_iter()
        .map(|(kind, threads)| KindTally {
            kind: kind.name(),
            tally: join_tallies(threads),
        })
        .collect();
    let flood = match flood.map(JoinHandle::join) {
        Some(Ok(Ok(tally))) => Some(FloodTally {
            size: flood_size,
            tally,
        }),
        Some(Ok(Err(err))) => return Err(anyhow!(err).context("the flood failed")),
        Some(Err(_)) => return Err(anyhow!("the flood thread panicked")),
        None => None,
    };
    Ok((hostile, flood))
}

/// Waits for the slots of one hostile kind and adds up their outcomes.
fn join_tallies(threads: Vec<JoinHandle<outcome::Tally>>) -> outcome::Tally {
    let mut tally = outcome::Tally::default();
    for thread in threads {
        tally.add(&thread.join().unwrap_or_default());
    }
    tally
}

/// Why the run fails: a wrong answer to a well-behaved client, the server's death, or
/// no service after the abuse (unless the run was interrupted before it came back).
fn failures(phases: &[PhaseStats], alive: bool, recovered: bool, stop: &AtomicBool) -> Vec<String> {
    let mut failures = Vec::new();
    let wrong: u64 = phases.iter().map(|p| p.wrong).sum();
    if wrong > 0 {
        let why = phases.iter().find_map(|p| p.first_wrong.clone());
        failures.push(format!(
            "{wrong} wrong answers to well-behaved clients (first: {})",
            why.unwrap_or_default()
        ));
    }
    if !alive {
        failures.push("the server died".to_string());
    } else if !recovered && !stop.load(Ordering::SeqCst) {
        failures.push("the server did not serve again after the abuse".to_string());
    }
    failures
}

/// Sleeps `total`, waking early if `stop` is set.
fn pause(total: Duration, stop: &AtomicBool) {
    let until = Instant::now() + total;
    while !stop.load(Ordering::SeqCst) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// The tree's memory once it has settled after the abuse (see [`MEMORY_SETTLE`] and
/// [`MEMORY_SETTLE_MAX`]); None if the server is gone.
fn settled_memory(
    tree: &ProcessTree,
    processes: u32,
    abuse_ended: Instant,
    stop: &AtomicBool,
) -> Option<u64> {
    pause(MEMORY_SETTLE.saturating_sub(abuse_ended.elapsed()), stop);
    loop {
        let snap = tree.sample().ok()?;
        if snap.processes <= processes
            || abuse_ended.elapsed() >= MEMORY_SETTLE_MAX
            || stop.load(Ordering::SeqCst)
        {
            return Some(snap.pss_kb);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits up to `limit` for a well-behaved check to be answered in the current phase.
fn wait_for_service(checkers: &Checkers, limit: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until && !stop.load(Ordering::SeqCst) {
        if checkers.answered_in_phase() > 0 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    checkers.answered_in_phase() > 0
}
