//! The command line: clap derive definitions, and their translation into validated
//! configurations for the subcommands. Nothing here does any work; [`generated`]
//! writes what the definition itself yields (shell completions, the man page).

pub mod generated;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::conn::Offload;
use crate::model::{self, ModelInfo};
use crate::protocol::{Handlers, Protocol};
use crate::server::ServeConfig;
use crate::sys::affinity::{self, CpuList};

/// Serve, load and compare every server concurrency model.
#[derive(Debug, Parser)]
#[command(name = "iomodels", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a TCP server under one concurrency model.
    Serve(ServeArgs),
    /// List the concurrency models: name, family, default workers, mechanism, origin.
    List,
    /// Drive a TCP server with a workload (echo, http, hold, abuse) and measure it.
    Bench(crate::bench::BenchArgs),
    /// Merge bench runs made at once from several processes or machines into one run
    /// (histograms added, counts summed).
    Merge(crate::bench::merge::MergeArgs),
    /// Run every model through the workloads and write a ranked report with charts.
    Compare(crate::compare::args::CompareArgs),
    /// What changed between two `compare` reports (report.json): each model's ranking
    /// figure beyond the rounds' spread (by value alone where a report has one round),
    /// and the pairs whose order reversed.
    Diff(DiffArgs),
    /// Write a `compare` report's files again (report.md, report.html, the charts, and
    /// report.json) from its report.json, with this build's tier rule and presentation.
    Report(ReportArgs),
    /// Measure the CPU per small request of a minimal server loop here (one read, one
    /// write, to a client watching with epoll): the floor models are measured against.
    Floor(crate::floor::FloorArgs),
    /// Sample a process tree until SIGTERM and print its cost as JSON: how compare
    /// measures a server on another host.
    #[command(hide = true)]
    Sample(crate::sample::command::SampleArgs),
    /// Print a shell completion script: `iomodels completions bash > /etc/bash_completion.d/iomodels`.
    Completions(CompletionsArgs),
    /// Print the man page (roff): `iomodels man > iomodels.1`, or `iomodels man | man -l -`.
    Man,
}

/// `iomodels completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `iomodels report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The report.json a `compare` wrote.
    pub json: std::path::PathBuf,
    /// Where the files go [default: the directory of JSON].
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

/// `iomodels diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier report.json.
    pub old: std::path::PathBuf,
    /// The later report.json.
    pub new: std::path::PathBuf,
}

/// `iomodels serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The concurrency model (`iomodels list` shows them all).
    #[arg(value_parser = parse_model)]
    pub model: &'static ModelInfo,
    /// The protocol to speak.
    #[arg(long, value_enum, default_value_t = Protocol::Echo)]
    pub proto: Protocol,
    /// The address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:7777", value_parser = parse_addr)]
    pub addr: SocketAddr,
    /// Worker processes or threads, for models that have them (default: as `list` shows).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub workers: Option<u32>,
    /// The listen(2) backlog: how many finished handshakes the kernel queues before accept.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=65535))]
    pub backlog: u32,
    /// Set TCP_NODELAY on every connection (no Nagle delay for small writes).
    #[arg(long)]
    pub nodelay: bool,
    /// Set TCP_CORK around each batch of replies, so a reply leaves in full segments.
    #[arg(long)]
    pub cork: bool,
    /// Idle/header timeout in seconds: a connection that completes no request for this
    /// long is closed; 0 disables it [default: 10 for http, none for echo].
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Run the server on these CPUs only (`1`, `1-3`, `0,2`), as taskset does; models
    /// that start a worker per CPU by default count these.
    #[arg(long, value_name = "CPUS", value_parser = CpuList::parse)]
    pub cpus: Option<CpuList>,
    /// CPU time `/cpu` burns per request (http), hashing: `100us`, `2ms`; more than 0,
    /// at most 1s. (Not `--cpus`, which pins the server.)
    #[arg(long, value_name = "DURATION", default_value = "100us", value_parser = parse_cpu_work)]
    pub cpu_work: Duration,
    /// How long `/wait` waits per request (http), as on a backend: `10ms`, `1s`; more
    /// than 0, at most 60s.
    #[arg(long, value_name = "DURATION", default_value = "10ms", value_parser = parse_wait)]
    pub wait: Duration,
    /// Where event loops carry out `/cpu` and `/wait`: 0 = in the loop (a wait stalls
    /// it), N = a pool of N threads; for async models, N = CPU work on spawn_blocking
    /// (at most N threads). Default: a loop's own timer for waits, CPU inline. Models
    /// that serve a connection per thread, process or coroutine refuse it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(0..=4096))]
    pub offload: Option<u16>,
    /// Log every connection on stderr.
    #[arg(short, long)]
    pub verbose: bool,
    /// Stop (as on SIGTERM) when the process PID, this server's parent, exits: how
    /// `compare` makes sure no server outlives it.
    #[arg(long, hide = true, value_name = "PID")]
    pub parent: Option<u32>,
    /// Fault injection for tests: the kernel kills the server (SIGALRM) after SECONDS.
    #[arg(long, hide = true, value_name = "SECONDS", value_parser = parse_timeout)]
    pub crash_after: Option<Duration>,
}

