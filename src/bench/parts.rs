//! A whole bench run as the parts of its [`Fanout`]: what stands around them is done once
//! here, whether there is one part or many. One blocking connect probes the target;
//! the run waits for `--start-at`; the server's process tree is sampled and the
//! machine's CPU time read around the parts; a hold is watched (its ramp, the kernel's
//! memory) from the parts' live counters, which also draw the progress line. One part
//! runs in this process ([`measure`]); several run as processes of their own, merged
//! ([`super::spawn`]).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::config::{BenchConfig, WorkloadConfig};
use super::engine::LiveTotals;
use super::fanout::Fanout;
use super::measure::measure;
use super::net;
use super::output::Aggregate;
use super::progress::ProgressLine;
use super::spawn::run_processes;
use super::start;
use super::watch::{HoldWatch, ServerAt};
use super::SAMPLE_INTERVAL;
use crate::error::usage;
use crate::sample::{HostWatch, ProcessTree, Sampler};

/// Runs `config` as `fanout` says and returns what the whole run measured. A target that
/// answers no connect, or refused every connection of the run, is a usage error.
pub fn run_parts(
    config: &BenchConfig,
    fanout: &Fanout,
    stop: Arc<AtomicBool>,
) -> Result<Aggregate> {
    probe(config, fanout)?;
    if let Some(at) = config.start_at {
        start::wait_until(at, &stop);
    }
    let sampler = server_sampler(config)?;
    let host = HostWatch::start(config.server_pid);
    let mut watch = match &config.workload {
        WorkloadConfig::Hold(hold) => Some(HoldWatch::new(
            Instant::now(),
            hold.connections,
            hold.duration,
            if config.target.addr.ip().is_loopback() {
                ServerAt::Here(config.server_pid)
            } else {
                ServerAt::Elsewhere
            },
        )),
        _ => None,
    };
    let mut progress = ProgressLine::new();
    let observe = |live: LiveTotals| {
        progress.tick(live);
        if let Some(watch) = &mut watch {
            watch.observe(live);
        }
    };
    let measured = match fanout.processes {
        1 => measure(&fanout.part(config, 0), stop, observe),
        _ => run_processes(config, fanout, &stop, observe),
    };
    progress.finish();
    let server = sampler.map(Sampler::finish);
    let mut aggregate = measured?;
    aggregate.server = server;
    aggregate.host = host.and_then(|h| h.finish());
    if let Some(watch) = &watch {
        let held_peak = aggregate.held.map_or(0, |(_, peak)| peak);
        aggregate.ramp_s = watch.ramp_s();
        aggregate.memory = watch.memory(aggregate.server.as_ref(), held_peak);
        aggregate.kernel_counters = watch.counters();
        aggregate.ping_cost = watch.ping_cost();
    }
    refused_everything(config, &aggregate)?;
    Ok(aggregate)
}

/// One blocking connect to the target, from the fanout's first source address, so a
/// target that refuses connections gets one clear line.
pub(super) fn probe(config: &BenchConfig, fanout: &Fanout) -> Result<()> {
    let target = &config.target;
    net::probe(
        target.addr,
        fanout.sources.first().copied(),
        config.timeout.min(Duration::from_secs(2)),
    )
    .map_err(|err| usage(format!("cannot connect to {}: {err}", target.display)))
}

/// With `--server-pid`: the sampler of the server's process tree, started now.
fn server_sampler(config: &BenchConfig) -> Result<Option<Sampler>> {
    let Some(pid) = config.server_pid else {
        return Ok(None);
    };
    let tree = ProcessTree::new(pid).map_err(|err| usage(format!("--server-pid {pid}: {err}")))?;
    Ok(Some(Sampler::start(tree, SAMPLE_INTERVAL)))
}

/// A run whose every connect was refused measured nothing of the server: a usage error
/// (the target is wrong), not a run.
fn refused_everything(config: &BenchConfig, aggregate: &Aggregate) -> Result<()> {
    let r = &aggregate.recorder;
    if r.requests == 0 && r.connections_opened == 0 && r.errors.connect_failures() > 0 {
        return Err(usage(format!(
            "{} refused every connection ({} attempts)",
            config.target.display,
            r.errors.connect_failures()
        )));
    }
    Ok(())
}
