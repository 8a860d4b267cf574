//! `iomodels merge`: bench runs made at once against one server, as one run: requests
//! and histogram counts are the sums of the parts'; runs that do not belong together
//! are refused in one line with exit code 2.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::bench_util::{bench_json, bin, run_bounded, server, url};

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("iomodels-merge-{}-{name}", std::process::id()))
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

#[test]
fn two_runs_at_once_merge_into_their_sums() {
    let server = server("epoll", "http");
    let target = url(&server);
    let args = [
        "http",
        target.as_str(),
        "--connections",
        "4",
        "--duration",
        "700ms",
    ];
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| bench_json(&args));
        let b = s.spawn(|| bench_json(&args));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (pa, pb, out) = (
        write("a.json", &a),
        write("b.json", &b),
        temp("merged.json"),
    );
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
    assert_eq!(requests(&merged), requests(&a) + requests(&b));
    assert_eq!(samples(&merged), samples(&a) + samples(&b));
    assert_eq!(merged["parts"].as_array().unwrap().len(), 2);
    assert!(merged["start_spread_s"].as_f64().unwrap() < 1.0);
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(stdout.contains("2 runs merged"), "{stdout}");
    for path in [pa, pb, out] {
        let _ = std::fs::remove_file(path);
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
