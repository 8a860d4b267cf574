//! `iomodels compare` with the work workloads (`wait`, `cpu`), tiny: every model a row
//! ranked by x ideal, the servers given compare's work amounts, and the findings
//! naming the blocking call inside an event loop.

use serde_json::Value;

use crate::compare::{compare_out, temp_dir};

/// The cells of one workload in a report.json.
fn cells<'a>(json: &'a Value, workload: &str) -> Vec<&'a Value> {
    json["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["workload"] == workload)
        .collect()
}

#[test]
fn wait_and_cpu_rank_every_model_by_x_ideal_and_find_the_blocking_loop() {
    let dir = temp_dir("compare-work");
    let models = ["epoll", "threads", "epoll:--offload=0", "async:--offload=2"];
    let (json, stdout) = compare_out(
        &dir,
        &[
            "--models",
            &models.join(","),
            "--workload",
            "wait,cpu",
            "--quick",
            "--concurrency",
            "10",
            "--duration",
            "300ms",
            "--wait",
            "30ms",
            "--cpu-work",
            "200us",
        ],
    );
    assert_eq!(json["work"]["wait_ms"], 30.0, "{:#}", json["work"]);
    assert_eq!(json["work"]["cpu_work_us"], 200.0);
    for workload in ["wait", "cpu"] {
        let cells = cells(&json, workload);
        let rows: Vec<&str> = cells
            .iter()
            .map(|c| c["subject"].as_str().unwrap())
            .collect();
        assert_eq!(rows, models, "every model a row of {workload}");
        for cell in &cells {
            assert!(cell["error"].is_null(), "{cell:#}");
            let x = cell["figures"]["median"]["x_ideal"].as_f64();
            assert!(x.is_some_and(|x| x > 0.0), "{cell:#}");
            assert!(cell["tier"].as_u64().is_some(), "{cell:#}");
        }
        assert!(
            stdout.contains(&format!("{workload}, 10 clients: tier 1 (x ideal): ")),
            "{stdout}"
        );
    }
    let threads = |workload: &str| {
        let cell = cells(&json, workload)
            .into_iter()
            .find(|c| c["subject"] == "threads")
            .unwrap();
        cell["figures"]["median"].clone()
    };
    let waited_us = threads("wait")["p50_us"].as_f64().unwrap();
    assert!(
        waited_us >= 27_000.0,
        "the servers wait compare's 30 ms: {waited_us}"
    );
    let burnt_us = threads("cpu")["cpu_us_per_req"].as_f64().unwrap();
    assert!(
        burnt_us >= 180.0,
        "the servers burn compare's 200 µs: {burnt_us}"
    );
    assert!(
        stdout.contains("x ideal"),
        "the tables show x ideal: {stdout}"
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let findings = md.split("## Findings").nth(1).expect("findings");
    assert!(
        findings.contains("- **a blocking call inside an event loop**: At wait, 10 clients"),
        "{md}"
    );
    assert!(
        findings.contains("- **CPU-bound work: more than one core**"),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("a blocking call inside an event loop"));
    for file in ["wait-10.svg", "cpu-10.svg"] {
        let svg = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(svg.contains("x ideal (higher is better)"), "{file}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
