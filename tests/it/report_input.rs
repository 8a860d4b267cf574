//! A report.json or a bench run is untrusted input: `iomodels report`, `diff` and `merge`
//! refuse, in one line with exit code 2, a name that would leave `--out` or read as a
//! URL, a name that would break a table, a figure no run measures and counts that add up
//! past a u64; free text (an error, the command) reaches report.md and report.html as
//! text, never as markup or a link.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::bench_util::{bin, run_bounded};

/// A fresh directory of this test process's own.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("iomodels-input-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A comparison of epoll and poll in `workload` at 10 clients, one round, as compare
/// writes it (without the runs).
fn report_json(workload: &str) -> Value {
    let figures = |x: f64| {
        let one = json!({
            "throughput_per_s": 1000.0, "p50_us": 50.0, "p99_us": 90.0,
            "connect_p50_us": 20.0, "errors": 0.0, "cpu_us_per_req": 5.0 * x,
            "x_floor": x, "starved": 0.0, "client_cpu_share": 0.5
        });
        json!({"median": one, "min": one, "max": one})
    };
    let cell = |subject: &str, x: f64| {
        json!({
            "subject": subject, "workload": workload, "level": 10, "runs": [],
            "figures": figures(x), "tier": null, "error": null, "server_said": []
        })
    };
    json!({
        "version": 2, "command": "iomodels compare",
        "machine": {"cpus": 2, "kernel": "Linux", "cpu_model": "cpu", "memory_gib": 1.0},
        "started_unix_s": 0, "floor_us_per_req": 5.0, "wall_s": 1.0, "duration_ms": 300,
        "repeat": 1, "workloads": [[workload, [10]]], "subjects": ["epoll", "poll"],
        "cells": [cell("epoll", 1.0), cell("poll", 2.0)], "stops": []
    })
}

/// Writes `json` to `dir/in.json` and runs `iomodels report` on it with `--out out`.
fn render(dir: &Path, out: &Path, json: &Value) -> Output {
    let input = dir.join("in.json");
    std::fs::write(&input, json.to_string()).unwrap();
    run_bounded(
        Command::new(bin())
            .arg("report")
            .arg(&input)
            .arg("--out")
            .arg(out),
    )
}

/// Fails unless `output` is a usage error of one short line that contains `expected`.
fn refused(output: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.len() < 400, "the error echoes little: {stderr}");
    assert!(stderr.contains(expected), "{expected}: {stderr}");
}

/// Every file under `dir`, as paths relative to it.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(at) = todo.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    found
}

#[test]
fn a_workload_that_would_leave_the_output_directory_is_refused() {
    let dir = scratch("traversal");
    let out = dir.join("a/b/out");
    let output = render(&dir, &out, &report_json("../../x"));
    refused(&output, "'../../x' is not a workload's name");
    assert_eq!(files(&dir), [PathBuf::from("in.json")], "nothing written");
    let long = "x".repeat(100_000);
    refused(
        &render(&dir, &out, &report_json(&long)),
        "is not a workload's name",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_workload_that_would_read_as_a_link_is_refused() {
    let dir = scratch("scheme");
    let output = render(
        &dir,
        &dir.join("out"),
        &report_json("javascript:alert(1)//"),
    );
    refused(&output, "is not a workload's name");
    assert!(!dir.join("out/report.html").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn markup_in_a_report_reads_as_text_and_a_name_that_breaks_a_table_is_refused() {
    let dir = scratch("markup");
    let mut json = report_json("http");
    json["cells"][1]["error"] = json!("<script>alert(1)</script> [x](javascript:alert(1)) a|b");
    json["command"] = json!("iomodels compare <img src=x onerror=alert(1)>");
    let output = render(&dir, &dir.join("out"), &json);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let md = std::fs::read_to_string(dir.join("out/report.md")).unwrap();
    let bare = |markup: &str| {
        md.match_indices(markup)
            .any(|(at, _)| !md[..at].ends_with('\\'))
    };
    assert!(!bare("<script") && !bare("](javascript:"), "{md}");
    let html = std::fs::read_to_string(dir.join("out/report.html")).unwrap();
    assert!(
        !html.contains("<script") && !html.contains("<img"),
        "{html}"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    let mut json = report_json("http");
    json["subjects"][1] = json!("po|ll");
    json["cells"][1]["subject"] = json!("po|ll");
    refused(
        &render(&dir, &dir.join("out2"), &json),
        "'po|ll' is not a model's name",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_figure_near_the_largest_float_is_refused_at_once() {
    let dir = scratch("huge");
    let mut json = report_json("http");
    json["cells"][1]["figures"]["max"]["x_floor"] = json!(1.7e308);
    let output = render(&dir, &dir.join("out"), &json);
    refused(
        &output,
        "cells[1].figures.max.x_floor: 1.7e+308 is no figure a run measures",
    );
    let input = dir.join("in.json");
    let diff = run_bounded(Command::new(bin()).arg("diff").arg(&input).arg(&input));
    refused(&diff, "x_floor: 1.7e+308");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A bench run of `requests` requests as `bench --json` writes it, with empty
/// histograms.
fn bench_run(requests: u64) -> Value {
    let empty = iomodels::stats::encode_v2_base64(&iomodels::stats::new_histogram());
    let summary = json!({"mean": 0.0, "p50": 0, "p90": 0, "p99": 0, "p999": 0, "max": 0});
    json!({
        "workload": "http", "target": "http://127.0.0.1:80/", "connections": 1,
        "duration_s": 1.0, "requests": requests, "throughput_per_s": 1.0,
        "errors": {"connect": 0, "reset": 0, "timeout": 0, "mismatch": 0, "http_status": 0},
        "latency_us": summary, "connect_us": summary,
        "client": {"cpu_user_s": 0.0, "cpu_sys_s": 0.0, "rss_peak_kb": 1},
        "histogram": empty, "connect_histogram": empty, "threads": 1,
        "connections_opened": 1, "version": 2, "started_at": 1000.0
    })
}

#[test]
fn merging_counts_past_a_u64_is_refused_not_wrapped() {
    let dir = scratch("merge");
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    std::fs::write(&a, bench_run(u64::MAX).to_string()).unwrap();
    std::fs::write(&b, bench_run(37_437).to_string()).unwrap();
    let output = run_bounded(Command::new(bin()).arg("merge").arg(&a).arg(&b));
    refused(
        &output,
        "requests: 18446744073709551615 is no figure a run measures",
    );
    std::fs::write(&a, bench_run(5).to_string()).unwrap();
    let output = run_bounded(Command::new(bin()).arg("merge").arg(&a).arg(&b));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("37442"),
        "the runs that fit still merge: {stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
