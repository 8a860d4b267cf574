//! The `bench` command line (clap derive) and its translation into a [`BenchConfig`].
//! Checks that clap cannot express (`--close` with `--pipeline`, `--source` addresses
//! of the target's family) are usage errors: one line, exit code 2. `--threads` is
//! capped at the number of connections. [`super::argv`] is the way back: the command
//! line of a configuration.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};

use super::config::{
    parse_duration, parse_interval, parse_ramp, BenchConfig, EchoConfig, HoldConfig, HttpConfig,
    Ramp, Stopping, WorkloadConfig,
};
use super::target::Target;
use crate::error::usage;
use crate::protocol::Protocol;
use crate::serve::args::proto_parser;
use crate::sys::affinity::CpuList;

/// `iomodels bench`: drive any TCP server with one of the seeds' workloads.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub workload: WorkloadArgs,
    /// Run the load generator on these CPUs only (`0`, `1-3`, `0,2`), as taskset does.
    #[arg(long, global = true, value_name = "CPUS", value_parser = CpuList::parse)]
    pub cpus: Option<CpuList>,
}

/// The workloads: the seeds' three, and `abuse`.
#[derive(Debug, Subcommand)]
pub enum WorkloadArgs {
    /// Seed 000: workers connect, send messages, verify every echoed byte, close.
    Echo(EchoArgs),
    /// Seed 001: HTTP requests over keep-alive or fresh connections.
    Http(HttpArgs),
    /// Seed 003: ramp up thousands of long-lived connections and keep them alive.
    Hold(HoldArgs),
    /// Hostile clients of every kind against a server, while well-behaved ones check
    /// that nobody else is wronged.
    Abuse(super::abuse::AbuseArgs),
}

/// Flags every workload takes.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Event-loop threads; connections are split across them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub threads: u32,
    /// How long a request or a connect may wait for its answer.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Write the results as JSON (schema/bench.schema.json) to this file (`-`: to
    /// stdout, and the summary to stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Sample this process and all its descendants (CPU, memory as PSS, context switches) during the run.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// Bind outgoing connections to these local addresses, round-robin (IP,IP,...).
    #[arg(long, value_name = "IP,IP,...", value_delimiter = ',')]
    pub source: Vec<IpAddr>,
    /// Start at this wall-clock time (Unix seconds, or RFC 3339 such as
    /// 2026-01-01T12:00:00Z), so runs on several machines start together; at most an
    /// hour ahead.
    #[arg(long, value_name = "TIME", value_parser = super::start::parse_start_at)]
    pub start_at: Option<f64>,
    /// Spread the connections over N processes of bench, each with its share of them,
    /// merged into one run [default: hold, as many as the descriptor limit needs;
    /// echo and http, 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub processes: Option<u32>,
    /// One part of a run spread over several processes: the index of this part's
    /// first connection among all of them (bench sets it for the processes it starts).
    #[arg(long, hide = true, default_value_t = 0)]
    pub first_connection: usize,
    /// One part of a run spread over several processes, started by process PID: its
    /// progress and its run go to it on stdout.
    #[arg(long, hide = true, value_name = "PID")]
    pub part_of: Option<u32>,
}

/// `bench echo`.
#[derive(Debug, Args)]
pub struct EchoArgs {
    /// The echo server, HOST:PORT.
    pub addr: String,
    /// Concurrent workers (each one connection at a time).
    #[arg(long, default_value_t = 150, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub workers: u32,
    /// Sessions (connect, messages, close) per worker.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub rounds: u32,
    /// Messages per session.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub messages: u32,
    /// Bytes per message.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=16_777_216))]
    pub size: u32,
    /// Stop after this long even if rounds remain.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The request method of `bench http`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum Method {
    Get,
    Head,
}

