//! What the command line says about itself: the help as clap lays it out (never folded
//! into one line), shell completion scripts and the man page.

use std::process::{Command, Output};

fn iomodels(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iomodels"))
        .args(args)
        .output()
        .expect("run iomodels")
}

const SUBCOMMANDS: &[&str] = &[
    "serve",
    "list",
    "bench",
    "compare",
    "diff",
    "report",
    "floor",
    "completions",
    "man",
    "merge",
];

/// Help as clap prints it: a usage line, then one line per subcommand.
fn assert_laid_out(help: &str) {
    assert!(help.lines().count() > SUBCOMMANDS.len(), "{help}");
    assert!(!help.contains("; "), "folded into one line: {help}");
    assert!(help.contains("Usage: iomodels"), "{help}");
    for name in SUBCOMMANDS {
        let line = format!("  {name} ");
        assert!(
            help.lines().any(|l| l.starts_with(&line)),
            "no line for {name}: {help}"
        );
    }
}

#[test]
fn help_is_printed_on_many_lines() {
    let out = iomodels(&["--help"]);
    assert!(out.status.success());
    assert_laid_out(&String::from_utf8_lossy(&out.stdout));
}

#[test]
fn no_arguments_print_the_help_and_exit_2() {
    let out = iomodels(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert_laid_out(&String::from_utf8_lossy(&out.stderr));
    // A command with subcommands of its own, given none, shows its help the same way.
    let out = iomodels(&["bench"]);
    assert_eq!(out.status.code(), Some(2));
    let help = String::from_utf8_lossy(&out.stderr);
    assert!(help.lines().any(|l| l.starts_with("  http ")), "{help}");
}

#[test]
fn completions_name_every_subcommand() {
    let out = iomodels(&["completions", "bash"]);
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        script.contains("complete -F"),
        "not a bash script: {script}"
    );
    for name in SUBCOMMANDS {
        assert!(script.contains(name), "{name} missing");
    }
    for shell in ["zsh", "fish"] {
        let out = iomodels(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("compare"));
    }
}

#[test]
fn a_bad_shell_is_a_clear_usage_error() {
    let out = iomodels(&["completions", "tcsh"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("tcsh") && stderr.contains("bash"),
        "{stderr}"
    );
}

#[test]
fn the_man_page_renders() {
    let out = iomodels(&["man"]);
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    // clap_mangen opens with the definition of an apostrophe string (`.ie`/`.el`), then
    // the title: nothing a reader sees comes before `.TH`.
    let first = page
        .lines()
        .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
        .unwrap_or_default();
    assert!(first.starts_with(".TH iomodels 1"), "{first}");
    assert!(page.contains("compare"), "{page}");
    // Rendered as man(1) would, where the system has nroff.
    let Ok(mut nroff) = Command::new("nroff")
        .args(["-man", "-Tutf8"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    else {
        return;
    };
    use std::io::Write;
    nroff.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let shown = nroff.wait_with_output().unwrap();
    // nroff emboldens by overstriking (`N\x08N`): keep what is struck last.
    let mut text = String::new();
    for c in String::from_utf8_lossy(&shown.stdout).chars() {
        if c == '\x08' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    assert!(shown.status.success(), "nroff failed");
    assert!(text.contains("NAME") && text.contains("iomodels"), "{text}");
}

/// A reader that closes the pipe early (`iomodels completions bash | head -1`) ends the
/// output quietly, exit code 0: no panic.
#[test]
fn a_closed_pipe_is_no_crash() {
    for args in [&["completions", "bash"][..], &["man"], &["list"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_iomodels"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run iomodels");
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
