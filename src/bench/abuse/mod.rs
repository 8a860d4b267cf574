//! `iomodels bench abuse`: hostile clients against a server, with well-behaved clients
//! checking that nobody else is wronged.
//!
//! A run has three phases. *Before*: only the well-behaved clients ([`checker`]), for a
//! baseline latency. *During* (`--duration`): every hostile kind ([`hostile`]) with
//! `--per-kind` connections each, reopened as the server drops them, and the flood
//! ([`flood`]) in the second half. *After*: the hostile connections are gone; the run
//! waits for the first answered check, then checks a little longer. [`outcome`]
//! classifies what the server did with each hostile connection; [`report`] prints it.
//!
//! The run fails (non-zero exit) if a well-behaved client got a wrong answer, or the
//! server died or no longer serves after the abuse. Errors and slow answers during the
//! abuse are reported, not failures: a blocking model with two workers *will* make
//! clients wait while hostile ones hold them; how long is what the report shows. So is
//! whether the server's memory came back near where it started
//! ([`report::memory_recovered`], with `--server-pid`).

pub mod args;
pub mod checker;
pub mod flood;
pub mod hostile;
pub mod outcome;
pub mod report;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

pub use args::AbuseArgs;
use args::AbuseConfig;
use checker::{AbusePhase, Checkers};
use hostile::Kind;
use report::{AbuseReport, FloodReport, KindReport, PhaseReport, ServerReport, WellBehaved};

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
    let report = run_config(&config, &stop)?;
    if let Some(path) = &config.json {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut out = BufWriter::new(file);
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        out.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    report.print(&mut io::stdout().lock())?;
    match report.failures.first() {
        Some(first) => Err(anyhow!("the server failed the abuse run: {first}")),
        None => Ok(()),
    }
}

/// Runs the three phases and gathers the report.
pub fn run_config(config: &AbuseConfig, stop: &Arc<AtomicBool>) -> Result<AbuseReport> {
    let target = &config.target;
    net::probe(target.addr, None, Duration::from_secs(2))
        .map_err(|err| usage(format!("cannot connect to {}: {err}", target.display)))?;
    let tree = match config.server_pid {
        Some(pid) => {
            Some(ProcessTree::new(pid).map_err(|e| usage(format!("--server-pid {pid}: {e}")))?)
        }
        None => None,
    };
    let kinds = Kind::for_proto(config.proto);
    let fits = usize::try_from(net::raise_fd_limit()).unwrap_or(usize::MAX);
    let flood_fits = fits.saturating_sub(RESERVED_FDS + kinds.len() * config.per_kind);
    let flood_size = config.flood.unwrap_or(flood_fits).min(flood_fits);
    let started = Instant::now();

    let checkers = Checkers::start(config)?;
    let before = tree.as_ref().and_then(|t| t.sample().ok());
    let rss_before = before.as_ref().map(|s| s.pss_kb);
    pause(CALM, stop);

    let sampler = tree
        .clone()
        .map(|t| Sampler::start(t, crate::bench::SAMPLE_INTERVAL));
    checkers.set_phase(AbusePhase::During);
    let end = Instant::now() + config.duration;
    let mut slots = Vec::new();
    for &kind in kinds {
        slots.push((kind, hostile::start(kind, config, end, stop)?));
    }
    let flood = (flood_size > 0).then(|| {
        let (addr, stop) = (target.addr, stop.clone());
        std::thread::spawn(move || {
            // The flood starts halfway, so the first half shows the other kinds alone.
            pause(end.saturating_duration_since(Instant::now()) / 2, &stop);
            flood::run(addr, flood_size, end, &stop)
        })
    });
    pause(end.saturating_duration_since(Instant::now()), stop);
    let hostile = slots
        .into_iter()
        .map(|(kind, threads)| {
            let mut tally = outcome::Tally::default();
            for thread in threads {
                tally.merge(&thread.join().unwrap_or_default());
            }
            KindReport {
                kind: kind.name(),
                tally,
            }
        })
        .collect();
    let flood = match flood.map(|t| t.join()) {
        Some(Ok(Ok(tally))) => Some(FloodReport {
            size: flood_size,
            tally,
        }),
        Some(Ok(Err(err))) => return Err(anyhow!(err).context("the flood failed")),
        Some(Err(_)) => return Err(anyhow!("the flood thread panicked")),
        None => None,
    };
    let abuse_ended = Instant::now();

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
    let alive = match config.server_pid {
        Some(pid) => is_alive(pid),
        None => recovered,
    };

    let well_behaved = WellBehaved {
        before: PhaseReport::from(&phases[AbusePhase::Before as usize]),
        during: PhaseReport::from(&phases[AbusePhase::During as usize]),
        after: PhaseReport::from(&phases[AbusePhase::After as usize]),
        recovery_s,
    };
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
    Ok(AbuseReport {
        target: target.display.clone(),
        proto: config.proto.name(),
        duration_s: started.elapsed().as_secs_f64(),
        well_behaved,
        hostile,
        flood,
        server: ServerReport {
            alive,
            rss_before_kb: rss_before,
            rss_peak_kb: usage.as_ref().map(|u| u.pss_peak_kb),
            cpu_s: usage.as_ref().map(|u| u.cpu_user_s + u.cpu_sys_s),
            processes_peak: usage.as_ref().map(|u| u.processes),
            threads_peak: usage.as_ref().map(|u| u.threads),
            rss_after_kb: rss_after,
            rss_recovered: rss_before
                .zip(rss_after)
                .map(|(before, after)| report::memory_recovered(before, after)),
        },
        failures,
    })
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
