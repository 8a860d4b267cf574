//! `iomodels merge RUN.json...`: bench runs made at once from several processes or
//! machines against one server, as one run, merged exactly ([`crate::results::merge`]),
//! printed as bench prints a run and written as its JSON.

use std::io;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use super::output::{write_json, Aggregate};
use crate::error::usage;
use crate::results::merge::merge;
use crate::results::run::BenchRun;

/// `iomodels merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The runs' JSON files, as `bench --json` wrote them.
    #[arg(required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    /// Write the merged run as JSON (schema/bench.schema.json) to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// Runs `iomodels merge`: a file that is not a bench run, or runs that cannot be
/// merged, is a usage error of one line.
pub fn run(args: &MergeArgs) -> Result<()> {
    let runs = args
        .runs
        .iter()
        .map(|path| load(path))
        .collect::<Result<Vec<_>>>()?;
    let merged = merge(&runs).map_err(|err| usage(err.to_string()))?;
    if let Some(path) = &args.json {
        write_json(path, &merged)?;
    }
    Aggregate::from_run(merged).print(&mut io::stdout().lock())?;
    Ok(())
}

fn load(path: &Path) -> Result<BenchRun> {
    let text =
        std::fs::read_to_string(path).map_err(|err| usage(format!("{}: {err}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|err| usage(format!("{}: not a bench run ({err})", path.display())))
}
