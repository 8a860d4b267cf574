//! `bench` usage errors: one clear line on stderr and exit code 2.

use std::net::TcpListener;

use crate::bench_util::bench;

fn assert_usage_error(args: &[&str], expected: &str) {
    let out = bench(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(expected), "{stderr:?} lacks {expected:?}");
}

#[test]
fn refused_target_is_a_usage_error() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    assert_usage_error(&["http", &url, "--requests", "10"], "cannot connect");
    let addr = format!("127.0.0.1:{port}");
    assert_usage_error(&["echo", &addr, "--rounds", "1"], "cannot connect");
}

#[test]
fn bad_flags_are_usage_errors() {
    assert_usage_error(
        &["http", "http://127.0.0.1:1/", "--connections", "0"],
        "connections",
    );
    assert_usage_error(
        &["http", "http://127.0.0.1:1/", "--duration", "4x"],
        "unknown unit",
    );
    assert_usage_error(&["hold", "127.0.0.1:1", "--ramp", "10"], "ramp");
    assert_usage_error(
        &["hold", "127.0.0.1:1", "--interval", "30s..1s"],
        "interval",
    );
    assert_usage_error(&["http", "https://127.0.0.1/"], "https");
    assert_usage_error(
        &["http", "http://127.0.0.1:1/", "--close", "--pipeline", "2"],
        "--close",
    );
    assert_usage_error(
        &[
            "http",
            "http://127.0.0.1:1/",
            "--requests",
            "5",
            "--duration",
            "1s",
        ],
        "cannot be used",
    );
    assert_usage_error(
        &["echo", "127.0.0.1:1", "--workers", "50000"],
        "file descriptors",
    );
}
