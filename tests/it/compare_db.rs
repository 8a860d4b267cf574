//! `iomodels compare` with the database workloads (`db`, `queries`), tiny, against the
//! private PostgreSQL compare starts itself: every model a row with req/s and x pgbench,
//! pgbench's rate in the round, the findings naming the model closest to it, and no
//! process or directory of the cluster left once compare has exited. Skipped where
//! PostgreSQL cannot run, unless `CI=true`.

use std::fs;
use std::path::PathBuf;

use serde_json::Value;

use crate::compare::{compare_pid, temp_dir};

/// A process's command name and parent, from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(String, u32)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (open, close) = (text.find('(')?, text.rfind(')')?);
    let ppid = text[close + 2..].split(' ').nth(1)?.parse().ok()?;
    Some((text[open + 1..close].to_string(), ppid))
}

/// The command line of a process, its arguments joined by spaces.
fn cmdline(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .unwrap_or_default()
}

/// Every `postgres` process (`pgrep -x postgres`) whose postmaster, the topmost
/// `postgres` above it, serves a data directory under `prefix`.
fn postgres_under(prefix: &str) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let pids = dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok());
    pids.filter(|&pid| {
        let mut at = pid;
        loop {
            match stat(at) {
                Some((name, _)) if name != "postgres" => return false,
                Some((_, parent)) if stat(parent).is_some_and(|(n, _)| n == "postgres") => {
                    at = parent;
                }
                Some(_) => return cmdline(at).contains(prefix),
                None => return false,
            }
        }
    })
    .collect()
}

/// The directories a private cluster of compare's left in /tmp, by their prefix.
fn directories_under(prefix: &str) -> Vec<PathBuf> {
    let Ok(dir) = fs::read_dir("/tmp") else {
        return Vec::new();
    };
    dir.filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.to_string_lossy().starts_with(prefix))
        .collect()
}

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
fn db_and_queries_rank_by_x_pgbench_against_a_private_cluster_left_behind_nowhere() {
    const TEST: &str = "compare_db";
    if crate::util::pg::shared_url(TEST).is_none() {
        return;
    }
    let dir = temp_dir("compare-db");
    let models = ["epoll", "threads"];
    let (json, stdout, pid) = compare_pid(
        &dir,
        &[
            "--models",
            &models.join(","),
            "--workload",
            "db,queries",
            "--queries",
            "5",
            "--quick",
            "--concurrency",
            "10",
            "--duration",
            "300ms",
        ],
    );
    let database = &json["database"];
    assert_eq!(database["private"], true, "{database:#}");
    assert_eq!(database["queries"], 5);
    let settings = database["settings"].as_str().unwrap();
    assert!(settings.contains("max_connections=200"), "{settings}");
    for workload in ["db", "queries"] {
        let round = json["rounds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["workload"] == workload)
            .expect("a round");
        let pgbench = &round["pgbench"][0];
        assert_eq!(pgbench["clients"], 10, "{round:#}");
        assert!(
            pgbench["tps"].as_f64().is_some_and(|t| t > 0.0),
            "{round:#}"
        );
        let cells = cells(&json, workload);
        let rows: Vec<&str> = cells
            .iter()
            .map(|c| c["subject"].as_str().unwrap())
            .collect();
        assert_eq!(rows, models, "every model a row of {workload}");
        for cell in &cells {
            assert!(cell["error"].is_null(), "{cell:#}");
            let median = &cell["figures"]["median"];
            assert!(
                median["throughput_per_s"].as_f64().unwrap() > 0.0,
                "{cell:#}"
            );
            assert!(
                median["x_pgbench"].as_f64().is_some_and(|x| x > 0.0),
                "{cell:#}"
            );
            assert!(median["db_cpu_us_per_req"].as_f64().is_some(), "{cell:#}");
            let connections = median["db_connections"].as_f64().unwrap();
            assert!((1.0..=20.0).contains(&connections), "{cell:#}");
            assert!(cell["tier"].as_u64().is_some(), "{cell:#}");
        }
        assert!(
            stdout.contains(&format!("{workload}, 10 clients: tier 1 (x pgbench): ")),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains("x pgbench") && stdout.contains("pgbench -S"),
        "{stdout}"
    );
    let threads = cells(&json, "db")
        .into_iter()
        .find(|c| c["subject"] == "threads")
        .unwrap();
    // A connection per client: 10 when sampled with all 10 open; a loaded machine's
    // sample may catch some opening or closing, but more than a pool's one.
    let held = threads["figures"]["median"]["db_connections"]
        .as_f64()
        .unwrap();
    assert!(
        (2.0..=10.0).contains(&held),
        "threads holds a connection per client: {threads:#}"
    );
    let page = fs::read_to_string(dir.join("report.md")).unwrap();
    let findings = page
        .split("## Findings")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("report.md has findings");
    let closest = findings
        .lines()
        .find(|l| l.contains("closest to PostgreSQL"))
        .unwrap_or_else(|| panic!("no finding on the closest model: {findings}"));
    assert!(
        models
            .iter()
            .any(|m| closest.contains(&format!("{m} came closest to it"))),
        "{closest}"
    );
    // compare has exited: its cluster's directory (named for the process that made it,
    // `iomodels-pg-PID-N`) and every process serving one are gone.
    let shared = format!("/tmp/iomodels-pg-{}-", std::process::id());
    assert!(
        !postgres_under(&shared).is_empty(),
        "the tests' own cluster is found the same way"
    );
    let ours = format!("/tmp/iomodels-pg-{pid}-");
    assert_eq!(
        postgres_under(&ours),
        Vec::<u32>::new(),
        "postgres left behind"
    );
    assert_eq!(
        directories_under(&ours),
        Vec::<PathBuf>::new(),
        "a directory left"
    );
    let _ = fs::remove_dir_all(&dir);
}
