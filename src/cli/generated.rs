//! What the command line's own definition generates, as ripgrep and hyperfine ship
//! them: shell completion scripts (`iomodels completions SHELL`, clap_complete) and the
//! man page (`iomodels man`, clap_mangen), both from the same clap definition the
//! parser uses, so they never drift from it.

use std::io::{self, Write};

use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

/// Writes the completion script for `shell` to `out`. The script is made in memory
/// first: clap_complete panics on a failed write, and a reader that closes the pipe
/// early (`iomodels completions bash | head`) is no crash but a broken pipe.
pub fn completions(shell: Shell, out: &mut dyn Write) -> io::Result<()> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "iomodels", &mut script);
    out.write_all(&script)
}

/// Writes the man page, in roff, to `out` (`iomodels man | man -l -` shows it).
pub fn man_page(out: &mut dyn Write) -> io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(out)
}
