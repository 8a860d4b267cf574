//! What `iomodels list` and `iomodels serve` say to a user, including their errors.

use std::net::TcpListener;
use std::process::{Command, Output};

fn iomodels(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iomodels"))
        .args(args)
        .output()
        .expect("run iomodels")
}

/// The error contract: exit code 2 and exactly one line on stderr.
fn assert_usage_error(output: &Output, mentions: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(mentions),
        "{stderr:?} should mention {mentions:?}"
    );
}

#[test]
fn list_shows_every_model_of_the_matrix() {
    let output = iomodels(&["list"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let (table, after) = text.split_once("\n\n").expect("a line under the table");
    let listed: Vec<&str> = table
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(listed, crate::util::models::all());
    assert!(
        after.contains("docs/seeds.md"),
        "where to look seeds up: {after}"
    );
    for line in table.lines().skip(1) {
        assert!(
            line.split_whitespace().count() >= 5,
            "name, family, workers, mechanism, origin: {line}"
        );
    }
}

#[test]
fn an_unknown_model_is_refused() {
    assert_usage_error(&iomodels(&["serve", "nonesuch"]), "nonesuch");
}

#[test]
fn a_bad_flag_is_refused() {
    assert_usage_error(&iomodels(&["serve", "epoll", "--backlog", "0"]), "backlog");
    assert_usage_error(
        &iomodels(&["serve", "epoll", "--timeout", "soon"]),
        "timeout",
    );
    assert_usage_error(
        &iomodels(&["serve", "epoll", "--no-such-flag"]),
        "no-such-flag",
    );
}

#[test]
fn a_port_in_use_is_refused() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    assert_usage_error(&iomodels(&["serve", "epoll", "--addr", &addr]), "in use");
}

#[test]
fn work_amounts_out_of_bounds_are_refused() {
    for (flag, value, bound) in [
        ("--cpu-work", "0", "at most 1s"),
        ("--cpu-work", "2s", "at most 1s"),
        ("--wait", "0ms", "at most 60s"),
        ("--wait", "61s", "at most 60s"),
    ] {
        let output = iomodels(&["serve", "epoll", "--proto", "http", flag, value]);
        assert_usage_error(&output, flag);
        assert_usage_error(&output, bound);
    }
    assert_usage_error(
        &iomodels(&["serve", "epoll", "--offload", "4097"]),
        "offload",
    );
}

/// `--offload` is refused where it means nothing, in one line that says why.
#[test]
fn offload_is_refused_by_models_that_carry_work_out_themselves() {
    for (model, offload, why) in [
        ("threads", "4", "own thread or process"),
        ("fork", "0", "own thread or process"),
        ("coroutines", "1", "coroutine"),
        ("async", "0", "spawn_blocking"),
    ] {
        let output = iomodels(&[
            "serve",
            model,
            "--addr",
            "127.0.0.1:0",
            "--offload",
            offload,
        ]);
        assert_usage_error(&output, model);
        assert_usage_error(&output, why);
    }
}
