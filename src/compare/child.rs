//! The processes a comparison starts: `iomodels serve` (the server under test, here or
//! on the server host, through [`crate::hosts`]) and `iomodels bench` (one
//! measurement), both from this very binary (or its twin there), so fork-based models
//! fork and the client's cost is measured apart from ours.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::hosts::process::{collect_lines, describe};
use crate::hosts::{Host, HostProcess, Hosts};
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

/// A running `iomodels serve`, on this machine or on the comparison's server host.
pub struct ServerChild {
    /// Boxed: a slot holds it in an enum beside a one-line reason.
    process: Box<HostProcess>,
    /// Where clients reach it.
    pub addr: SocketAddr,
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
    /// Starts `iomodels serve MODEL --proto PROTO --addr ADDR FLAGS...` on `host`: on
    /// loopback, or on every address when clients reach it at `ip` (from another
    /// host); here it stops when compare exits (`--parent`), elsewhere its wrapper
    /// stops it when compare's ssh session ends.
    pub fn start(
        hosts: &Hosts,
        host: &Host,
        ip: Option<IpAddr>,
        model: &str,
        proto: &str,
        flags: &[String],
    ) -> Result<ServerChild> {
        let bind = if ip.is_some() {
            "0.0.0.0:0"
        } else {
            "127.0.0.1:0"
        };
        let mut args: Vec<String> = ["serve", model, "--proto", proto, "--addr", bind]
            .map(String::from)
            .to_vec();
        if host.is_local() {
            args.extend(["--parent".into(), std::process::id().to_string()]);
        }
        args.extend(flags.iter().cloned());
        let mut process = Box::new(hosts.spawn(host, &args)?);
        let line = process.stdout_line(START_TIMEOUT).unwrap_or_default();
        let port = match line.trim().strip_prefix("listening on ").map(str::parse) {
            Some(Ok(SocketAddr::V4(addr))) => addr.port(),
            Some(Ok(SocketAddr::V6(addr))) => addr.port(),
            _ => {
                let why = process.last_words();
                process.kill();
                bail!("did not start: {why}")
            }
        };
        let ip = ip.unwrap_or(IpAddr::from([127, 0, 0, 1]));
        Ok(ServerChild {
            process,
            addr: SocketAddr::new(ip, port),
        })
    }

    /// Its pid on its host.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// `None` while running; how it ended otherwise.
    pub fn exited(&mut self) -> Option<String> {
        self.process.try_wait().map(describe)
    }

    /// The lines it printed on stderr since the last call: the limits it hit (FD_SETSIZE,
    /// descriptors, processes), each warning at most once a second.
    pub fn new_lines(&mut self) -> Vec<String> {
        self.process.new_lines()
    }

    /// Why it died: the last line it printed.
    pub fn last_words(&mut self) -> String {
        self.process.last_words()
    }

    /// SIGTERM, wait, and check that no process of its tree is left (on another host,
    /// its wrapper checks and says).
    pub fn stop(mut self) -> Stopped {
        let remote = self.process.is_remote();
        let family = if remote {
            Vec::new()
        } else {
            ProcessTree::new(self.pid())
                .and_then(|tree| tree.pids())
                .unwrap_or_default()
        };
        let sent = Instant::now();
        self.process.signal(Signal::SIGTERM);
        let status = loop {
            if let Some(status) = self.exited() {
                break status;
            }
            if sent.elapsed() > STOP_TIMEOUT {
                self.process.kill();
                break format!("did not stop within {} s, killed", STOP_TIMEOUT.as_secs());
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let took = sent.elapsed();
        if remote {
            let left_behind = self.process.left_behind();
            return Stopped {
                took,
                status,
                left_behind,
            };
        }
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
