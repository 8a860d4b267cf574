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
    "db",
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
    // clap_mangen opens with the definition of an apostrophe string (`.ie`/`.el`), and
    // the page with how groff prints a hyphen (`.if`), then the title: nothing a reader
    // sees comes before `.TH`.
    let first = page
        .lines()
        .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el ") && !l.starts_with(".if "))
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

/// Every command a user is shown (not hidden, not clap's `help`), with its long flags
/// that are not hidden; and the hidden flags apart.
fn flags() -> (Vec<(String, Vec<String>)>, Vec<String>) {
    fn walk(
        command: &clap::Command,
        path: &str,
        shown: &mut Vec<(String, Vec<String>)>,
        hidden: &mut Vec<String>,
    ) {
        let longs = |hide: bool| {
            command
                .get_arguments()
                .filter(move |a| a.is_hide_set() == hide)
                .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                .collect::<Vec<_>>()
        };
        shown.push((path.to_string(), longs(false)));
        hidden.extend(longs(true));
        for sub in command.get_subcommands() {
            if sub.is_hide_set() {
                hidden.push(sub.get_name().to_string());
            } else if sub.get_name() != "help" {
                walk(sub, &format!("{path} {}", sub.get_name()), shown, hidden);
            }
        }
    }
    let mut command = <iomodels::cli::Cli as clap::CommandFactory>::command();
    command.build();
    let (mut shown, mut hidden) = (Vec::new(), Vec::new());
    walk(&command, "iomodels", &mut shown, &mut hidden);
    (shown, hidden)
}

#[test]
fn the_man_page_shows_every_command_with_its_flags() {
    let out = iomodels(&["man"]);
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    let (shown, hidden) = flags();
    assert!(shown.len() > SUBCOMMANDS.len(), "{shown:?}");
    // Each command's flags follow its heading, before the next command's.
    let sections: Vec<&str> = page.split(".SS ").collect();
    for (path, longs) in &shown[1..] {
        let heading = format!("\"{path}\"\n");
        let section = sections
            .iter()
            .find(|s| s.starts_with(&heading))
            .unwrap_or_else(|| panic!("no section for {path}"));
        for long in longs {
            assert!(
                section.contains(&format!("\\fB{long}\\fR")),
                "{path}: no {long}"
            );
        }
    }
    for name in &hidden {
        assert!(
            !page.contains(&format!("\\fB{name}\\fR")),
            "hidden {name} shown"
        );
    }
    assert!(
        !page.contains(".SS \"iomodels sample\""),
        "the hidden sample command"
    );
    // One page: no reference to pages it does not come with.
    assert!(!page.contains("(1)"), "refers to other pages");
    // `man | grep -- --` finds the flags: at least one line per distinct flag.
    let distinct: std::collections::BTreeSet<&String> =
        shown.iter().flat_map(|(_, longs)| longs).collect();
    let lines = page.lines().filter(|l| l.contains("--")).count();
    assert!(
        distinct.len() > 40 && lines >= distinct.len(),
        "{lines} lines"
    );
}

#[test]
fn man_dir_writes_a_page_for_every_command_it_names() {
    let dir = std::env::temp_dir().join(format!("iomodels-man-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = iomodels(&["man", "--dir", dir.to_str().unwrap()]);
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let pages: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).unwrap())
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (shown, _) = flags();
    for (path, _) in &shown {
        let file = format!("{}.1", path.replace(' ', "-"));
        assert!(files.contains(&file), "no {file} in {files:?}");
    }
    assert_eq!(files.len(), shown.len(), "{files:?}");
    // Every page another refers to (`iomodels\-compare(1)`) is there.
    for page in &pages {
        for (at, _) in page.match_indices("(1)") {
            let name = page[..at]
                .rsplit(['\n', ' '])
                .next()
                .unwrap()
                .replace("\\-", "-");
            assert!(
                files.contains(&format!("{name}.1")),
                "{name}(1) not written"
            );
        }
    }
    let serve = &pages[files.iter().position(|f| f == "iomodels-serve.1").unwrap()];
    assert!(
        serve.contains("\\fB--proto\\fR") && !serve.contains("--parent"),
        "{serve}"
    );
}

#[test]
fn completions_offer_model_names_and_no_hidden_flag() {
    let (_, hidden) = flags();
    let models: Vec<&str> = iomodels::model::MODELS.iter().map(|m| m.name).collect();
    for shell in ["bash", "zsh", "fish"] {
        let out = iomodels(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        for name in hidden.iter().filter(|n| n.starts_with("--")) {
            let bare = name.trim_start_matches('-');
            let offered = match shell {
                "fish" => {
                    script.contains(&format!("-l {bare} "))
                        || script.contains(&format!("-l {bare}\n"))
                }
                _ => script.contains(name.as_str()),
            };
            assert!(!offered, "{shell} offers the hidden {name}");
        }
        for sample in ["__sample", "(sample)", "\"sample\""] {
            assert!(
                !script.contains(sample),
                "{shell} offers the hidden sample command"
            );
        }
        for model in &models {
            assert!(script.contains(model), "{shell}: no {model}");
        }
    }
    // bash: the models after `serve`, and after `compare --models`.
    let out = iomodels(&["completions", "bash"]);
    let script = String::from_utf8_lossy(&out.stdout);
    let serve = script
        .split(" iomodels__subcmd__serve)\n")
        .nth(1)
        .expect("the serve function");
    let serve = &serve[..serve.find(";;").unwrap()];
    assert!(models.iter().all(|m| serve.contains(m)), "{serve}");
    let models_flag = script
        .split("--models)\n")
        .nth(1)
        .expect("--models completed");
    assert!(models_flag
        .lines()
        .next()
        .unwrap()
        .contains("epoll-prefork"));
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
