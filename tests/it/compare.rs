//! `iomodels compare` with tiny settings: every output file is written and well formed,
//! every cell has its rounds and a tier, a model that dies mid-run becomes an error row
//! while the run completes; `iomodels diff` compares two reports and refuses what is not
//! one.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::util::validate_json;

/// Runs `iomodels compare ARGS --out DIR`; returns the parsed report.json.
fn compare(dir: &Path, args: &[&str]) -> Value {
    let (json, stdout) = compare_out(dir, args);
    assert!(
        stdout.contains("\nsummary\n") && stdout.contains(": tier 1 (x the floor): "),
        "the terminal ends with a summary: {stdout}"
    );
    json
}

/// Runs `iomodels compare ARGS --out DIR`, which must succeed, name its report and
/// write a report.json the schema accepts; returns it, parsed, and the terminal's text.
pub(crate) fn compare_out(dir: &Path, args: &[&str]) -> (Value, String) {
    let (json, stdout, _) = compare_pid(dir, args);
    (json, stdout)
}

/// [`compare_out`], with the process id compare ran as.
pub(crate) fn compare_pid(dir: &Path, args: &[&str]) -> (Value, String, u32) {
    let child = Command::new(env!("CARGO_BIN_EXE_iomodels"))
        .arg("compare")
        .args(args)
        .arg("--out")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run iomodels compare");
    let pid = child.id();
    let output = child.wait_with_output().expect("wait for iomodels compare");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "compare failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("report.html"),
        "the terminal names the report: {stdout}"
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    validate_json("compare.schema.json", &json);
    (json, stdout.into_owned(), pid)
}