impl ServeArgs {
    /// The validated server configuration these flags describe.
    pub fn config(&self) -> ServeConfig {
        let protocol = self.proto;
        let timeout = match self.timeout {
            Some(t) if t.is_zero() => None,
            Some(t) => Some(t),
            None => protocol.default_timeout(),
        };
        ServeConfig {
            model: self.model,
            protocol,
            addr: self.addr,
            workers: self
                .workers
                .map_or_else(|| self.model.default_workers(), |n| n as usize),
            backlog: self.backlog,
            nodelay: self.nodelay,
            cork: self.cork,
            timeout,
            crash_after: self.crash_after,
            handlers: Handlers {
                cpu: self.cpu_work,
                wait: self.wait,
            },
            offload: self.offload.map_or(Offload::Unset, Offload::from_count),
        }
    }
}

fn parse_model(name: &str) -> Result<&'static ModelInfo, String> {
    model::find(name).ok_or_else(|| {
        let names: Vec<&str> = model::MODELS.iter().map(|m| m.name).collect();
        format!("no model named '{name}' (models: {})", names.join(", "))
    })
}

fn parse_cpu_work(text: &str) -> Result<Duration, String> {
    parse_amount(text).and_then(Handlers::checked_cpu)
}

fn parse_wait(text: &str) -> Result<Duration, String> {
    parse_amount(text).and_then(Handlers::checked_wait)
}

/// A duration as `bench` takes them, zero included: the amounts' own bounds, tighter
/// than `bench`'s week, say why zero is refused.
fn parse_amount(text: &str) -> Result<Duration, String> {
    crate::bench::config::parse_duration(text).or_else(|err| {
        let number = text.trim().trim_end_matches(|c: char| c.is_alphabetic());
        if number.parse::<f64>() == Ok(0.0) {
            Ok(Duration::ZERO)
        } else {
            Err(err)
        }
    })
}

fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    text.to_socket_addrs()
        .map_err(|e| format!("not an address: {e}"))?
        .next()
        .ok_or_else(|| format!("'{text}' resolves to no address"))
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if !(0.0..=86_400.0).contains(&seconds) {
        return Err("must be between 0 and 86400 seconds".into());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses the process arguments. On `--help` or `--version` prints them and returns
/// `Err(SUCCESS)`; without a subcommand (`iomodels`, `iomodels bench`) prints the help
/// as clap lays it out, on stderr, and returns `Err(2)`; on a bad command line prints
/// one line on stderr and returns `Err(2)`.
pub fn parse() -> Result<Command, ExitCode> {
    match Cli::try_parse() {
        Ok(cli) => Ok(cli.command),
        Err(err) if !err.use_stderr() => {
            let _ = err.print();
            Err(ExitCode::SUCCESS)
        }
        Err(err)
            if err.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            let _ = err.print();
            Err(ExitCode::from(2))
        }
        Err(err) => {
            eprintln!("iomodels: {}", one_line(&err.render().to_string()));
            Err(ExitCode::from(2))
        }
    }
}

