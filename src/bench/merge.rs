//! `iomodels merge RUN.json...`: bench runs made at once from several processes or
//! machines against one server, as one run, merged exactly ([`crate::results::merge`]),
//! printed as bench prints a run and written as its JSON. [`args`] holds its command
//! line.

pub mod args;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};

pub use args::MergeArgs;

use super::report::Aggregate;
use crate::error::usage;
use crate::results::merge::merge;
use crate::results::run::BenchRun;

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

/// Writes `run` as pretty JSON to `path`.
pub fn write_json(path: &Path, run: &BenchRun) -> Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    write_run(&mut BufWriter::new(file), run)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Writes `run` as pretty JSON, and a newline, to `out`.
pub fn write_run(out: &mut impl Write, run: &BenchRun) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, run)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}
