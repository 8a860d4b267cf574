//! Measuring a server that runs on another host, or loaded from other hosts: its cost
//! is sampled where it runs (`iomodels sample` beside it for the span of each bench
//! run) and the floor it is put against is measured there too (`iomodels floor`), so
//! the report's figures mean what they mean for a server and a load on this machine.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use nix::sys::signal::Signal;

use super::child::BenchChild;
use crate::floor::{Floor, FloorArgs};
use crate::hosts::{Host, HostProcess, Hosts};
use crate::results::run::BenchRun;
use crate::sample::command::{AtRest, SampleReport, READY};
use crate::sample::TreeSnapshot;

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

/// One bench run: `iomodels bench ARGS` here, or on every host of `clients` at once
/// (merged), with the server sampled where it runs.
pub fn bench_run(
    hosts: &Hosts,
    server_host: &Host,
    clients: &[Host],
    sampling: Sampling,
    args: &[String],
    json: PathBuf,
    limit: Duration,
) -> Result<BenchRun> {
    let from_here = clients.iter().all(Host::is_local) && clients.len() <= 1;
    let sampler = match sampling {
        Sampling::Here(pid) if from_here => {
            return BenchChild::start(args, pid, json, limit)?.finish()
        }
        Sampling::Here(pid) => pid.map(|pid| (Host::Local, pid)),
        Sampling::There(pid) => Some((server_host.clone(), pid)),
    };
    let sampler = match sampler {
        Some((host, pid)) => Some(SamplerOn::start(hosts, host, pid)?),
        None => None,
    };
    let run = if from_here {
        BenchChild::start(args, None, json, limit).and_then(BenchChild::finish)
    } else {
        super::clients::bench_from(hosts, clients, args, limit)
    };
    let report = sampler.map(SamplerOn::finish).transpose()?;
    let mut run = run?;
    run.server = report.map(|r| r.usage);
    // The machine's load where the server ran and the clients' CPU elsewhere do not
    // add up to one machine's: what else ran is not told for these runs.
    run.host = None;
    Ok(run)
}

/// `iomodels sample` running beside a server, on its host.
struct SamplerOn {
    host: Host,
    process: HostProcess,
}

impl SamplerOn {
    /// Starts sampling the tree of `pid` on `host`.
    fn start(hosts: &Hosts, host: Host, pid: u32) -> Result<SamplerOn> {
        let sample = ["sample".to_string(), "--pid".into(), pid.to_string()];
        let mut process = hosts.spawn(&host, &sample)?;
        if process.stdout_line(SAMPLER_WAIT).as_deref() != Some(READY) {
            return Err(anyhow!(
                "the sampler on {host} did not start: {}",
                process.last_words()
            ));
        }
        Ok(SamplerOn { host, process })
    }

    /// Stops it and reads what it sampled.
    fn finish(mut self) -> Result<SampleReport> {
        let host = &self.host;
        self.process.signal(Signal::SIGTERM);
        let line = self.process.stdout_line(SAMPLER_WAIT).ok_or_else(|| {
            anyhow!(
                "the sampler on {host} said nothing: {}",
                self.process.last_words()
            )
        })?;
        serde_json::from_str(&line).with_context(|| format!("the sampler on {host} wrote '{line}'"))
    }
}

/// The memory of the tree of `pid` on `host` now, as a snapshot that holds only it.
pub fn at_rest_there(hosts: &Hosts, host: &Host, pid: u32) -> Option<TreeSnapshot> {
    let args = ["sample", "--once", "--pid", &pid.to_string()].map(String::from);
    let out = hosts.output(host, &args, SAMPLER_WAIT).ok()?;
    let rest: AtRest = serde_json::from_str(out.trim()).ok()?;
    Some(TreeSnapshot {
        pss_kb: rest.pss_kb,
        private_dirty_kb: rest.private_dirty_kb,
        ..TreeSnapshot::default()
    })
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
