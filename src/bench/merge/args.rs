//! The `merge` command line (clap derive).

use std::path::PathBuf;

use clap::Args;

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
