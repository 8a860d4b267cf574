//! `bench abuse` against models of every family (readiness, threads, processes, async,
//! coroutines), and against wrong servers. Runs are short and the assertions are about
//! what must hold on any machine, however loaded: no wrong answer, the server alive and
//! serving afterwards, every kind tried and every connection accounted for; never about
//! latency or exact counts.

use std::process::Output;

use serde_json::Value;

use crate::bench_util::{bench, url, wrong_server, Wrong};
use crate::util::ServerProc;

/// `bench abuse` briefly, with a small flood; returns its output and JSON.
fn abuse(target: &str, proto: &str, server_pid: Option<u32>) -> (Output, Value) {
    abuse_with(target, proto, server_pid, &["--timeout", "10s"])
}

/// [`abuse`] with other flags.
fn abuse_with(
    target: &str,
    proto: &str,
    server_pid: Option<u32>,
    extra: &[&str],
) -> (Output, Value) {
    let path = crate::util::scratch().join(format!(
        "iomodels-abuse-{}-{}.json",
        std::process::id(),
        target.replace(['/', ':', '.'], "_")
    ));
    let pid = server_pid.map(|p| p.to_string());
    let mut args = vec![
        "abuse",
        target,
        "--proto",
        proto,
        "--duration",
        "2s",
        "--per-kind",
        "2",
        "--flood",
        "300",
        "--json",
        path.to_str().unwrap(),
    ];
    if let Some(pid) = &pid {
        args.extend(["--server-pid", pid]);
    }
    args.extend(extra);
    let out = bench(&args);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no JSON from bench abuse: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let _ = std::fs::remove_file(&path);
    let json: Value = serde_json::from_str(&text).unwrap();
    crate::util::validate_json("abuse.schema.json", &json);
    (out, json)
}

/// The model survives the abuse, wrongs nobody and serves afterwards.
fn survives(model: &str, proto: &str) {
    let server = ServerProc::start(model, proto, &["--timeout", "1"]);
    let target = match proto {
        "http" => url(&server),
        _ => server.addr.to_string(),
    };
    let (out, json) = abuse(&target, proto, Some(server.pid()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{model}: {stdout}\n{json:#}");
    assert_eq!(json["failures"], Value::Array(vec![]), "{model}");
    assert_eq!(json["server"]["alive"], true);
    let wb = &json["well_behaved"];
    for phase in ["before", "during", "after"] {
        assert_eq!(wb[phase]["wrong"], 0, "{model} {phase}");
    }
    assert!(wb["after"]["ok"].as_u64().unwrap() > 0, "{model}: {wb:#}");
    assert!(json["server"]["rss_peak_kb"].as_u64().unwrap() > 0);
    // Reported whichever way it goes; the run passed above either way.
    assert!(json["server"]["rss_recovered"].is_boolean(), "{model}");
    let kinds = json["hostile"].as_array().unwrap();
    assert_eq!(kinds.len(), if proto == "http" { 7 } else { 5 });
    for kind in kinds.iter().chain([&json["flood"]]) {
        let connections = kind["connections"].as_u64().unwrap();
        let accounted: u64 = kind["outcomes"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert!(connections > 0, "{model}: {kind:#}");
        assert_eq!(accounted, connections, "{model}: {kind:#}");
    }
}

#[test]
fn epoll_http() {
    survives("epoll", "http");
}

#[test]
fn threads_http() {
    survives("threads", "http");
}

#[test]
fn prefork_http() {
    survives("prefork", "http");
}

#[test]
fn epoll_prefork_http() {
    survives("epoll-prefork", "http");
}

#[test]
fn async_echo() {
    survives("async", "echo");
}

#[test]
fn coroutines_echo() {
    survives("coroutines", "echo");
}

/// A readiness model takes every connection at once, so its answers to garbage and to
/// an oversized head are seen whatever the load: 400 and 431.
#[test]
fn malformed_requests_are_answered_400_and_431() {
    let server = ServerProc::start("epoll", "http", &[]);
    let (_, json) = abuse(&url(&server), "http", None);
    let outcomes = |name: &str| {
        json["hostile"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kind"] == name)
            .unwrap()["outcomes"]
            .clone()
    };
    assert!(outcomes("garbage")["answered 400"].as_u64().unwrap() > 0);
    assert!(
        outcomes("oversized-header")["answered 431"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(
        outcomes("reset-mid-pipeline")["reset by client"]
            .as_u64()
            .unwrap()
            > 0
    );
}

/// A server that answers wrongly fails the run, with the reason.
fn wrong_answers_fail_the_run(kind: Wrong, proto: &str) {
    let addr = wrong_server(kind);
    let target = match proto {
        "http" => format!("http://{addr}/"),
        _ => addr.to_string(),
    };
    let (out, json) = abuse(&target, proto, None);
    assert!(!out.status.success(), "{kind:?} passed");
    // Without --server-pid there is no memory to judge.
    assert_eq!(json["server"]["rss_recovered"], Value::Null);
    let failure = json["failures"][0].as_str().unwrap();
    assert!(failure.contains("wrong answers"), "{failure}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong answers"));
}

#[test]
fn corrupted_echoes_fail_the_run() {
    wrong_answers_fail_the_run(Wrong::CorruptEcho, "echo");
}

#[test]
fn http_500s_fail_the_run() {
    wrong_answers_fail_the_run(Wrong::Http500, "http");
}

/// A server that closes every connection at once: every hostile kind that waits, and
/// the flood, must see the closes (poll(2) without reading, for the flood and the
/// never-reading clients). Not all of them: beyond the listen backlog a connection may
/// wait unaccepted, and be rightly reported as kept.
#[test]
fn closes_are_seen_by_every_kind() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    let (out, json) = abuse_with(&addr, "echo", None, &["--timeout", "1s"]);
    assert!(
        !out.status.success(),
        "nothing was served, yet the run passed"
    );
    let kinds = json["hostile"].as_array().unwrap();
    assert_eq!(kinds.len(), 5, "every echo kind: {json:#}");
    for kind in kinds.iter().chain([&json["flood"]]) {
        if kind["kind"] == "reset-mid-pipeline" {
            continue; // the client ends those itself
        }
        let closed = kind["outcomes"]["closed"].as_u64().unwrap_or(0);
        let connections = kind["connections"].as_u64().unwrap();
        assert!(closed * 2 > connections, "{kind:#}");
    }
}

/// A target that refuses connections, or a bad flag, is a usage error (exit code 2),
/// reported before any abuse starts.
#[test]
fn usage_errors_exit_2() {
    let refused = bench(&["abuse", "127.0.0.1:1", "--proto", "echo"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cannot connect"));
    let short = bench(&["abuse", "127.0.0.1:1", "--duration", "100ms"]);
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("--duration"));
}
