//! What bench does before a hold starts: it probes the target, measures the CPU a
//! keep-alive request costs ([`super::calibrate`]), derives the ping interval when none
//! was given, reads what the machine allows ([`MachineLimits`], [`ServerRoom`]) and checks the
//! count against every limit ([`super::limits`]). It prints the limits and the one that
//! binds first, and refuses, in one line, a count the machine cannot hold.
//!
//! A hold with a given `--interval` that one process holds is not measured: its pings
//! cannot ask for cores, and a measurement's 2,048 requests over 64 connections would
//! land on the server `compare` is about to sample (a pool of a few workers would keep
//! them waiting for their timeout).

use std::io::{self, Write};
use std::time::Duration;

use anyhow::Result;

use super::config::{BenchConfig, WorkloadConfig};
use super::fanout::{Fanout, PORTS_USED};
use super::hold_report::print_limits;
use super::limits::{self, Demand};
use super::{calibrate, parts};
use crate::error::usage;
use crate::results::hold::Limits;
use crate::sample::machine::{MachineLimits, ServerRoom};

/// For a hold: `config` with its ping interval settled, and the limits it was checked
/// against, printed (on stdout, or stderr when the JSON goes to stdout). A count past
/// the binding limit is a usage error. Other workloads pass unchanged.
pub fn prepare(
    config: &BenchConfig,
    fanout: &Fanout,
    fits: u64,
) -> Result<(BenchConfig, Option<Limits>)> {
    let WorkloadConfig::Hold(hold) = &config.workload else {
        return Ok((config.clone(), None));
    };
    parts::probe(config, fanout)?;
    let target = &config.target;
    let local = target.addr.ip().is_loopback();
    let source = fanout.sources.first().copied();
    let small = !hold.derive_interval && hold.connections as u64 <= fits;
    let measured = if small {
        Err("not measured for a given --interval and a count one process holds".to_string())
    } else {
        calibrate::measure(target, hold, source, config.server_pid, local)
            .map_err(|err| format!("no request of the measurement was answered: {err}"))
    };
    let cpu = measured.as_ref().ok().copied();
    let machine = MachineLimits::read();
    let server = if local {
        ServerRoom::read(config.server_pid, target.addr)
    } else {
        ServerRoom::default()
    };
    let connections = hold.connections as u64;
    let interval = if hold.derive_interval {
        limits::default_interval(connections, machine.cores, cpu.map(|c| c.here_us()))
    } else {
        hold.interval
    };
    let demand = Demand {
        connections,
        local,
        processes: fanout.processes as u64,
        fits,
        threads: config.threads.div_ceil(fanout.processes) as u64,
        // Bench picks as many loopback sources as it needs: only given ones bound it.
        sources: (!config.sources.is_empty()).then_some(config.sources.len() as u64),
        ports_used: PORTS_USED,
        interval_mean: (interval.0 + interval.1) / 2,
        timeout: config.timeout,
        cpu_us: measured.as_ref().map(|c| c.here_us()).map_err(Clone::clone),
        port: target.addr.port(),
    };
    let rows = limits::check(&machine, &server, &demand);
    if let Some(line) = limits::refusal(&rows, connections) {
        return Err(usage(line));
    }
    let report = Limits {
        interval_s: [secs(interval.0), secs(interval.1)],
        interval_derived: hold.derive_interval,
        cpu_per_request: cpu,
        binding: limits::binding(&rows).map(|r| r.name.clone()),
        rows,
    };
    let printed = match config.json.as_deref() {
        Some(path) if path.as_os_str() == "-" => {
            print_limits(&mut io::stderr().lock(), &report, connections, &machine)
        }
        _ => print_limits(&mut io::stdout().lock(), &report, connections, &machine),
    };
    printed.and_then(|()| io::stdout().flush())?;
    let mut settled = config.clone();
    if let WorkloadConfig::Hold(h) = &mut settled.workload {
        h.interval = interval;
        h.derive_interval = false;
    }
    Ok((settled, Some(report)))
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}
