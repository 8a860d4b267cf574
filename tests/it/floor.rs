//! `iomodels floor`: it measures something, says it in one line a script can read, and
//! behaves as a command-line tool should when its reader goes away or a flag is wrong.

use std::io::Read;
use std::process::{Command, Stdio};

fn floor(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_iomodels"));
    command.arg("floor").args(args);
    command
}

const SMALL: [&str; 6] = ["--connections", "4", "--rounds", "3", "--requests", "400"];

#[test]
fn reports_a_positive_cpu_time_per_request() {
    let output = floor(&SMALL).output().expect("run iomodels floor");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let first = text.lines().next().expect("a first line");
    let micros: f64 = first
        .strip_prefix("floor: ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|figure| figure.parse().ok())
        .unwrap_or_else(|| panic!("`floor: <µs> ...` expected, got {first:?}"));
    assert!(micros > 0.0 && micros < 10_000.0, "{micros} µs per request");
    assert!(first.contains("median of 3 rounds"), "{first}");
    // The same without a client watching the connections, on a line of its own.
    let bare: f64 = text
        .lines()
        .find_map(|line| {
            line.split("; ")
                .nth(1)?
                .strip_suffix(" µs if no client watches")
        })
        .and_then(|figure| figure.parse().ok())
        .unwrap_or_else(|| panic!("`...; <µs> µs if no client watches` expected in {text:?}"));
    assert!(bare > 0.0 && bare < 10_000.0, "{bare} µs per request");
}

#[test]
fn a_reader_that_goes_away_is_not_an_error() {
    let mut child = floor(&SMALL)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run iomodels floor");
    // Close our end of its stdout before it writes, as `iomodels floor | true` would.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}, stderr: {stderr}");
    assert!(stderr.is_empty(), "nothing on stderr: {stderr}");
}

#[test]
fn a_flag_out_of_range_is_a_usage_error() {
    let output = floor(&["--connections", "0"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("connections"), "{stderr}");
}
