//! `bench hold` reaches and keeps its connections against a real server.

use crate::bench_util::{bench_json, count, errors, server, url};

#[test]
fn holds_hundreds_of_http_connections() {
    let server = server("epoll", "http");
    let json = bench_json(&[
        "hold",
        &url(&server),
        "--connections",
        "400",
        "--ramp",
        "100/10ms",
        "--interval",
        "50ms..300ms",
        "--duration",
        "1500ms",
    ]);
    assert_eq!(json["workload"], "hold");
    assert_eq!(count(&json, "held"), 400);
    assert_eq!(count(&json, "held_peak"), 400);
    assert!(
        count(&json, "requests") >= 400,
        "every connection sends at least once"
    );
    assert_eq!(errors(&json, "http_status"), 0);
    assert_eq!(errors(&json, "mismatch"), 0);
}

#[test]
fn holds_echo_connections_from_several_sources() {
    let server = server("epoll", "echo");
    let addr = server.addr.to_string();
    let json = bench_json(&[
        "hold",
        &addr,
        "--proto",
        "echo",
        "--connections",
        "200",
        "--ramp",
        "50/10ms",
        "--interval",
        "50ms..200ms",
        "--duration",
        "1200ms",
        "--source",
        "127.0.0.2,127.0.0.3",
    ]);
    assert_eq!(count(&json, "held"), 200);
    assert_eq!(errors(&json, "mismatch"), 0);
    assert_eq!(errors(&json, "connect"), 0);
}
