//! One part of a run, measured in this process: the workload on the engine's threads,
//! their recorders added into one [`Aggregate`] with this process's own usage, its
//! wall-clock start and its origin. What stands around the parts (the probe, the start
//! time, the server's sampling, the watch) is [`super::parts`]'s.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;

use super::config::{BenchConfig, WorkloadConfig};
use super::engine::{self, LiveTotals, Shared, ThreadResult};
use super::output::Aggregate;
use super::{echo, hold, http, start};
use crate::results::run::round3;
use crate::sample::{own_usage, OwnUsage};
use crate::stats::Recorder;

/// Runs `config`'s workload in this process and returns what it measured; `stop` ends
/// it early, `show` is given the live counters every [`engine::PROGRESS_TICK`].
pub fn measure(
    config: &BenchConfig,
    stop: Arc<AtomicBool>,
    mut show: impl FnMut(LiveTotals),
) -> Result<Aggregate> {
    let before = own_usage()?;
    let shared = Shared::new(config.threads, stop);
    let started_at = round3(start::unix_now_s());
    let start = Instant::now();
    let results = engine::run_threads(
        config,
        &shared,
        start,
        |ctx| match &config.workload {
            WorkloadConfig::Echo(echo) => echo::run_thread(ctx, echo),
            WorkloadConfig::Http(http) => http::run_thread(ctx, http),
            WorkloadConfig::Hold(hold) => hold::run_thread(ctx, hold),
        },
        |shared| show(shared.live()),
    )?;
    let client = own_usage()?.since(&before);
    let mut aggregate = add_up(config, start, results, client);
    aggregate.started_at = Some(started_at);
    aggregate.origin = Some(origin());
    Ok(aggregate)
}

/// The threads' results as one aggregate: counts and histograms added, the run's
/// length until its last thread ended.
fn add_up(
    config: &BenchConfig,
    start: Instant,
    results: Vec<ThreadResult>,
    client: OwnUsage,
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
        held: config.workload.is_hold().then_some((held, held_peak)),
        server: None,
        client,
        host: None,
        started_at: None,
        origin: None,
        ramp_s: None,
        memory: None,
        limits: None,
        kernel_counters: None,
        ping_cost: None,
        losses: None,
        parts: None,
        start_spread_s: None,
    }
}

/// This machine's name and this process's id: who made a run.
pub fn origin() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{} pid {}", host.trim(), std::process::id())
}
