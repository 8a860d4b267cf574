//! `bench http` against the project's own HTTP server.

use crate::bench_util::{bench_json, bench_with_json, count, errors, server, url};

#[test]
fn keep_alive_requests_all_answered() {
    let server = server("epoll", "http");
    let json = bench_json(&[
        "http",
        &url(&server),
        "--connections",
        "4",
        "--requests",
        "2000",
    ]);
    assert_eq!(json["workload"], "http");
    assert_eq!(count(&json, "requests"), 2000);
    assert_eq!(count(&json, "connections"), 4);
    assert_eq!(
        json["errors"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(|v| v.as_u64())
            .sum::<u64>(),
        0
    );
    assert!(
        json["latency_us"]["max"].as_u64().unwrap() >= json["latency_us"]["p50"].as_u64().unwrap()
    );
    assert!(count(&json, "connections_opened") >= 1);
    assert!(json["throughput_per_s"].as_f64().unwrap() > 0.0);
}

/// `--processes 3`: the connections and the requests shared out over three processes
/// of bench, their runs merged: every request counted once.
#[test]
fn requests_spread_over_processes_are_counted_once() {
    let server = server("epoll", "http");
    let json = bench_json(&[
        "http",
        &url(&server),
        "--connections",
        "4",
        "--requests",
        "1001",
        "--processes",
        "3",
    ]);
    assert_eq!(count(&json, "requests"), 1001);
    assert_eq!(count(&json, "connections"), 4);
    assert_eq!(json["parts"].as_array().unwrap().len(), 3);
    let errors: u64 = json["errors"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|v| v.as_u64())
        .sum();
    assert_eq!(errors, 0);
}

#[test]
fn pipelined_and_threaded() {
    let server = server("epoll", "http");
    let json = bench_json(&[
        "http",
        &url(&server),
        "--connections",
        "6",
        "--requests",
        "3000",
        "--pipeline",
        "8",
        "--threads",
        "2",
    ]);
    assert_eq!(count(&json, "requests"), 3000);
    assert_eq!(errors(&json, "mismatch"), 0);
    assert_eq!(errors(&json, "reset"), 0);
    assert_eq!(count(&json, "threads"), 2);
}

#[test]
fn close_opens_a_connection_per_request() {
    let server = server("threads", "http");
    let json = bench_json(&[
        "http",
        &url(&server),
        "--connections",
        "2",
        "--requests",
        "100",
        "--close",
    ]);
    assert_eq!(count(&json, "requests"), 100);
    assert_eq!(errors(&json, "reset"), 0);
    assert!(count(&json, "connections_opened") >= 100);
    assert!(json["connect_us"]["p50"].as_u64().is_some());
}

#[test]
fn head_requests_have_no_body() {
    let server = server("epoll", "http");
    let json = bench_json(&[
        "http",
        &url(&server),
        "--requests",
        "500",
        "--method",
        "HEAD",
        "--pipeline",
        "4",
    ]);
    assert_eq!(count(&json, "requests"), 500);
    assert_eq!(errors(&json, "mismatch"), 0);
}

#[test]
fn open_loop_rate_with_server_sampling() {
    let server = server("epoll", "http");
    let pid = server.pid().to_string();
    let json = bench_json(&[
        "http",
        &url(&server),
        "--connections",
        "4",
        "--rate",
        "400",
        "--duration",
        "1s",
        "--server-pid",
        &pid,
    ]);
    // About 400 requests are due in one second; a loaded machine may answer fewer.
    let requests = count(&json, "requests");
    assert!(
        requests > 0 && requests <= 420,
        "{requests} requests at 400/s for 1 s"
    );
    assert_eq!(errors(&json, "timeout"), 0);
    assert!(json["server"]["processes"].as_u64().unwrap() >= 1);
    assert!(json["server"]["rss_peak_kb"].as_u64().unwrap() > 0);
    assert!(json["client"]["rss_peak_kb"].as_u64().unwrap() > 0);
}

/// `--server-pid` gives the server's CPU per request beside its CPU seconds, in the
/// summary and in the JSON.
#[test]
fn server_cpu_per_request_is_reported() {
    let server = server("epoll", "http");
    let pid = server.pid().to_string();
    let args = [
        "http",
        &url(&server),
        "--connections",
        "2",
        "--duration",
        "300ms",
        "--server-pid",
        &pid,
    ];
    let (out, json) = bench_with_json(&args);
    let per_request = json["server_cpu_us_per_request"].as_f64().unwrap();
    let cpu_s = json["server"]["cpu_ns"].as_f64().unwrap() / 1e9;
    let expected = cpu_s * 1e6 / count(&json, "requests") as f64;
    assert!(per_request > 0.0, "{json:#}");
    assert!(
        (per_request - expected).abs() <= 0.01,
        "{per_request} vs {expected}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("server"));
    let line = line.unwrap_or_else(|| panic!("no server line: {stdout}"));
    assert!(
        line.contains(" s sys (") && line.contains(" µs per request)"),
        "{line}"
    );
}

/// Keep-alive clients beyond a pool's size get no reply at all during a short run: the
/// run says how many, instead of hiding them behind the served clients' throughput.
#[test]
fn connections_left_waiting_are_counted_as_starved() {
    let pool = crate::util::ServerProc::start("prethread", "http", &["--workers", "2"]);
    let json = bench_json(&[
        "http",
        &url(&pool),
        "--connections",
        "6",
        "--duration",
        "300ms",
    ]);
    assert_eq!(
        count(&json, "starved"),
        4,
        "two workers serve two connections: {json:#}"
    );
    let server = server("epoll", "http");
    let json = bench_json(&[
        "http",
        &url(&server),
        "--connections",
        "6",
        "--duration",
        "300ms",
    ]);
    assert_eq!(count(&json, "starved"), 0);
}
