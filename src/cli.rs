//! The top-level command line: the clap `Parser` and its `Subcommand`s, whose flags
//! live beside each command (its module's `args.rs`), and the dispatch of a parsed
//! command to the module that runs it. Nothing here does any work; [`generated`]
//! writes what the definition itself yields (shell completions, the man pages).

pub mod generated;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::model;
use crate::report::args::{DiffArgs, ReportArgs};
use crate::serve::ServeArgs;

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
    Merge(crate::bench::merge::args::MergeArgs),
    /// Run every model through the workloads and write a ranked report with charts.
    Compare(crate::compare::args::CompareArgs),
    /// What changed between two `compare` reports (report.json): each model's ranking
    /// figure beyond the rounds' spread (by value alone where a report has one round),
    /// and the pairs whose order reversed.
    Diff(DiffArgs),
    /// Write a `compare` report's files again (report.md, report.html, the charts, and
    /// report.json) from its report.json, with this build's tier rule and presentation.
    Report(ReportArgs),
    /// A private PostgreSQL cluster with TechEmpower's World table, for `serve
    /// --database`: `db start` prints its URL, `db stop` removes it.
    Db(crate::db::args::DbArgs),
    /// Measure the CPU per small request of a minimal server loop here (one read, one
    /// write, to a client watching with epoll): the floor models are measured against.
    Floor(crate::floor::args::FloorArgs),
    /// Sample a process tree until SIGTERM and print its cost as JSON: how compare
    /// measures a server on another host.
    #[command(hide = true)]
    Sample(crate::sample::args::SampleArgs),
    /// Print this build's identity, its version and a hash of its executable: how
    /// compare checks that the iomodels on another host is this very build.
    #[command(hide = true)]
    BuildId,
    /// Print a shell completion script: `iomodels completions bash > /etc/bash_completion.d/iomodels`.
    Completions(CompletionsArgs),
    /// Print the man page (roff) with every command's flags (`iomodels man | man -l -`),
    /// or write a page per command into a directory (`iomodels man --dir DIR`).
    Man(ManArgs),
}

/// `iomodels completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `iomodels man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `iomodels.1` and a page per command (`iomodels-compare.1`, ...) into DIR
    /// instead, as `man iomodels-compare` finds them in a `man1` directory.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
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

/// Runs a parsed command.
pub fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::Serve(args) => crate::serve::run(&args),
        Command::List => model::print_list(&mut std::io::stdout().lock()),
        Command::Bench(args) => {
            if let Some(cpus) = &args.cpus {
                cpus.pin()?;
            }
            crate::bench::run(&args)
        }
        Command::Compare(args) => {
            let plan = args.plan()?;
            let comparison = crate::compare::run(&plan)?;
            crate::report::present(&comparison, &plan.out)
        }
        Command::Merge(args) => crate::bench::merge::run(&args),
        Command::Floor(args) => crate::floor::run(&args),
        Command::Db(args) => crate::db::command::run(&args),
        Command::Sample(args) => crate::sample::command::run(&args),
        Command::BuildId => {
            println!("{}", crate::hosts::build::own_build()?);
            Ok(())
        }
        Command::Diff(args) => crate::report::diff::run(&args),
        Command::Report(args) => crate::report::rewrite(&args),
        Command::Completions(args) => Ok(generated::completions(
            args.shell,
            &mut std::io::stdout().lock(),
        )?),
        Command::Man(ManArgs { dir: None }) => {
            Ok(generated::man_page(&mut std::io::stdout().lock())?)
        }
        Command::Man(ManArgs { dir: Some(dir) }) => {
            let pages = generated::man_pages(&dir)
                .map_err(|err| crate::error::usage(format!("--dir {}: {err}", dir.display())))?;
            println!("{} man pages in {}", pages.len(), dir.display());
            Ok(())
        }
    }
}
