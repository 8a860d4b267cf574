//! Load from several hosts at once (`compare --client-host`, repeated): one `iomodels
//! bench` on each, all given one `--start-at` a moment ahead, each writing its run on
//! stdout (`--json -`); their runs are merged exactly ([`crate::results::merge`]), and
//! the merged run says how far apart they really started.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};

use crate::bench::start::unix_now_s;
use crate::hosts::{Host, HostProcess, Hosts};
use crate::results::merge::merge;
use crate::results::run::BenchRun;

/// How far ahead the shared start is: time for every host's bench to start and
/// connect its first probe, over a multiplexed ssh connection.
const LEAD: Duration = Duration::from_millis(500);
/// How long a finished bench may take to hand over its run.
const HANDOVER: Duration = Duration::from_secs(5);

/// `iomodels bench ARGS` on every host of `clients` at once, their runs merged; each
/// is killed if it runs past `limit`.
pub fn bench_from(
    hosts: &Hosts,
    clients: &[Host],
    args: &[String],
    limit: Duration,
) -> Result<BenchRun> {
    let at = unix_now_s() + LEAD.as_secs_f64();
    let mut line = vec!["bench".to_string()];
    line.extend(args.iter().cloned());
    line.extend(["--json".into(), "-".into()]);
    line.extend(["--start-at".into(), format!("{at:.3}")]);
    let mut running = Vec::with_capacity(clients.len());
    for host in clients {
        running.push((host, hosts.spawn(host, &line)?));
    }
    let deadline = Instant::now() + LEAD + limit;
    let mut runs = Vec::with_capacity(running.len());
    for (host, process) in &mut running {
        runs.push(finish(host, process, deadline)?);
    }
    merge(&runs).map_err(|err| anyhow!("the load generators' runs do not merge: {err}"))
}

/// Waits for one host's bench and reads its run.
fn finish(host: &Host, process: &mut HostProcess, deadline: Instant) -> Result<BenchRun> {
    let wait = deadline.saturating_duration_since(Instant::now());
    let Some(status) = process.wait_for(wait) else {
        process.kill();
        bail!("the load generator on {host} hung and was killed");
    };
    let out = process.rest_of_stdout(HANDOVER);
    if !status.success() {
        bail!("the load generator on {host}: {}", process.last_words());
    }
    BenchRun::from_json(&out)
        .map_err(|err| anyhow!("the load generator on {host} wrote no run: {err}"))
}
