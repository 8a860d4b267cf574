//! [`Master`]: a host's ssh master connection, the one every other ssh of the run goes
//! through. It runs as a child of this process (`ssh -N`, ControlPersist off), in a
//! process group of its own so that a Ctrl-C meant for `compare` reaches compare alone,
//! and the kernel sends it SIGTERM when this process dies (PR_SET_PDEATHSIG): it lives
//! exactly as long as the run, and a run killed outright leaves no master behind, as a
//! backgrounded master (`-f`, ControlPersist) would for as long as it persisted.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::fault::{classify, Fault};
use super::process::collect_lines;
use super::ssh::Ssh;
use super::SshAddr;
use crate::sys::process::stop_with_this_process;

/// How often to ask whether the master accepts sessions yet.
const CHECK_EVERY: Duration = Duration::from_millis(100);
/// How long a master may take to exit once asked.
const EXIT: Duration = Duration::from_secs(3);

/// A master connection, closed when dropped.
#[derive(Debug)]
pub struct Master {
    child: Child,
    /// `ssh -O exit`: asks the master to close.
    exit: Command,
}

impl Master {
    /// Starts the master connection to `addr` and waits until it accepts sessions, at
    /// most `wait`; the fault its stderr shows if it exits first.
    ///
    /// Call it from the thread that lives as long as the run: the kernel stops the
    /// master when the thread that started it ends ([`stop_with_this_process`]).
    pub fn start(ssh: &Ssh, addr: &SshAddr, wait: Duration) -> Result<Master, Fault> {
        let mut cmd = ssh.master(addr);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0);
        stop_with_this_process(&mut cmd);
        let mut child = cmd.spawn().map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => Fault::Failed("ssh is not installed here".into()),
            _ => Fault::Failed(format!("cannot run ssh: {err}")),
        })?;
        let stderr = collect_lines(child.stderr.take().expect("piped stderr"));
        let mut master = Master {
            child,
            exit: ssh.exit(addr),
        };
        let deadline = Instant::now() + wait;
        loop {
            if let Ok(Some(status)) = master.child.try_wait() {
                return Err(exited(status.code(), &stderr));
            }
            let mut check = ssh.check(addr);
            let up = check
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if up.is_ok_and(|s| s.success()) {
                return Ok(master);
            }
            if Instant::now() >= deadline {
                return Err(Fault::Unreachable(format!(
                    "no connection within {} s",
                    wait.as_secs()
                )));
            }
            std::thread::sleep(CHECK_EVERY);
        }
    }
}

/// The fault of a master that exited with `code` before it was up.
fn exited(code: Option<i32>, stderr: &mpsc::Receiver<String>) -> Fault {
    // Its stderr ends with it: what it said is all there within a moment.
    let mut said = Vec::new();
    while let Ok(line) = stderr.recv_timeout(Duration::from_secs(1)) {
        said.push(line);
    }
    match classify(code, &said.join("\n"), "ssh") {
        Some(Fault::Missing(_)) => Fault::Failed("ssh is not installed here".into()),
        Some(fault) => fault,
        None => Fault::Failed("the ssh master connection exited at once".into()),
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self
                .exit
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let deadline = Instant::now() + EXIT;
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
