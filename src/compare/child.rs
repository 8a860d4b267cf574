//! The processes a comparison starts: `iomodels serve` (the server under test) and
//! `iomodels bench` (one measurement), both from this very binary, so fork-based
//! models fork and the client's cost is measured apart from ours.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::results::run::BenchRun;
use crate::sample::ProcessTree;

/// How long a server may take to print `listening on`.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to stop on SIGTERM before it is killed (the contract is
/// one second; the rest is slack for a loaded machine).
const STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// This executable, to run `serve` and `bench` from.
pub fn exe() -> Result<PathBuf> {
    std::env::current_exe().context("cannot find the iomodels executable")
}

/// A running `iomodels serve`.
pub struct ServerChild {
    child: Child,
    pub addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
    /// Everything it printed on stderr so far.
    said: Vec<String>,
}

/// How a server's stop went.
#[derive(Debug, Clone)]
pub struct Stopped {
    pub took: Duration,
    /// Exit code, or the signal that ended it.
    pub status: String,
    /// Processes of its tree still alive after it exited (then killed by us).
    pub left_behind: Vec<u32>,
}

impl ServerChild {
    /// Starts `iomodels serve MODEL --proto PROTO --addr 127.0.0.1:0 FLAGS...`.
    pub fn start(model: &str, proto: &str, flags: &[String]) -> Result<ServerChild> {
        let mut child = Command::new(exe()?)
            .args(["serve", model, "--proto", proto, "--addr", "127.0.0.1:0"])
            .args(["--parent".to_string(), std::process::id().to_string()])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start iomodels serve")?;
        let stderr = collect_lines(child.stderr.take().expect("piped stderr"));
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut server = ServerChild {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr,
            said: Vec::new(),
        };
        let line = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
        match line.trim().strip_prefix("listening on ").map(str::parse) {
            Some(Ok(addr)) => {
                server.addr = addr;
                Ok(server)
            }
            _ => {
                let why = server.last_words();
                let _ = server.child.kill();
                let _ = server.child.wait();
                bail!("did not start: {why}")
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `None` while running; how it ended otherwise.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(describe(status)),
            Ok(None) => None,
            Err(err) => Some(err.to_string()),
        }
    }

    /// The lines it printed on stderr since the last call: the limits it hit (FD_SETSIZE,
    /// descriptors, processes), each warning at most once a second.
    pub fn new_lines(&mut self) -> Vec<String> {
        let new: Vec<String> = self.stderr.try_iter().collect();
        self.said.extend(new.iter().cloned());
        new
    }

    /// Why it died: the last line it printed.
    pub fn last_words(&mut self) -> String {
        self.new_lines();
        self.said
            .last()
            .cloned()
            .unwrap_or_else(|| "no message on stderr".into())
    }

    /// SIGTERM, wait, and check that no process of its tree is left.
    pub fn stop(mut self) -> Stopped {
        let family = ProcessTree::new(self.pid())
            .and_then(|tree| tree.pids())
            .unwrap_or_default();
        let sent = Instant::now();
        let _ = kill(Pid::from_raw(self.pid() as i32), Signal::SIGTERM);
        let status = loop {
            if let Some(status) = self.exited() {
                break status;
            }
            if sent.elapsed() > STOP_TIMEOUT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break format!("did not stop within {} s, killed", STOP_TIMEOUT.as_secs());
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let took = sent.elapsed();
        std::thread::sleep(Duration::from_millis(50));
        let left_behind: Vec<u32> = family
            .into_iter()
            .filter(|&pid| pid != self.pid() && Path::new(&format!("/proc/{pid}")).exists())
            .collect();
        for &pid in &left_behind {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        Stopped {
            took,
            status,
            left_behind,
        }
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!(
            "killed by {}",
            Signal::try_from(signal).map_or_else(|_| format!("signal {signal}"), |s| s.to_string())
        ),
        _ => status.to_string(),
    }
}

/// Forwards a child's stderr lines to a channel, keeping the pipe drained.
fn collect_lines(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A running `iomodels bench`, writing its JSON to a file.
pub struct BenchChild {
    child: Child,
    json: PathBuf,
    stderr: mpsc::Receiver<String>,
    deadline: Instant,
}

impl BenchChild {
    /// Starts `iomodels bench ARGS... --json FILE [--server-pid PID]`; it is killed if
    /// it runs past `limit`.
    pub fn start(
        args: &[String],
        server_pid: Option<u32>,
        json: PathBuf,
        limit: Duration,
    ) -> Result<BenchChild> {
        let _ = std::fs::remove_file(&json);
        let mut cmd = Command::new(exe()?);
        cmd.arg("bench").args(args).arg("--json").arg(&json);
        if let Some(pid) = server_pid {
            cmd.arg("--server-pid").arg(pid.to_string());
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start iomodels bench")?;
        let stderr = collect_lines(child.stderr.take().expect("piped stderr"));
        Ok(BenchChild {
            child,
            json,
            stderr,
            deadline: Instant::now() + limit,
        })
    }

    /// Ends it early (SIGTERM: bench stops its clients and still writes its result),
    /// and reads its result.
    pub fn stop(self) -> Result<BenchRun> {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        self.finish()
    }

    /// Waits for it and reads its result.
    pub fn finish(mut self) -> Result<BenchRun> {
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() > self.deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!("the load generator hung and was killed");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        // A run in which no request succeeded exits 1 but still writes its JSON: its
        // figures (nothing served, clients starved) are the finding, not an error.
        let written = std::fs::read_to_string(&self.json);
        if !status.success() && written.is_err() {
            let lines: Vec<String> = self.stderr.try_iter().collect();
            let why = lines.last().cloned().unwrap_or_else(|| describe(status));
            return Err(anyhow!("{}", why.trim_start_matches("iomodels: ")));
        }
        let text = written.context("the load generator wrote no JSON")?;
        let _ = std::fs::remove_file(&self.json);
        serde_json::from_str(&text).context("the load generator's JSON does not parse")
    }
}

impl Drop for BenchChild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
