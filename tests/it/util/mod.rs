//! Shared test helpers: a server child process started on port 0, clients with
//! timeouts (a test fails, it never hangs), an HTTP response reader, and a private
//! PostgreSQL cluster (`pg`).

#[macro_use]
pub mod models;
pub mod http;
pub mod pg;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Where tests write their files: cargo's directory for them under target/, which no
/// other user can write in. In /tmp a name made from the test's pid could be taken
/// first, or be a symlink planted to make the test overwrite another file.
pub fn scratch() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
}

/// How long any single client operation may wait before the test fails.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// An `iomodels serve` child process, killed (with its children) if the test ends early.
pub struct ServerProc {
    child: Child,
    pub addr: SocketAddr,
}

impl ServerProc {
    /// Starts `iomodels serve MODEL --proto PROTO --addr 127.0.0.1:0 EXTRA...` and waits
    /// for its `listening on` line.
    pub fn start(model: &str, proto: &str, extra: &[&str]) -> ServerProc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_iomodels"))
            .args(["serve", model, "--proto", proto, "--addr", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn iomodels serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("{model}: no `listening on` line within 15 s");
            }
        };
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{model}: unexpected first line {line:?}"))
            .parse()
            .expect("an address");
        ServerProc { child, addr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the exit; returns the status and how long it took.
    pub fn terminate(&mut self) -> (ExitStatus, Duration) {
        let sent = Instant::now();
        kill(Pid::from_raw(self.pid() as i32), Signal::SIGTERM).expect("SIGTERM");
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status, sent.elapsed());
            }
            assert!(
                sent.elapsed() < Duration::from_secs(10),
                "server ignored SIGTERM for 10 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A connected client with timeouts.
    pub fn connect(&self) -> TcpStream {
        connect(self.addr)
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        // Forked children die with their parent (PR_SET_PDEATHSIG).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects with read and write timeouts, so a stuck server fails the test.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// Reads until EOF; true if the peer closed (an error other than a timeout also counts:
/// a reset is a close too).
pub fn reads_to_eof(stream: &mut TcpStream) -> bool {
    let mut sink = [0u8; 4096];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// The pids of every descendant of `pid`, from /proc.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parents = vec![pid];
    let mut found = Vec::new();
    let table: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let child: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
            let after_name = &stat[stat.rfind(')')? + 2..];
            let ppid: u32 = after_name.split(' ').nth(1)?.parse().ok()?;
            Some((child, ppid))
        })
        .collect();
    while let Some(parent) = parents.pop() {
        for &(child, ppid) in &table {
            if ppid == parent && !found.contains(&child) {
                found.push(child);
                parents.push(child);
            }
        }
    }
    found
}

/// The live processes whose process group is `pgid`, found in /proc (zombies, dead and
/// waiting for their new parent to reap them, are not counted).
pub fn process_group(pgid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // After the name: state, ppid, pgrp (proc(5) fields 3, 4, 5).
            let after_name = &stat[stat.rfind(')')? + 2..];
            let mut fields = after_name.split(' ');
            let state = fields.next()?;
            let pgrp: u32 = fields.nth(1)?.parse().ok()?;
            (pgrp == pgid && state != "Z").then_some(pid)
        })
        .collect()
}

/// Does a process with this pid exist (zombies included)?
pub fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// `len` bytes of a pattern that makes a lost, repeated or reordered block visible.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Fails the test if `json` does not follow `schema/NAME`, the checked-in schema.
pub fn validate_json(name: &str, json: &serde_json::Value) {
    let path = format!("{}/schema/{name}", env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    let errors: Vec<String> = validator.iter_errors(json).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{name} violations: {errors:?}\n{json:#}");
}
