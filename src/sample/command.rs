//! `iomodels sample --pid PID` (hidden): a process tree sampled until SIGTERM or
//! SIGINT, then what it cost printed as one JSON line ([`SampleReport`]). This is how
//! `compare` measures a server on another host: it runs this there beside the server,
//! for the span of one bench run, and reads the line back.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub use super::args::SampleArgs;
use super::{HostTimes, HostWatch, ProcessTree, Sampler, TreeUsage};

/// What `iomodels sample --once` prints: the tree's memory at one moment, the base of
/// its growth per held connection.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct AtRest {
    pub pss_kb: u64,
    pub private_dirty_kb: u64,
}

/// What `iomodels sample` prints: the tree's usage over the sample, and the machine's
/// CPU time over the same span.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SampleReport {
    pub usage: TreeUsage,
    pub host: Option<HostTimes>,
}

/// How often the stop flag is looked at.
const STOP_POLL: Duration = Duration::from_millis(5);

/// The line `iomodels sample` prints once its first sample is taken.
pub const READY: &str = "sampling";

/// Runs `iomodels sample`: says [`READY`] on stdout, samples until SIGTERM or SIGINT,
/// prints the [`SampleReport`] as one line.
pub fn run(args: &SampleArgs) -> Result<()> {
    let stop =
        crate::sys::signal::Stop::on_signals().context("cannot install the signal handlers")?;
    let tree = ProcessTree::new(args.pid).map_err(|err| {
        let why = match err.kind() {
            std::io::ErrorKind::NotFound => "no such process".to_string(),
            _ => err.to_string(),
        };
        crate::error::usage(format!("--pid {}: {why}", args.pid))
    })?;
    if args.once {
        let now = tree.sample().context("cannot read the tree")?;
        let rest = AtRest {
            pss_kb: now.pss_kb,
            private_dirty_kb: now.private_dirty_kb,
        };
        println!("{}", serde_json::to_string(&rest)?);
        return Ok(());
    }
    let host = HostWatch::start(Some(args.pid));
    let sampler = Sampler::start(tree, Duration::from_millis(args.interval_ms));
    let mut out = std::io::stdout().lock();
    writeln!(out, "{READY}")?;
    out.flush()?;
    while !stop.is_set() {
        std::thread::sleep(STOP_POLL);
    }
    let usage = sampler.finish();
    let host = host.and_then(|h| h.finish());
    let report = SampleReport { usage, host };
    writeln!(
        out,
        "{}",
        serde_json::to_string(&report).context("the sample as JSON")?
    )?;
    Ok(())
}
