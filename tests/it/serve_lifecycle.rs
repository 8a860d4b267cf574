//! Starting and stopping: SIGTERM ends every model within a second, exit code 0, with
//! no process left behind, even while clients are connected; a forking server killed
//! outright leaves no child either; a server started at a low descriptor limit either
//! refuses in one line or starts without a word; a server given `--parent` stops when its
//! parent exits.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::util::http::{get, read_responses};
use crate::util::{descendants, process_exists, process_group, ServerProc};

per_model!([sigterm_stops_within_a_second_leaving_no_process]);

fn sigterm_stops_within_a_second_leaving_no_process(model: &str) {
    let mut server = ServerProc::start(model, "http", &[]);
    // One client mid-conversation, one connected but silent.
    let mut busy = server.connect();
    busy.write_all(get("/").as_bytes()).unwrap();
    read_responses(&mut busy, &mut Vec::new(), &[false]);
    let _silent = server.connect();
    std::thread::sleep(Duration::from_millis(100));
    let family = descendants(server.pid());
    if matches!(model, "fork" | "prefork" | "epoll-prefork") {
        // Else the check that none is left behind would hold for want of any.
        assert!(!family.is_empty(), "{model}: no child process found");
    }

    let (status, took) = server.terminate();
    assert!(status.success(), "{model}: exit status {status:?}");
    assert!(
        took <= Duration::from_secs(1),
        "{model}: took {took:?} to stop"
    );
    // Reaped children vanish from /proc; give the kernel a moment to tear them down.
    let left: Vec<u32> = (0..50)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(10));
            family
                .iter()
                .copied()
                .filter(|&pid| process_exists(pid))
                .collect::<Vec<_>>()
        })
        .find(Vec::is_empty)
        .unwrap_or_else(|| {
            family
                .iter()
                .copied()
                .filter(|&pid| process_exists(pid))
                .collect()
        });
    assert!(left.is_empty(), "{model}: processes left behind: {left:?}");
}

