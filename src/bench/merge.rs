//! `iomodels merge RUN.json...`: bench runs made at once from several processes or
//! machines against one server, as one run, merged exactly ([`crate::results::merge`]),
//! printed as bench prints a run and written as its JSON. [`args`] holds its command
//! line.

pub mod args;

use std::io;
use std::path::Path;

use anyhow::Result;

use super::output::{write_json, Aggregate};
use crate::error::usage;
use crate::results::merge::merge;
use crate::results::run::BenchRun;
pub use args::MergeArgs;

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
    BenchRun::load(path).map_err(usage)
}
