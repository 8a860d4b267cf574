//! `iomodels merge`: bench runs made at once against one server, as one run: requests
//! and histogram counts are the sums of the parts'; runs given one `--start-at` start
//! together; runs that do not belong together are refused in one line with exit code 2.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::bench_util::{bench_json, bin, run_bounded, server, url};

/// A file name of this test process's own, distinct for every call (tests run at once).
fn temp(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    crate::util::scratch().join(format!("iomodels-merge-{}-{n}-{name}", std::process::id()))
}

fn write(name: &str, json: &Value) -> PathBuf {
    let path = temp(name);
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

fn merge(args: &[&PathBuf]) -> std::process::Output {
    run_bounded(Command::new(bin()).arg("merge").args(args))
}

/// The number of samples in a run's latency histogram.
fn samples(run: &Value) -> u64 {
    let text = run["histogram"].as_str().unwrap();
    iomodels::stats::decode_v2_base64(text).unwrap().len()
}

/// Merges two runs with `iomodels merge --json`, checks that requests and histogram
/// counts are the sums of the parts', and returns the merged run.
pub fn merged_sums(a: &Value, b: &Value) -> Value {
    let (pa, pb, out) = (write("a.json", a), write("b.json", b), temp("merged.json"));
    let result = run_bounded(
        Command::new(bin())
            .arg("merge")
            .args([&pa, &pb])
            .arg("--json")
            .arg(&out),
    );
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let merged: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    crate::util::validate_json("bench.schema.json", &merged);
    let requests = |r: &Value| r["requests"].as_u64().unwrap();
    assert_eq!(requests(&merged), requests(a) + requests(b));
    assert_eq!(samples(&merged), samples(a) + samples(b));
    assert_eq!(merged["parts"].as_array().unwrap().len(), 2);
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(stdout.contains("2 runs merged"), "{stdout}");
    for path in [pa, pb, out] {
        let _ = std::fs::remove_file(path);
    }
    merged
}

/// Two bench runs against `target` at once, each with `extra` flags.
fn two_runs(target: &str, extra: &[&str]) -> (Value, Value) {
    let mut args = vec!["http", target, "--connections", "4", "--duration", "700ms"];
    args.extend(extra);
    std::thread::scope(|s| {
        let a = s.spawn(|| bench_json(&args));
        let b = s.spawn(|| bench_json(&args));
        (a.join().unwrap(), b.join().unwrap())
    })
}

#[test]
fn two_runs_at_once_merge_into_their_sums() {
    let server = server("epoll", "http");
    let (a, b) = two_runs(&url(&server), &[]);
    let merged = merged_sums(&a, &b);
    assert!(merged["start_spread_s"].as_f64().unwrap() < 1.0);
}

#[test]
fn runs_given_one_start_time_start_together() {
    let server = server("epoll", "http");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let at = format!("{:.3}", now + 1.5);
    let (a, b) = two_runs(&url(&server), &["--start-at", &at]);
    for run in [&a, &b] {
        let late = run["started_at"].as_f64().unwrap() - (now + 1.5);
        assert!(
            (-0.01..0.2).contains(&late),
            "started {late} s after --start-at"
        );
    }
    let merged = merged_sums(&a, &b);
    let spread = merged["start_spread_s"].as_f64().unwrap();
    assert!(spread < 0.1, "started {spread} s apart");
}

#[test]
fn a_start_time_long_past_or_far_ahead_is_refused_in_one_line() {
    for at in ["1000000000", "2999-01-01T00:00:00Z", "tomorrow"] {
        let out = crate::bench_util::bench(&["http", "http://127.0.0.1:9/", "--start-at", at]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{at}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("--start-at") || stderr.contains("start-at"),
            "{stderr}"
        );
    }
}

#[test]
fn runs_that_do_not_belong_together_are_refused_in_one_line() {
    let server = server("epoll", "http");
    let target = url(&server);
    let http = bench_json(&["http", &target, "--connections", "2", "--duration", "200ms"]);
    let hold = bench_json(&["hold", &target, "--connections", "2", "--duration", "300ms"]);
    let (ph, pd) = (write("h.json", &http), write("d.json", &hold));
    let garbage = temp("garbage.json");
    std::fs::write(&garbage, "not json").unwrap();
    for (args, expected) in [
        (vec![&ph, &pd], "merge runs of one workload"),
        (vec![&ph, &garbage], "not a bench run"),
    ] {
        let out = merge(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
    for path in [ph, pd, garbage] {
        let _ = std::fs::remove_file(path);
    }
}

/// A run merged with itself would count its requests twice: refused in one line with
/// exit code 2, as runs that do not overlap are.
#[test]
fn a_run_merged_with_itself_is_refused_in_one_line() {
    let server = server("epoll", "http");
    let run = bench_json(&[
        "http",
        &url(&server),
        "--connections",
        "2",
        "--duration",
        "300ms",
    ]);
    let path = write("once.json", &run);
    let out = merge(&[&path, &path]);
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("run 2 is run 1 again"), "{stderr}");
}
