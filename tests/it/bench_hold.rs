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

/// Past one process's descriptors (here a limit of 15,000 set for the test, 20,000 on
/// this project's machines): 25,000 connections over two bench processes and four
/// loopback source addresses, against two `epoll-prefork` workers. One report of the
/// two runs merged, every connection held at the end, and no error of any kind.
#[test]
fn holds_past_one_process_over_two_processes() {
    let server = crate::util::ServerProc::start("epoll-prefork", "http", &["--workers", "2"]);
    let json_path =
        crate::util::scratch().join(format!("iomodels-c25k-{}.json", std::process::id()));
    let pid = server.pid().to_string();
    let command = format!(
        "ulimit -n 15000 && exec \"$0\" bench hold {} --connections 25000 --duration 6s \
         --server-pid {pid} --json {}",
        url(&server),
        json_path.display()
    );
    let out = crate::bench_util::run_bounded(std::process::Command::new("bash").args([
        "-c",
        &command,
        crate::bench_util::bin(),
    ]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json_path);
    crate::util::validate_json("bench.schema.json", &json);
    assert_eq!(count(&json, "held"), 25_000, "{stdout}");
    assert_eq!(count(&json, "held_peak"), 25_000);
    for (kind, n) in json["errors"].as_object().unwrap() {
        assert_eq!(n, 0, "{kind} errors: {stdout}");
    }
    assert_eq!(json["parts"].as_array().unwrap().len(), 2, "{stdout}");
    assert!(json["ramp_s"].as_f64().unwrap() < 6.0);
    let per_conn = json["memory"]["server_private_per_conn_b"]
        .as_f64()
        .unwrap();
    assert!(
        per_conn > 0.0 && per_conn < 4096.0,
        "{per_conn} B per connection"
    );
    assert!(stdout.contains("2 runs merged"), "{stdout}");
    // The limits it was checked against, printed before the run and in the JSON.
    assert!(
        stdout.starts_with("limits for 25,000 connections"),
        "{stdout}"
    );
    assert!(stdout.contains("binds first: "), "{stdout}");
    let rows = json["limits"]["rows"].as_array().unwrap();
    assert!(
        rows.iter().any(|r| r["name"] == "CPU for the pings"),
        "{json:#}"
    );
    assert!(json["limits"]["cpu_per_request"]["server_measured"] == true);
    // The load generator's memory, all its processes, per held connection.
    assert_eq!(
        json["memory"]["client_processes"], 3,
        "two parts and their parent"
    );
    assert!(json["memory"]["client_per_conn_b"].as_f64().unwrap() > 0.0);
    assert!(json["losses"]["causes"].is_array());
    // As root, the kernel's memory by cache, and the server's end of it.
    if std::fs::read_to_string("/proc/slabinfo").is_ok() {
        let server_end = json["memory"]["kernel_server_per_conn_b"].as_f64().unwrap();
        assert!(
            server_end > 1000.0 && server_end < 20_000.0,
            "{server_end} B"
        );
        assert!(stdout.contains("its connection caches"), "{stdout}");
    }
}

/// A count this machine cannot hold is refused before the run, in one line that names
/// the limit and what would lift it: here the server's descriptors (a limit of 1,000
/// set for the test), against 5,000 connections.
#[test]
fn a_count_past_a_limit_is_refused_in_one_line() {
    let mut server = std::process::Command::new("bash")
        .args([
            "-c",
            "ulimit -n 1000 && exec \"$0\" serve epoll --proto http --addr 127.0.0.1:0",
            crate::bench_util::bin(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let pid = server.id().to_string();
    let out = crate::bench_util::bench(&[
        "hold",
        &addr,
        "--connections",
        "5000",
        "--duration",
        "2s",
        "--server-pid",
        &pid,
    ]);
    let _ = server.kill();
    let _ = server.wait();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot hold 5,000 connections: server descriptors allows"),
        "{stderr}"
    );
    assert!(stderr.contains("serve --workers"), "{stderr}");
}

/// A held connection the server ends between its requests (an idle timeout of 1 s,
/// requests 2 s apart) is counted as closed by the server, not as a reset or a timeout.
#[test]
fn an_idle_timeout_is_a_close_by_the_server() {
    let server = crate::util::ServerProc::start("epoll", "http", &["--timeout", "1"]);
    let json = bench_json(&[
        "hold",
        &url(&server),
        "--connections",
        "20",
        "--interval",
        "2s",
        "--duration",
        "3500ms",
    ]);
    assert!(errors(&json, "closed") >= 20, "{json:#}");
    assert_eq!(errors(&json, "reset"), 0);
    assert_eq!(errors(&json, "timeout"), 0);
}
