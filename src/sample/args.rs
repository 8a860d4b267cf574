//! The command line of the hidden `iomodels sample` (clap derive), which
//! [`command`](super::command) runs.

use clap::Args;

/// `iomodels sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The root of the process tree to sample.
    #[arg(long)]
    pub pid: u32,
    /// Time between samples, in milliseconds.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub interval_ms: u64,
    /// Print the tree's memory now ([`AtRest`](super::command::AtRest)) and exit.
    #[arg(long)]
    pub once: bool,
}
