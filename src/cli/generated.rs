//! What the command line's own definition generates, as ripgrep and hyperfine ship
//! them: shell completion scripts (`iomodels completions SHELL`, clap_complete) and the
//! man pages (`iomodels man`, clap_mangen), both from the same clap definition the
//! parser uses, so they never drift from it. Neither shows what only `compare` passes
//! its children (the hidden `sample` command, `serve --parent`, ...).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Command, CommandFactory};
use clap_complete::Shell;
use clap_mangen::roff::Roff;
use clap_mangen::Man;

use super::Cli;

/// Writes the completion script for `shell` to `out`. The script is made in memory
/// first: clap_complete panics on a failed write, and a reader that closes the pipe
/// early (`iomodels completions bash | head`) is no crash but a broken pipe.
pub fn completions(shell: Shell, out: &mut dyn Write) -> io::Result<()> {
    let mut command = visible(&Cli::command());
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "iomodels", &mut script);
    out.write_all(&script)
}

/// The command line as a user types it: `command` without its hidden subcommands and
/// flags (clap_complete offers every one it is given). `command` must not be built yet,
/// so that it holds no help or version flag of clap's own.
fn visible(command: &Command) -> Command {
    let mut shown = Command::new(command.get_name().to_owned())
        .propagate_version(command.is_propagate_version_set())
        .args(
            command
                .get_arguments()
                .filter(|a| !a.is_hide_set())
                .cloned(),
        )
        .subcommands(shown_subcommands(command).map(visible));
    if let Some(about) = command.get_about() {
        shown = shown.about(about.clone());
    }
    if let Some(version) = command.get_version() {
        shown = shown.version(version.to_owned());
    }
    shown
}

/// The subcommands a user is shown: not hidden, not clap's own `help`.
fn shown_subcommands(command: &Command) -> impl Iterator<Item = &Command> {
    command
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
}

/// The command line as the man pages show it: built (each subcommand named
/// `iomodels-SUB` and used as `iomodels SUB`), with no `help` subcommands.
fn for_man() -> Command {
    fn no_help(command: Command) -> Command {
        let names: Vec<String> = command
            .get_subcommands()
            .map(|s| s.get_name().to_owned())
            .collect();
        names
            .iter()
            .fold(command.disable_help_subcommand(true), |c, name| {
                c.mut_subcommand(name, no_help)
            })
    }
    let mut command = no_help(Cli::command());
    command.build();
    command
}

/// Makes groff print `-` as the ASCII hyphen-minus on a UTF-8 terminal, as it prints
/// `\-`, so a flag copied from the page is typed right.
const PLAIN_HYPHENS: &str = ".if \\n(.g .if '\\*[.T]'utf8' .char - \\N'45'\n";

/// A rendered part of a page as roff, its flags written `--flag` (searchable with
/// grep; [`PLAIN_HYPHENS`] prints them as typed) rather than clap_mangen's `\-\-flag`, and without the preamble each part of
/// clap_mangen's carries (`keep_preamble` for a page's first part).
fn part(
    render: impl FnOnce(&mut Vec<u8>) -> io::Result<()>,
    keep_preamble: bool,
) -> io::Result<String> {
    let mut roff = Vec::new();
    render(&mut roff)?;
    // The NAME line's ` \- ` stays: whatis and apropos look for it.
    let text = String::from_utf8_lossy(&roff)
        .split(" \\- ")
        .map(|piece| piece.replace("\\-", "-"))
        .collect::<Vec<_>>()
        .join(" \\- ");
    let preamble = Roff::new().render();
    Ok(match text.strip_prefix(&preamble) {
        Some(rest) if !keep_preamble => rest.to_string(),
        Some(rest) => format!("{preamble}{PLAIN_HYPHENS}{rest}"),
        None => text,
    })
}

/// Writes the man page, in roff, to `out` (`iomodels man | man -l -` shows it): the
/// program's page, with every command's synopsis, description and flags, its
/// subcommands' too, in its COMMANDS section.
pub fn man_page(out: &mut dyn Write) -> io::Result<()> {
    let command = for_man();
    let man = Man::new(command.clone());
    let mut page = part(|w| man.render_title(w), true)?;
    page += &part(|w| man.render_name_section(w), false)?;
    page += &part(|w| man.render_synopsis_section(w), false)?;
    page += &part(|w| man.render_description_section(w), false)?;
    page += &part(|w| man.render_options_section(w), false)?;
    page += ".SH COMMANDS\n";
    for sub in shown_subcommands(&command) {
        command_section(sub, &mut page)?;
    }
    page += &part(|w| man.render_version_section(w), false)?;
    out.write_all(page.as_bytes())
}

/// `command`'s part of the one page: a subsection headed with how it is typed, its
/// synopsis, description and flags; then its subcommands'.
fn command_section(command: &Command, page: &mut String) -> io::Result<()> {
    let man = Man::new(command.clone());
    let typed = command.get_bin_name().unwrap_or(command.get_name());
    *page += &format!(".SS \"{typed}\"\n");
    for text in [
        part(|w| man.render_synopsis_section(w), false)?,
        part(|w| man.render_description_section(w), false)?,
        part(|w| man.render_options_section(w), false)?,
    ] {
        // The page's own headings are the program's; a command's parts are paragraphs.
        for line in text.lines() {
            *page += if line.starts_with(".SH") { ".PP" } else { line };
            *page += "\n";
        }
    }
    shown_subcommands(command).try_for_each(|sub| command_section(sub, page))
}

/// Writes a man page per command into `dir`: `iomodels.1`, `iomodels-SUB.1` for each
/// subcommand, `iomodels-bench-http.1` for each of theirs (as `man iomodels-SUB`
/// finds them once `dir` is a `man1` directory), made if missing. Returns the files
/// written.
pub fn man_pages(dir: &Path) -> io::Result<Vec<PathBuf>> {
    fn write(command: &Command, dir: &Path, written: &mut Vec<PathBuf>) -> io::Result<()> {
        let man = Man::new(command.clone());
        let path = dir.join(man.get_filename());
        fs::write(&path, part(|w| man.render(w), true)?)?;
        written.push(path);
        shown_subcommands(command).try_for_each(|sub| write(sub, dir, written))
    }
    fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    write(&for_man(), dir, &mut written)?;
    Ok(written)
}
