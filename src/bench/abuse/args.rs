//! The `bench abuse` command line and its validated form.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use crate::bench::target::Target;
use crate::error::usage;
use crate::protocol::Protocol;
use crate::serve::args::proto_parser;
use crate::units::parse_duration;

/// `bench abuse`.
#[derive(Debug, Args)]
pub struct AbuseArgs {
    /// The server: http://HOST:PORT[/PATH] or HOST:PORT.
    pub target: String,
    /// What the server speaks.
    #[arg(long, default_value_t = Protocol::Http, value_parser = proto_parser())]
    pub proto: Protocol,
    /// How long the abuse lasts (well-behaved clients also run briefly before and after).
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Hostile connections of each kind, open at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub per_kind: u32,
    /// Well-behaved checking clients.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub clients: u32,
    /// Connections the flood opens at most [default: as many as the descriptor limit
    /// allows]; 0 turns the flood off.
    #[arg(long)]
    pub flood: Option<u32>,
    /// How long a well-behaved client waits for its answer before counting an error.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Sample this process and its descendants' memory (PSS summed over the tree) before,
    /// during and after.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// Write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// The validated configuration of one abuse run.
#[derive(Debug, Clone)]
pub struct AbuseConfig {
    pub target: Target,
    pub proto: Protocol,
    pub duration: Duration,
    pub per_kind: usize,
    pub clients: usize,
    /// `None`: up to the descriptor limit.
    pub flood: Option<usize>,
    pub timeout: Duration,
    pub server_pid: Option<u32>,
    pub json: Option<PathBuf>,
}

impl AbuseArgs {
    /// The validated configuration; a bad value is a usage error.
    pub fn config(&self) -> Result<AbuseConfig> {
        let target = Target::parse(&self.target).map_err(usage)?;
        if self.duration < Duration::from_secs(1) {
            return Err(usage("--duration must be at least 1s"));
        }
        Ok(AbuseConfig {
            target,
            proto: self.proto,
            duration: self.duration,
            per_kind: self.per_kind as usize,
            clients: self.clients as usize,
            flood: self.flood.map(|n| n as usize),
            timeout: self.timeout,
            server_pid: self.server_pid,
            json: self.json.clone(),
        })
    }
}