pub(crate) fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = crate::util::scratch().join(format!("iomodels-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn two_models_give_every_output_file() {
    let dir = temp_dir("compare");
    let json = compare(
        &dir,
        &[
            "--models",
            "epoll,threads",
            "--workload",
            "echo,http",
            "--concurrency",
            "4,8",
            "--duration",
            "150ms",
            "--repeat",
            "2",
        ],
    );
    let cells = json["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2 * 2 * 2, "models x workloads x levels");
    for cell in cells {
        assert!(cell["error"].is_null(), "{cell:#}");
        assert_eq!(cell["runs"].as_array().unwrap().len(), 2, "--repeat 2");
        let median = &cell["figures"]["median"];
        assert!(
            median["throughput_per_s"].as_f64().unwrap() > 0.0,
            "{cell:#}"
        );
        assert!(
            median["cpu_us_per_req"].as_f64().unwrap() > 0.0,
            "server CPU sampled: {cell:#}"
        );
    }
    let stops = json["stops"].as_array().unwrap();
    for model in ["epoll", "threads"] {
        assert!(
            stops.iter().any(|stop| stop["subject"] == model),
            "{model} was stopped and checked: {stops:#?}"
        );
    }
    for stop in stops {
        assert_eq!(stop["status"], "exit code 0", "{stop:#}");
        assert!(stop["left_behind"].as_array().unwrap().is_empty());
    }
    for file in [
        "echo-4.svg",
        "echo-8.svg",
        "http-4.svg",
        "http-8.svg",
        "http-sweep.svg",
    ] {
        let svg = std::fs::read_to_string(dir.join(file)).unwrap();
        let doc = roxmltree::Document::parse(&svg).expect("the chart is well-formed XML");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let names: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(str::trim))
            .collect();
        assert!(
            names.iter().any(|t| t.starts_with("epoll"))
                && names.iter().any(|t| t.starts_with("threads")),
            "{file} names each model: {names:?}"
        );
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("href=\"./echo-4.svg\"") && html.contains("href=\"./http-sweep.svg\""),
        "links the charts"
    );
    assert_eq!(
        html.matches("<figure class=\"ranked\" data-bars=\"2\"")
            .count(),
        4,
        "inlines a ranked chart of two bars per workload and level"
    );
    assert!(
        html.find("What this run found") < html.find("<figure"),
        "the findings come first"
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("## Findings") && md.contains("![http, 8 clients](./http-8.svg)"),
        "report.md says what it found and links the charts: {md}"
    );
    assert!(
        md.contains("## http: 8 concurrent clients")
            && (md.contains("| 1 |") || md.contains("| =1 |")),
        "the first row is tier 1: {md}"
    );
    assert_eq!(
        json["rounds"].as_array().unwrap().len(),
        2 * 2,
        "2 rounds per workload"
    );
    for round in json["rounds"].as_array().unwrap() {
        assert!(
            round["floor_us_per_req"].as_f64().unwrap() > 0.0,
            "{round:#}"
        );
    }
    for cell in cells {
        assert!(
            cell["tier"].as_u64().unwrap() >= 1,
            "a tier on every cell: {cell:#}"
        );
        let rounds: Vec<u64> = cell["rounds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["round"].as_u64().unwrap())
            .collect();
        assert_eq!(rounds, [0, 1], "one run per round, in order: {cell:#}");
        let x_floor = cell["figures"]["median"]["x_floor"].as_f64().unwrap();
        assert!(x_floor > 0.0, "{cell:#}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_model_that_dies_becomes_an_error_row() {
    let dir = temp_dir("compare-dies");
    // The second model is killed by the kernel (SIGALRM) shortly after it starts.
    let json = compare(
        &dir,
        &[
            "--models",
            "epoll,epoll:--crash-after=0.5",
            "--workload",
            "http",
            "--concurrency",
            "4,8",
            "--duration",
            "200ms",
            "--repeat",
            "2",
        ],
    );
    let cells = json["cells"].as_array().unwrap();
    let healthy: Vec<&Value> = cells.iter().filter(|c| c["subject"] == "epoll").collect();
    assert_eq!(healthy.len(), 2, "one healthy cell per level");
    assert!(healthy
        .iter()
        .all(|c| c["error"].is_null() && !c["figures"].is_null()));
    let dying: Vec<&Value> = cells
        .iter()
        .filter(|c| c["subject"] == "epoll:--crash-after=0.5")
        .collect();
    assert_eq!(dying.len(), 2, "one cell per level, even after the death");
    let last = dying.last().unwrap();
    let error = last["error"]
        .as_str()
        .expect("the dead model's last cell says why");
    assert!(
        error.contains("server died") && error.contains("SIGALRM"),
        "{error}"
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("server died"), "the report shows it: {md}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_external_target_is_measured_and_its_process_found() {
    let dir = temp_dir("compare-target");
    let external = crate::util::ServerProc::start("async", "http", &[]);
    let target = format!("ext={}", external.addr);
    let json = compare(
        &dir,
        &[
            "--models",
            "epoll",
            "--target",
            &target,
            "--workload",
            "http",
            "--concurrency",
            "4",
            "--duration",
            "150ms",
            "--repeat",
            "1",
        ],
    );
    let ext = json["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["subject"] == "ext")
        .expect("a row for the target");
    let median = &ext["figures"]["median"];
    assert!(
        median["throughput_per_s"].as_f64().unwrap() > 0.0,
        "{ext:#}"
    );
    assert!(
        median["cpu_us_per_req"].as_f64().is_some(),
        "the target's process was found from its listening socket and sampled: {ext:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `iomodels diff OLD NEW`; returns its exit code, stdout and stderr.
fn diff(old: &Path, new: &Path) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_iomodels"))
        .arg("diff")
        .arg(old)
        .arg(new)
        .output()
        .expect("run iomodels diff");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn diff_compares_two_reports_and_refuses_what_is_not_one() {
    let dir = temp_dir("compare-diff");
    let args = [
        "--models",
        "epoll,fork",
        "--workload",
        "http",
        "--concurrency",
        "4",
        "--duration",
        "100ms",
        "--repeat",
        "2",
    ];
    compare(&dir, &args);
    let report = dir.join("report.json");
    let (code, out, err) = diff(&report, &report);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("http: 4"), "{out}");
    assert!(out.contains("epoll") && out.contains("fork"), "{out}");
    assert!(
        out.contains("0 of those (0.0%) are in the opposite order"),
        "a report against itself reverses nothing: {out}"
    );
    assert!(
        out.contains("kendall tau of median CPU per request: mean 1.00"),
        "{out}"
    );

    let other = temp_dir("compare-diff-other");
    let mut fewer = args;
    fewer[1] = "epoll";
    compare(&other, &fewer);
    let (code, _, err) = diff(&report, &other.join("report.json"));
    assert_eq!(code, 2, "different cells: {err}");
    assert!(
        err.contains("different cells") && err.contains("fork"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    let not_json = dir.join("report.md");
    let (code, _, err) = diff(&report, &not_json);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not JSON"), "{err}");
    let bench_json = dir.join("bench.json");
    std::fs::write(&bench_json, r#"{"workload": "http", "requests": 5}"#).unwrap();
    let (code, _, err) = diff(&bench_json, &report);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a compare report"), "{err}");
    let old_version = dir.join("v1.json");
    std::fs::write(&old_version, r#"{"version": 1, "cells": []}"#).unwrap();
    let (code, _, err) = diff(&old_version, &report);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("version 1"), "{err}");

    let again = temp_dir("compare-report-again");
    let rewrite = |json: &Path| {
        Command::new(env!("CARGO_BIN_EXE_iomodels"))
            .arg("report")
            .arg(json)
            .arg("--out")
            .arg(&again)
            .output()
            .expect("run iomodels report")
    };
    let written = rewrite(&report);
    assert!(written.status.success(), "{written:?}");
    for file in ["report.html", "report.md", "report.json", "http-4.svg"] {
        let (first, second) = (
            std::fs::read_to_string(dir.join(file)).unwrap(),
            std::fs::read_to_string(again.join(file)).unwrap(),
        );
        let differs = first.lines().zip(second.lines()).find(|(a, b)| a != b);
        assert!(
            first == second,
            "iomodels report writes {file} as compare did; first difference: {differs:?}"
        );
    }
    let refused = rewrite(&bench_json);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a compare report"));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&other);
    let _ = std::fs::remove_dir_all(&again);
}

/// A target that cannot be measured (nothing listens at its address; its pid is no
/// process, or compare's own ancestor, or not the server's) is one line and exit 2
/// before the run, not minutes of failed rows or figures of the wrong process.
#[test]
fn a_target_that_cannot_be_measured_is_refused_in_one_line() {
    let dir = temp_dir("compare-bad-target");
    let server = crate::util::ServerProc::start("epoll", "http", &[]);
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nothing = free.local_addr().unwrap();
    drop(free);
    // This test process is compare's parent; a sleep is no server.
    let ancestor = std::process::id();
    let mut stranger = Command::new("sleep").arg("30").spawn().unwrap();
    let cases = [
        (format!("x={nothing}"), "nothing accepts connections at"),
        (
            format!("x={}@4294967295", server.addr),
            "no process 4294967295",
        ),
        (
            format!("x={}@{ancestor}", server.addr),
            "one of its ancestors",
        ),
        (
            format!("x={}@{}", server.addr, stranger.id()),
            "does not hold the socket",
        ),
    ];
    let outputs: Vec<_> = cases
        .iter()
        .map(|(target, _)| {
            let started = std::time::Instant::now();
            let output = Command::new(env!("CARGO_BIN_EXE_iomodels"))
                .args(["compare", "--models", "epoll", "--workload", "http"])
                .args(["--target", target, "--out"])
                .arg(&dir)
                .output()
                .unwrap();
            (output, started.elapsed())
        })
        .collect();
    let _ = stranger.kill();
    let _ = stranger.wait();
    for ((target, expected), (output, took)) in cases.iter().zip(outputs) {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{target}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{target}: {stderr}");
        let said = stderr.contains("--target x: ") && stderr.contains(expected);
        assert!(said, "{target}: {stderr}");
        assert!(took < std::time::Duration::from_secs(10), "{target}");
        assert!(!dir.exists(), "{target}: a report was begun");
    }
}
