//! Helpers for the `bench` tests: our own server (the shared `util::ServerProc`), `iomodels bench`
//! run with a hard time bound, its JSON validated against the checked-in schema, and
//! deliberately wrong servers on std threads.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::ServerProc;

/// The longest any single `iomodels bench` run may take before the test fails.
const RUN_BOUND: Duration = Duration::from_secs(60);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_iomodels")
}

/// Our server, as the serve tests start it: `iomodels serve MODEL --proto PROTO` on port 0.
pub fn server(model: &str, proto: &str) -> ServerProc {
    ServerProc::start(model, proto, &[])
}

/// The URL of an HTTP server.
pub fn url(server: &ServerProc) -> String {
    format!("http://{}/", server.addr)
}

/// Runs `iomodels bench ARGS`, killing it (and failing) if it outlives [`RUN_BOUND`].
pub fn bench(args: &[&str]) -> Output {
    run_bounded(Command::new(bin()).arg("bench").args(args))
}

/// Runs `command` with its output captured, killing it (and failing) if it outlives
/// [`RUN_BOUND`].
pub fn run_bounded(command: &mut Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the command");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > RUN_BOUND {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} hung for {RUN_BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn temp_json() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    crate::util::scratch().join(format!(
        "iomodels-bench-{}-{}.json",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Runs `iomodels bench ARGS --json FILE`, expects success, validates the JSON against
/// `schema/bench.schema.json` and returns it.
pub fn bench_json(args: &[&str]) -> Value {
    let (out, json) = bench_with_json(args);
    assert!(
        out.status.success(),
        "bench {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json
}

/// Runs `iomodels bench ARGS --json FILE` where no request can succeed: expects exit
/// code 1 with one line on stderr saying why, and still a valid JSON document. Returns
/// the JSON, stdout and that line.
pub fn bench_json_failing(args: &[&str]) -> (Value, String, String) {
    let (out, json) = bench_with_json(args);
    let stderr = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
    assert_eq!(out.status.code(), Some(1), "bench {args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("succeeded"), "{stderr}");
    (json, String::from_utf8_lossy(&out.stdout).into(), stderr)
}

/// Runs `iomodels bench ARGS --json FILE`; returns its output and the JSON, validated
/// against the checked-in schema.
pub fn bench_with_json(args: &[&str]) -> (Output, Value) {
    let path = temp_json();
    let mut all: Vec<&str> = args.to_vec();
    let path_text = path.to_str().unwrap().to_string();
    all.extend(["--json", &path_text]);
    let out = bench(&all);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "bench {args:?} wrote no JSON ({err}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let _ = std::fs::remove_file(&path);
    let json: Value = serde_json::from_str(&text).unwrap();
    validate(&json);
    (out, json)
}

/// Fails the test if `json` does not follow the checked-in bench schema.
pub fn validate(json: &Value) {
    crate::util::validate_json("bench.schema.json", json);
}

/// An error count from the JSON.
pub fn errors(json: &Value, kind: &str) -> u64 {
    json["errors"][kind].as_u64().unwrap()
}

pub fn count(json: &Value, key: &str) -> u64 {
    json[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {json:#}"))
}

/// How a deliberately wrong server misbehaves.
#[derive(Debug, Clone, Copy)]
pub enum Wrong {
    /// Echoes, with one byte of every reply changed.
    CorruptEcho,
    /// Reads a little, then resets the connection (SO_LINGER 0).
    Reset,
    /// Reads and never answers.
    Stall,
    /// Answers every HTTP request `500 Internal Server Error`, keep-alive.
    Http500,
    /// Answers HTTP requests `200`, `301`, `404`, `200`, ... in turn, keep-alive.
    Http200Then301Then404,
}

/// Starts a wrong server on 127.0.0.1 (a thread per connection; they live as long as
/// the test binary) and returns its address.
pub fn wrong_server(kind: Wrong) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || serve_wrong(kind, stream));
        }
    });
    addr
}

fn serve_wrong(kind: Wrong, mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    match kind {
        Wrong::CorruptEcho => loop {
            let Ok(n) = stream.read(&mut buf) else { return };
            if n == 0 {
                return;
            }
            buf[n / 2] ^= 0x20;
            if stream.write_all(&buf[..n]).is_err() {
                return;
            }
        },
        Wrong::Reset => {
            let _ = stream.read(&mut buf);
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        }
        Wrong::Stall => {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
        }
        Wrong::Http500 => answer_in_turn(stream, &[500]),
        Wrong::Http200Then301Then404 => answer_in_turn(stream, &[200, 301, 404]),
    }
}

/// Answers every HTTP request on `stream` with the next of `statuses`, in turn,
/// keep-alive.
fn answer_in_turn(mut stream: TcpStream, statuses: &[u16]) {
    let mut buf = [0u8; 4096];
    let mut pending = Vec::new();
    let mut turn = statuses.iter().cycle();
    loop {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            pending.drain(..end + 4);
            let status = turn.next().expect("a status");
            let reply = format!("HTTP/1.1 {status} Whatever\r\nContent-Length: 5\r\n\r\noops!");
            if stream.write_all(reply.as_bytes()).is_err() {
                return;
            }
        }
    }
}
