//! `bench` against deliberately wrong servers: every error kind is counted in its own
//! field, the client neither crashes nor hangs, and a run in which no request succeeded
//! exits 1 with one line saying why (its JSON still written).

use crate::bench_util::{bench_json_failing, bench_with_json, count, errors};
use crate::bench_util::{server, url};
use crate::bench_util::{wrong_server, Wrong};

#[test]
fn corrupted_echo_counts_mismatches() {
    let addr = wrong_server(Wrong::CorruptEcho).to_string();
    let (json, _, why) = bench_json_failing(&[
        "echo",
        &addr,
        "--workers",
        "4",
        "--rounds",
        "3",
        "--messages",
        "5",
    ]);
    assert!(why.contains("no message succeeded"), "{why}");
    assert_eq!(
        errors(&json, "mismatch"),
        12,
        "every session fails on its first message"
    );
    assert_eq!(count(&json, "requests"), 0);
    assert_eq!(errors(&json, "reset") + errors(&json, "timeout"), 0);
}

#[test]
fn resets_are_counted_as_resets() {
    let addr = wrong_server(Wrong::Reset);
    let url = format!("http://{addr}/");
    let (json, _, why) =
        bench_json_failing(&["http", &url, "--connections", "2", "--requests", "20"]);
    assert!(why.contains("reset"), "{why}");
    assert!(errors(&json, "reset") > 0);
    assert_eq!(errors(&json, "mismatch") + errors(&json, "http_status"), 0);
    assert_eq!(count(&json, "requests"), 0);
}

#[test]
fn a_stalled_server_gives_timeouts() {
    let addr = wrong_server(Wrong::Stall);
    let url = format!("http://{addr}/");
    let (json, _, _) = bench_json_failing(&[
        "http",
        &url,
        "--connections",
        "2",
        "--duration",
        "1s",
        "--timeout",
        "200ms",
    ]);
    assert!(errors(&json, "timeout") >= 2);
    assert_eq!(count(&json, "requests"), 0);
    let (echo, _, _) = bench_json_failing(&[
        "echo",
        &addr.to_string(),
        "--workers",
        "2",
        "--rounds",
        "2",
        "--timeout",
        "200ms",
    ]);
    assert_eq!(errors(&echo, "timeout"), 4);
}

#[test]
fn server_errors_are_answers_but_not_requests() {
    let addr = wrong_server(Wrong::Http500);
    let url = format!("http://{addr}/");
    let (json, stdout, why) = bench_json_failing(&[
        "http",
        &url,
        "--connections",
        "2",
        "--requests",
        "50",
        "--pipeline",
        "2",
    ]);
    assert_eq!(count(&json, "requests"), 0);
    assert_eq!(json["throughput_per_s"], 0.0);
    assert_eq!(errors(&json, "http_status"), 50);
    assert_eq!(errors(&json, "mismatch") + errors(&json, "reset"), 0);
    assert!(
        why.contains("50 answers with a status other than 2xx or 3xx"),
        "{why}"
    );
    assert!(stdout.contains("non-2xx/3xx  50 answers"), "{stdout}");
    // No latency was measured: the row shows dashes, not 0.0.
    let latency = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("latency"));
    let latency = latency.unwrap_or_else(|| panic!("no latency row: {stdout}"));
    assert!(
        !latency.contains("0.0") && latency.contains('-'),
        "{latency}"
    );
}

#[test]
fn only_2xx_and_3xx_answers_count_as_requests() {
    let addr = wrong_server(Wrong::Http200Then301Then404);
    let url = format!("http://{addr}/");
    let (out, json) = bench_with_json(&["http", &url, "--connections", "1", "--requests", "30"]);
    assert!(out.status.success(), "some requests succeeded");
    assert_eq!(count(&json, "requests"), 20, "200s and 301s");
    assert_eq!(errors(&json, "http_status"), 10, "404s");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("requests     20 "), "{stdout}");
    assert!(stdout.contains("non-2xx/3xx  10 answers"), "{stdout}");
}

#[test]
fn a_non_http_reply_is_a_mismatch() {
    // An echo server answers an HTTP request with the request itself.
    let addr = wrong_server(Wrong::CorruptEcho);
    let url = format!("http://{addr}/");
    let (json, _, _) = bench_json_failing(&["http", &url, "--connections", "1", "--requests", "5"]);
    assert!(errors(&json, "mismatch") >= 1);
}

#[test]
fn the_wrong_protocol_fails_the_run() {
    let echo = server("epoll", "echo");
    let (json, _, why) = bench_json_failing(&[
        "http",
        &url(&echo),
        "--connections",
        "2",
        "--duration",
        "300ms",
    ]);
    assert_eq!(count(&json, "requests"), 0);
    assert!(why.contains("not the expected ones"), "{why}");
    let http = server("epoll", "http");
    let (json, _, why) = bench_json_failing(&[
        "echo",
        &http.addr.to_string(),
        "--workers",
        "2",
        "--rounds",
        "5",
    ]);
    assert_eq!(count(&json, "requests"), 0);
    assert!(why.contains("no message succeeded"), "{why}");
}
