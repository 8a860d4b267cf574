//! The shell helpers of `scripts/`, sourced as the measuring scripts source them, with
//! `cargo` stubbed out and a fake `iomodels` where a server is started (the tests check
//! where the helpers look and what they start, not a release build or a measurement).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::util::process_exists;

/// The variables the helpers read, none of which a test inherits unless it sets it.
const HELPER_VARS: [&str; 7] = [
    "IOMODELS",
    "BUILD",
    "SERVER_NOFILE",
    "SERVE_LOG",
    "CARGO_TARGET_DIR",
    "MODELS",
    "OUT",
];

/// A fake `iomodels` for `start_serve`: `serve` prints its arguments, its descriptor
/// limit and `listening on 127.0.0.1:4242`, then waits to be stopped.
const FAKE_SERVE: &str = r#"#!/bin/sh
echo "args: $*"
echo "nofile: $(ulimit -n)"
echo "listening on 127.0.0.1:4242"
exec sleep 30
"#;

/// A bash with the helpers' variables cleared and `env` set, in the repository root.
fn bash(env: &[(&str, &str)]) -> Command {
    let mut bash = Command::new("bash");
    bash.current_dir(env!("CARGO_MANIFEST_DIR"));
    for var in HELPER_VARS {
        bash.env_remove(var);
    }
    bash.envs(env.iter().copied());
    bash
}