/// Folds clap's multi-line error into one line: the message and, if any, the hint.
fn one_line(rendered: &str) -> String {
    let mut lines = rendered
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more"));
    let mut line = lines
        .next()
        .unwrap_or("bad command line")
        .trim_start_matches("error: ")
        .to_string();
    for extra in lines {
        line.push_str("; ");
        line.push_str(extra.trim_start_matches("tip: "));
    }
    line.push_str(" (see --help)");
    line
}

/// Runs `iomodels diff`: a file that is not a report of this version, or two reports of
/// different cells, is a usage error.
fn diff(args: &DiffArgs) -> Result<()> {
    use crate::results::comparison::Comparison;
    let old = Comparison::load(&args.old).map_err(crate::error::usage)?;
    let new = Comparison::load(&args.new).map_err(crate::error::usage)?;
    crate::report::diff::same_cells(&old, &new).map_err(crate::error::usage)?;
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(crate::report::diff::render(&old, &new).as_bytes())?;
    Ok(())
}

/// Runs `iomodels report`: a file that is not a report of this version is a usage
/// error.
fn rewrite_report(args: &ReportArgs) -> Result<()> {
    use crate::results::comparison::Comparison;
    let mut report = Comparison::load(&args.json).map_err(crate::error::usage)?;
    report.assign_tiers();
    let dir = match &args.out {
        Some(dir) => dir.clone(),
        None => match args.json.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => ".".into(),
        },
    };
    std::fs::create_dir_all(&dir)
        .map_err(|err| crate::error::usage(format!("--out {}: {err}", dir.display())))?;
    crate::report::write_all(&report, &dir)?;
    println!("report: {}", dir.join("report.html").display());
    Ok(())
}

/// Restricts this process to `cpus`, if given, before it starts any thread.
fn pin(cpus: Option<&CpuList>) -> Result<()> {
    match cpus {
        Some(cpus) => affinity::pin(&cpus.0).map_err(|err| {
            let online = std::thread::available_parallelism().map_or(1, |n| n.get());
            crate::error::usage(format!(
                "--cpus {}: {err} (this machine's CPUs are 0-{})",
                cpus.to_arg(),
                online - 1
            ))
        }),
        None => Ok(()),
    }
}

/// Runs a parsed command.
pub fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::Serve(args) => {
            crate::log::set_verbose(args.verbose);
            // Before the configuration: a model's default worker count follows the CPUs.
            pin(args.cpus.as_ref())?;
            if let Some(parent) = args.parent {
                crate::sys::process::stop_with_parent(parent)
                    .map_err(|err| crate::error::usage(format!("--parent {parent}: {err}")))?;
            }
            crate::server::run(&args.config())
        }
        Command::List => model::print_list(&mut std::io::stdout().lock()),
        Command::Bench(args) => {
            pin(args.cpus.as_ref())?;
            crate::bench::run(&args)
        }
        Command::Compare(args) => {
            let plan = args.plan()?;
            let comparison = crate::compare::run(&plan)?;
            crate::report::present(&comparison, &plan.out)
        }
        Command::Merge(args) => crate::bench::merge::run(&args),
        Command::Floor(args) => crate::floor::run(&args),
        Command::Sample(args) => crate::sample::command::run(&args),
        Command::Diff(args) => diff(&args),
        Command::Report(args) => rewrite_report(&args),
        Command::Completions(args) => Ok(generated::completions(
            args.shell,
            &mut std::io::stdout().lock(),
        )?),
        Command::Man => Ok(generated::man_page(&mut std::io::stdout().lock())?),
    }
}
