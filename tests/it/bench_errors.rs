//! `bench` against deliberately wrong servers: every error kind is counted in its own
//! field, and the client neither crashes nor hangs.

use crate::bench_util::{bench_json, count, errors, wrong_server, Wrong};

#[test]
fn corrupted_echo_counts_mismatches() {
    let addr = wrong_server(Wrong::CorruptEcho).to_string();
    let json = bench_json(&[
        "echo",
        &addr,
        "--workers",
        "4",
        "--rounds",
        "3",
        "--messages",
        "5",
    ]);
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
    let json = bench_json(&["http", &url, "--connections", "2", "--requests", "20"]);
    assert!(errors(&json, "reset") > 0);
    assert_eq!(errors(&json, "mismatch") + errors(&json, "http_status"), 0);
    assert_eq!(count(&json, "requests"), 0);
}

#[test]
fn a_stalled_server_gives_timeouts() {
    let addr = wrong_server(Wrong::Stall);
    let url = format!("http://{addr}/");
    let json = bench_json(&[
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
    let echo = bench_json(&[
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
fn server_errors_count_as_http_status() {
    let addr = wrong_server(Wrong::Http500);
    let url = format!("http://{addr}/");
    let json = bench_json(&[
        "http",
        &url,
        "--connections",
        "2",
        "--requests",
        "50",
        "--pipeline",
        "2",
    ]);
    assert_eq!(count(&json, "requests"), 50);
    assert_eq!(errors(&json, "http_status"), 50);
    assert_eq!(errors(&json, "mismatch") + errors(&json, "reset"), 0);
}

#[test]
fn a_non_http_reply_is_a_mismatch() {
    // An echo server answers an HTTP request with the request itself.
    let addr = wrong_server(Wrong::CorruptEcho);
    let url = format!("http://{addr}/");
    let json = bench_json(&["http", &url, "--connections", "1", "--requests", "5"]);
    assert!(errors(&json, "mismatch") >= 1);
}