/// Runs `script` after sourcing `scripts/measure-lib.sh` with PORT=1 and `cargo`
/// stubbed out: the stub keeps its arguments in CARGO_ARGS.
fn with_lib(script: &str, env: &[(&str, &str)]) -> Output {
    let script =
        format!(r#"cargo() {{ CARGO_ARGS="$*"; }}; PORT=1; . scripts/measure-lib.sh; {script}"#);
    bash(env).args(["-c", &script]).output().expect("run bash")
}

/// What `prepare` sets IOMODELS to, and what it asked cargo (`none`: nothing).
fn prepared(env: &[(&str, &str)]) -> String {
    let out = with_lib(r#"prepare; echo "$IOMODELS|${CARGO_ARGS-none}""#, env);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn prepare_finds_the_binary_where_cargo_target_dir_puts_it() {
    assert_eq!(
        prepared(&[("CARGO_TARGET_DIR", "/tmp/elsewhere")]),
        "/tmp/elsewhere/release/iomodels|build --release --quiet"
    );
    assert_eq!(
        prepared(&[]),
        "target/release/iomodels|build --release --quiet"
    );
}

#[test]
fn prepare_runs_a_given_binary_without_building() {
    assert_eq!(
        prepared(&[("IOMODELS", "/opt/iomodels")]),
        "/opt/iomodels|none"
    );
}

#[test]
fn prepare_builds_the_debug_binary_when_asked() {
    assert_eq!(
        prepared(&[("BUILD", "debug")]),
        "target/debug/iomodels|build --quiet"
    );
    let out = with_lib("prepare", &[("BUILD", "fast")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn start_serve_waits_for_the_address_under_the_descriptor_limit() {
    let script = format!(
        r#"prepare
IOMODELS=$DIR/fake
cat >"$IOMODELS" <<'EOF'
{FAKE_SERVE}EOF
chmod +x "$IOMODELS"
SERVER_NOFILE=256 start_serve epoll --proto echo --addr 127.0.0.1:0 || exit 1
pid=$SERVER_PID
echo "addr: $SERVER_ADDR"
cat "$DIR/serve.log"
stop_servers
if kill -0 "$pid" 2>/dev/null; then echo "still running"; else echo "stopped"; fi"#
    );
    let out = with_lib(&script, &[]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    for line in [
        "addr: 127.0.0.1:4242",
        "args: serve epoll --proto echo --addr 127.0.0.1:0",
        "nofile: 256",
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line:?} in {stdout}");
    }
    assert_eq!(stdout.lines().last(), Some("stopped"), "{stdout}");
}

#[test]
fn start_serve_fails_at_once_when_the_server_exits_without_listening() {
    let script = r#"prepare
IOMODELS=$DIR/fake
printf '#!/bin/sh\necho "bind: address in use" >&2\nexit 2\n' >"$IOMODELS"
chmod +x "$IOMODELS"
if start_serve epoll --proto http --addr 127.0.0.1:1; then echo started; else echo "failed $?"; fi
cat "$DIR/serve.log""#;
    let started = Instant::now();
    let out = with_lib(script, &[]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited the full 10 s"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stdout.starts_with("failed 1\n"), "{stdout}");
    assert!(stdout.contains("bind: address in use"), "{stdout}");
    assert!(stderr.contains("did not say where it listens"), "{stderr}");
}

/// A scratch directory under the test target directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fake `iomodels` for `scripts/reliability.sh`: `serve` as [`FAKE_SERVE`]; `bench
/// abuse` notes the server pid it was given beside its `--json` file and writes there a
/// report of one hostile kind and a flood, which the server passed.
const FAKE_RELIABILITY: &str = r#"#!/bin/sh
case "$1" in
serve)
    echo "args: $*"
    echo "nofile: $(ulimit -n)"
    echo "listening on 127.0.0.1:4242"
    exec sleep 30
    ;;
bench)
    while [ $# -gt 0 ]; do
        case "$1" in
        --server-pid) pid=$2 ;;
        --json) json=$2 ;;
        esac
        shift
    done
    echo "$pid" >>"$(dirname "$json")/server-pids"
    cat >"$json" <<'JSON'
{"hostile":[{"kind":"slowloris","outcomes":{"closed":3}}],"flood":{"outcomes":{"refused":2}},
 "well_behaved":{"before":{"wrong":0,"p99_ms":1.0},"during":{"wrong":0,"p99_ms":2.0},
 "after":{"wrong":0,"p99_ms":1.0}},
 "server":{"rss_before_kb":1024,"rss_peak_kb":2048,"rss_after_kb":1024,"rss_recovered":true,
 "cpu_s":0.5,"processes_peak":1,"threads_peak":1},"failures":[]}
JSON
    ;;
esac
"#;

/// `scripts/reliability.sh` starts each server through `start_serve` (under its
/// descriptor limit, on the address it announced), hands bench its pid, and stops it.
/// Its tables need jq; where jq is missing only what it started and stopped is checked.
#[test]
fn reliability_starts_and_stops_every_server_through_the_helpers() {
    let scratch = Scratch::new("reliability-fake");
    let fake = scratch.0.join("iomodels");
    std::fs::write(&fake, FAKE_RELIABILITY).unwrap();
    let chmod = Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
    assert!(chmod.success());
    let out_dir = scratch.0.join("out");
    let out = bash(&[
        ("IOMODELS", fake.to_str().unwrap()),
        ("MODELS", "epoll"),
        ("OUT", out_dir.to_str().unwrap()),
        ("SERVER_NOFILE", "300"),
    ])
    .arg("scripts/reliability.sh")
    .output()
    .expect("run scripts/reliability.sh");

    let log = |name: &str| std::fs::read_to_string(out_dir.join(name)).unwrap_or_default();
    let http = log("http-epoll.serve.log");
    assert!(
        http.contains("args: serve epoll --proto http --addr 127.0.0.1:0 --timeout 2"),
        "{http}\n{out:?}"
    );
    assert!(http.contains("nofile: 300"), "{http}");
    let echo = log("echo-epoll.serve.log");
    assert!(
        echo.contains("args: serve epoll --proto echo --addr 127.0.0.1:0"),
        "{echo}"
    );
    let pids: Vec<u32> = log("server-pids")
        .lines()
        .map(|l| l.parse().expect("a server pid"))
        .collect();
    assert_eq!(pids.len(), 2, "{out:?}");
    assert!(
        pids.iter().all(|&pid| !process_exists(pid)),
        "{pids:?} left running"
    );

    let has_jq = Command::new("sh")
        .args(["-c", "command -v jq"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_jq {
        assert!(out.status.success(), "{out:?}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let row =
            "| epoll | closed 3 | refused 2 | 0 | 1 / 2 / 1 | 1 / 2 / 1 | 0.5 | 1 / 1 | pass |";
        assert_eq!(stdout.matches(row).count(), 2, "{stdout}");
    }
}