/// `prefork` killed outright (SIGKILL, no chance to stop its workers) just as it forks
/// them: every worker dies of its parent's death. The server runs in a process group
/// of its own, so its workers are found even once they have a new parent.
///
/// A worker forked an instant before the kill used to survive now and then (one was
/// found after a CI run): its parent-death signal arrived before it had reset the stop
/// handler it inherited, which set a flag no worker reads. `sys::process::fork` now
/// blocks the stop signals until the child is ready for them. That window is a few
/// microseconds, so this test catches a regression only on a slow or loaded machine;
/// it checks the rest of the property every time.
#[test]
fn a_forking_server_killed_while_forking_leaves_no_worker() {
    for round in 0..10 {
        let mut server = Command::new(env!("CARGO_BIN_EXE_iomodels"))
            .args([
                "serve",
                "prefork",
                "--proto",
                "http",
                "--addr",
                "127.0.0.1:0",
            ])
            .args(["--workers", "64"])
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn iomodels serve prefork");
        let group = server.id();
        let mut line = String::new();
        BufReader::new(server.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("listening on"), "{line:?}");
        // It forks its workers right after that line: kill it in the middle of it.
        std::thread::sleep(Duration::from_micros(200 * round));
        server.kill().unwrap();
        server.wait().unwrap();
        let give_up = Instant::now() + Duration::from_secs(3);
        let left = loop {
            let left = process_group(group);
            if left.is_empty() || Instant::now() > give_up {
                break left;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        for &pid in &left {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        assert!(
            left.is_empty(),
            "round {round}: workers left behind: {left:?}"
        );
    }
}

/// `coroutines` under descriptor limits from too low for may's scheduler (an epoll
/// instance and an eventfd per worker) to ample: where the scheduler cannot start, the
/// server exits non-zero with one clear line, not a panic; where it starts, it says
/// nothing while no client comes, even with no descriptor to spare (accept(2) fails
/// with EMFILE then, though no connection waits).
#[test]
fn coroutines_at_a_low_descriptor_limit() {
    let (mut refused, mut started) = (0, 0);
    for limit in 4..=10 {
        let mut server = Command::new("bash")
            .args([
                "-c",
                &format!("ulimit -n {limit} && exec \"$0\" serve coroutines --addr 127.0.0.1:0"),
                env!("CARGO_BIN_EXE_iomodels"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn iomodels serve coroutines");
        std::thread::sleep(Duration::from_millis(400));
        let running = server.try_wait().unwrap().is_none();
        if running {
            kill(Pid::from_raw(server.id() as i32), Signal::SIGTERM).unwrap();
        }
        let output = server.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if running {
            started += 1;
            assert!(
                output.status.success(),
                "limit {limit}: {:?}",
                output.status
            );
            assert!(stderr.is_empty(), "limit {limit}, no client: {stderr}");
        } else {
            refused += 1;
            assert!(!output.status.success(), "limit {limit}: exited 0");
            assert!(
                stderr.starts_with("iomodels: ") && stderr.lines().count() == 1,
                "limit {limit}: not one clear line: {stderr}"
            );
        }
    }
    assert!(
        refused > 0 && started > 0,
        "the limits tried no longer cover both cases: {refused} refused, {started} started"
    );
}

/// `serve --parent PID` (what `compare` passes) stops when its parent exits, so a
/// comparison that is killed leaves no server behind.
#[test]
fn a_server_stops_when_its_parent_exits() {
    // sh starts the server in the background with sh's own pid as --parent, prints the
    // server's pid and exits after a moment: the server's parent is gone.
    let script = format!(
        "{} serve epoll --addr 127.0.0.1:0 --parent $$ >/dev/null 2>&1 & echo $!; sleep 0.5",
        env!("CARGO_BIN_EXE_iomodels")
    );
    let output = Command::new("sh").arg("-c").arg(script).output().unwrap();
    let pid: u32 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while process_exists(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = process_exists(pid);
    if left {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
    assert!(!left, "the server {pid} outlived its parent");
}

#[test]
fn a_parent_that_is_not_the_parent_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_iomodels"))
        .args(["serve", "epoll", "--addr", "127.0.0.1:0", "--parent", "1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("--parent 1") && err.lines().count() == 1,
        "{err}"
    );
}

/// `epoll-prefork`'s master replaces a worker that dies, on the same listener: with one
/// of its two workers killed outright, it has two workers again within a second, and
/// every one of many new connections (spread over both listeners by the kernel) is
/// answered.
#[test]
fn epoll_prefork_replaces_a_dead_worker() {
    let mut server = ServerProc::start("epoll-prefork", "http", &["--workers", "2"]);
    let workers = |server: &ServerProc| descendants(server.pid());
    let give_up = Instant::now() + Duration::from_secs(5);
    while workers(&server).len() < 2 {
        assert!(Instant::now() < give_up, "fewer than 2 workers started");
        std::thread::sleep(Duration::from_millis(10));
    }
    let before = workers(&server);
    kill(Pid::from_raw(before[0] as i32), Signal::SIGKILL).unwrap();
    let give_up = Instant::now() + Duration::from_secs(2);
    let after = loop {
        let now = workers(&server);
        if now.len() == 2 && !now.contains(&before[0]) {
            break now;
        }
        assert!(
            Instant::now() < give_up,
            "not replaced: {before:?} -> {now:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(after.contains(&before[1]), "the live worker was kept");
    for _ in 0..32 {
        let mut client = server.connect();
        client.write_all(get("/").as_bytes()).unwrap();
        read_responses(&mut client, &mut Vec::new(), &[false]);
    }
    let (status, _) = server.terminate();
    assert!(status.success());
}

/// `prefork` and `epoll-prefork` say on stderr which worker died (its index and pid),
/// of what, and the process that replaced it; before, a dead worker left no trace but
/// its replacement.
#[test]
fn a_dead_worker_is_named_on_stderr_with_its_replacement() {
    for model in ["prefork", "epoll-prefork"] {
        let mut server = KilledOnDrop(
            Command::new(env!("CARGO_BIN_EXE_iomodels"))
                .args(["serve", model, "--proto", "http", "--addr", "127.0.0.1:0"])
                .args(["--workers", "2"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn iomodels serve"),
        );
        let pid = server.0.id();
        let mut line = String::new();
        BufReader::new(server.0.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("listening on"), "{model}: {line:?}");
        let stderr = lines_of(server.0.stderr.take().unwrap());
        let workers = wait_for_workers(pid, 2, &[]);
        kill(Pid::from_raw(workers[0] as i32), Signal::SIGKILL).unwrap();
        let replaced = wait_for_workers(pid, 2, &workers[..1]);
        let new = replaced.iter().find(|w| !workers.contains(w)).unwrap();
        let said = stderr
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("{model}: nothing said of worker {}", workers[0]));
        let expected = format!(
            "(pid {}) killed by SIGKILL; replaced by pid {new}",
            workers[0]
        );
        assert!(
            said.starts_with(&format!("iomodels: {model}: worker ")) && said.ends_with(&expected),
            "{model}: {said:?}, expected ...{expected:?}"
        );
        kill(Pid::from_raw(pid as i32), Signal::SIGTERM).unwrap();
        assert!(server.0.wait().unwrap().success(), "{model}");
        let rest: Vec<String> = stderr.try_iter().collect();
        assert!(rest.is_empty(), "{model}: a stop replaces nobody: {rest:?}");
    }
}

/// A child process killed when the test ends, even by a failed assertion.
struct KilledOnDrop(std::process::Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A stream's lines, as they come.
fn lines_of(stream: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits up to 5 s for `pid` to have `count` children, none of them in `gone`.
fn wait_for_workers(pid: u32, count: usize, gone: &[u32]) -> Vec<u32> {
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        let now = descendants(pid);
        if now.len() == count && !now.iter().any(|w| gone.contains(w)) {
            return now;
        }
        assert!(Instant::now() < give_up, "{pid}: workers {now:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
