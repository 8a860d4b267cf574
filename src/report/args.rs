//! The command lines of `iomodels report` and `iomodels diff` (clap derive): the
//! commands that read a comparison's report.json back.

use std::path::PathBuf;

use clap::Args;

/// `iomodels report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The report.json a `compare` wrote.
    pub json: PathBuf,
    /// Where the files go [default: the directory of JSON].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `iomodels diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier report.json.
    pub old: PathBuf,
    /// The later report.json.
    pub new: PathBuf,
}
