//! `bench echo` against the project's own echo server.

use crate::bench_util::{bench_json, count, errors, server};

#[test]
fn every_message_of_every_round_is_echoed() {
    let server = server("epoll", "echo");
    let addr = server.addr.to_string();
    let json = bench_json(&[
        "echo",
        &addr,
        "--workers",
        "10",
        "--rounds",
        "5",
        "--messages",
        "20",
        "--size",
        "100",
    ]);
    assert_eq!(json["workload"], "echo");
    assert_eq!(count(&json, "requests"), 10 * 5 * 20);
    assert_eq!(count(&json, "sessions"), 50);
    assert_eq!(count(&json, "connections_opened"), 50);
    assert_eq!(errors(&json, "mismatch"), 0);
    let session = json["session_us"]["p50"].as_u64().unwrap();
    let round_trip = json["latency_us"]["p50"].as_u64().unwrap();
    assert!(session >= round_trip);
}

/// `--processes 2`: two processes of bench, each with its share of the workers, merged
/// into one run whose counts are exactly those of the whole workload.
#[test]
fn every_message_is_echoed_over_several_processes() {
    let server = server("epoll", "echo");
    let addr = server.addr.to_string();
    let json = bench_json(&[
        "echo",
        &addr,
        "--workers",
        "5",
        "--rounds",
        "3",
        "--messages",
        "10",
        "--processes",
        "2",
    ]);
    assert_eq!(count(&json, "connections"), 5);
    assert_eq!(count(&json, "requests"), 5 * 3 * 10);
    assert_eq!(count(&json, "sessions"), 5 * 3);
    assert_eq!(errors(&json, "mismatch"), 0);
    let parts = json["parts"].as_array().unwrap();
    let requests: Vec<u64> = parts
        .iter()
        .map(|p| p["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(requests, [3 * 3 * 10, 2 * 3 * 10], "{parts:?}");
    assert_ne!(parts[0]["origin"], parts[1]["origin"]);
}

#[test]
fn large_messages_survive_partial_writes() {
    let server = server("epoll", "echo");
    let addr = server.addr.to_string();
    let json = bench_json(&[
        "echo",
        &addr,
        "--workers",
        "2",
        "--rounds",
        "2",
        "--messages",
        "3",
        "--size",
        "300000",
    ]);
    assert_eq!(count(&json, "requests"), 12);
    assert_eq!(errors(&json, "mismatch"), 0);
    assert_eq!(errors(&json, "reset"), 0);
}

#[test]
fn blocking_server_serves_workers_one_at_a_time() {
    let server = server("blocking", "echo");
    let addr = server.addr.to_string();
    let json = bench_json(&[
        "echo",
        &addr,
        "--workers",
        "3",
        "--rounds",
        "3",
        "--messages",
        "5",
        "--threads",
        "2",
    ]);
    assert_eq!(count(&json, "requests"), 45);
}