/// `bench http`.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// The URL, `http://HOST[:PORT][/PATH]`.
    pub url: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub connections: u32,
    /// Stop after this many requests.
    #[arg(long, conflicts_with = "duration", value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,
    /// Stop after this long [default: 10s].
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// A new connection for every request (`Connection: close`).
    #[arg(long)]
    pub close: bool,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub pipeline: u32,
    /// The request method.
    #[arg(long, value_enum, default_value_t = Method::Get)]
    pub method: Method,
    /// Open loop: send this many requests per second over all connections; latency
    /// counts from each request's intended send time.
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `bench hold`.
#[derive(Debug, Args)]
pub struct HoldArgs {
    /// The server: http://HOST:PORT[/PATH] or HOST:PORT.
    pub target: String,
    /// What each connection sends: an HTTP HEAD, or a short echo message.
    #[arg(long, default_value_t = Protocol::Http, value_parser = proto_parser())]
    pub proto: Protocol,
    /// Connections to hold.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub connections: u32,
    /// Open COUNT connections every PERIOD (seed 003: 10/10ms) [default: as fast as the
    /// server answers: at most 128 of a thread's connections wait for their first reply].
    #[arg(long, value_parser = parse_ramp)]
    pub ramp: Option<Ramp>,
    /// Each connection waits a random time in LOW..HIGH between requests [default:
    /// M/3..5M/3, M the longer of 3 s and the mean interval that keeps the pings within
    /// a sixth of the cores at the CPU per request measured before the hold (1s..5s
    /// for a few thousand connections)]. The server's idle timeout must exceed HIGH
    /// (`serve --timeout`; 10 s for http by default).
    #[arg(long, value_parser = parse_interval)]
    pub interval: Option<(Duration, Duration)>,
    /// How long the whole run lasts, ramp included.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    #[command(flatten)]
    pub common: CommonArgs,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of requests per second"))?;
    if !(1.0..=100_000_000.0).contains(&rate) {
        return Err(format!(
            "rate {text} must be between 1 and 100000000 per second"
        ));
    }
    Ok(rate)
}

impl BenchArgs {
    /// The validated configuration; a bad value is a usage error.
    pub fn config(&self) -> Result<BenchConfig> {
        let (workload, target, common) = self.workload_config()?;
        if let WorkloadConfig::Http(http) = &workload {
            if http.close && http.pipeline > 1 {
                return Err(usage("--close and --pipeline cannot be combined"));
            }
        }
        let threads = (common.threads as usize).min(workload.connections());
        if common
            .source
            .iter()
            .any(|ip| ip.is_ipv4() != target.addr.is_ipv4())
        {
            return Err(usage(format!(
                "--source addresses must be of the same family as {}",
                target.addr
            )));
        }
        Ok(BenchConfig {
            workload,
            target,
            threads,
            timeout: common.timeout,
            json: common.json.clone(),
            server_pid: common.server_pid,
            sources: common.source.clone(),
            first_connection: common.first_connection,
            part_of: common.part_of,
            start_at: common.start_at.map(checked_start).transpose()?,
            processes: common.processes.map(|n| n as usize),
        })
    }

    /// The workload's own settings, its target, and the flags every workload takes.
    fn workload_config(&self) -> Result<(WorkloadConfig, Target, &CommonArgs)> {
        Ok(match &self.workload {
            WorkloadArgs::Echo(a) => {
                let workload = WorkloadConfig::Echo(EchoConfig {
                    workers: a.workers as usize,
                    rounds: a.rounds,
                    messages: a.messages,
                    size: a.size as usize,
                    duration: a.duration,
                });
                (workload, target(&a.addr)?, &a.common)
            }
            WorkloadArgs::Http(a) => {
                let target = target(&a.url)?;
                let workload = WorkloadConfig::Http(HttpConfig {
                    connections: a.connections as usize,
                    stopping: match (a.requests, a.duration) {
                        (Some(n), _) => Stopping::Requests(n),
                        (None, d) => Stopping::Duration(d.unwrap_or(Duration::from_secs(10))),
                    },
                    close: a.close,
                    pipeline: a.pipeline as usize,
                    head: a.method == Method::Head,
                    rate: a.rate,
                });
                (workload, target, &a.common)
            }
            WorkloadArgs::Hold(a) => {
                let workload = WorkloadConfig::Hold(HoldConfig {
                    proto: a.proto,
                    connections: a.connections as usize,
                    ramp: a.ramp.unwrap_or(Ramp::PACED),
                    interval: a.interval.unwrap_or(super::limits::FLOOR_INTERVAL),
                    derive_interval: a.interval.is_none(),
                    duration: a.duration,
                });
                (workload, target(&a.target)?, &a.common)
            }
            // Not a workload of the engine: `bench::run` hands it to `bench::abuse`.
            WorkloadArgs::Abuse(_) => {
                return Err(usage("bench abuse has no engine configuration"));
            }
        })
    }
}

/// A `--start-at` time neither long past nor far ahead, or a usage error.
fn checked_start(at: f64) -> Result<f64> {
    super::start::check_start_at(at, super::start::unix_now_s()).map_err(usage)?;
    Ok(at)
}

fn target(text: &str) -> Result<Target> {
    Target::parse(text).map_err(usage)
}
