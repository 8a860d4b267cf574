//! Measuring a server that runs on another host: its cost is sampled there (`iomodels
//! sample` beside it for the span of each bench run) and the floor it is put against
//! is measured there too (`iomodels floor`), so the report's figures mean what they
//! mean for a server on this machine.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use nix::sys::signal::Signal;

use super::child::BenchChild;
use crate::floor::{Floor, FloorArgs};
use crate::hosts::{Host, Hosts};
use crate::results::run::BenchRun;
use crate::sample::command::{SampleReport, READY};

/// How long the sampler may take to start, and to answer once stopped.
const SAMPLER_WAIT: Duration = Duration::from_secs(20);
/// How long the floor may take there.
const FLOOR_LIMIT: Duration = Duration::from_secs(120);

/// Where a bench run's server is sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// Here, by bench itself (`--server-pid`), if the pid is known.
    Here(Option<u32>),
    /// On the server host, by `iomodels sample` running there.
    There(u32),
}

/// One `iomodels bench ARGS` run here, with the server sampled where it runs.
pub fn bench_run(
    hosts: &Hosts,
    server_host: &Host,
    sampling: Sampling,
    args: &[String],
    json: PathBuf,
    limit: Duration,
) -> Result<BenchRun> {
    let pid = match sampling {
        Sampling::Here(pid) => return BenchChild::start(args, pid, json, limit)?.finish(),
        Sampling::There(pid) => pid,
    };
    let sample = ["sample".to_string(), "--pid".into(), pid.to_string()];
    let mut sampler = hosts.spawn(server_host, &sample)?;
    if sampler.stdout_line(SAMPLER_WAIT).as_deref() != Some(READY) {
        return Err(anyhow!(
            "the sampler on {server_host} did not start: {}",
            sampler.last_words()
        ));
    }
    let run = BenchChild::start(args, None, json, limit).and_then(BenchChild::finish);
    sampler.signal(Signal::SIGTERM);
    let line = sampler.stdout_line(SAMPLER_WAIT).ok_or_else(|| {
        anyhow!(
            "the sampler on {server_host} said nothing: {}",
            sampler.last_words()
        )
    })?;
    let report: SampleReport = serde_json::from_str(&line)
        .with_context(|| format!("the sampler on {server_host} wrote '{line}'"))?;
    let mut run = run?;
    run.server = Some(report.usage);
    // The machine's load there and the client's CPU here do not add up to one
    // machine's: what else ran is not told for a server elsewhere.
    run.host = None;
    Ok(run)
}

/// The floor on `host`, as compare measures it each round here ([`FloorArgs::brief`]).
pub fn floor_there(hosts: &Hosts, host: &Host) -> Result<f64> {
    let brief = FloorArgs::brief();
    let args: Vec<String> = [
        "floor",
        "--floor-only",
        "--json",
        "--connections",
        &brief.connections.to_string(),
        "--rounds",
        &brief.rounds.to_string(),
        "--requests",
        &brief.requests.to_string(),
    ]
    .map(String::from)
    .to_vec();
    let out = hosts.output(host, &args, FLOOR_LIMIT)?;
    let floor: Floor = serde_json::from_str(out.trim())
        .with_context(|| format!("the floor on {host} wrote '{}'", out.trim()))?;
    Ok(floor.cpu_us)
}
