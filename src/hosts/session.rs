//! [`Hosts`]: the hosts of one run. Opening one starts its ssh master connection and
//! checks that the `iomodels` there is this one's version (`--ship` copies this
//! executable over when it is missing or another); then `iomodels` commands run there,
//! to completion or as processes. Dropping it closes the masters and removes what was
//! shipped.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::fault::{classify, Fault, HostError};
use super::process::{HostProcess, WRAPPER};
use super::ssh::{shell_quote, Ssh};
use super::{Host, SshAddr};

/// How a run reaches its hosts.
#[derive(Debug, Clone, Default)]
pub struct HostsConfig {
    /// ssh's configuration file (`-F`), instead of the user's.
    pub ssh_config: Option<PathBuf>,
    /// The `iomodels` to run on remote hosts [default: `iomodels` on their PATH].
    pub remote_bin: Option<String>,
    /// Copy this executable to a remote host whose `iomodels` is missing or another.
    pub ship: bool,
}

/// How long a quick remote command (`--version`, `mktemp`, `kill`) may take.
const QUICK: Duration = Duration::from_secs(20);
/// How long a remote process may take to say its pid.
const START: Duration = Duration::from_secs(20);

/// The hosts of one run, and their connections.
#[derive(Debug)]
pub struct Hosts {
    config: HostsConfig,
    ssh: Option<Ssh>,
    /// The `iomodels` to run on each opened host, and the directory shipped there.
    opened: HashMap<SshAddr, Opened>,
}

#[derive(Debug)]
struct Opened {
    bin: String,
    shipped: Option<String>,
}

/// What this executable says to `--version`.
pub fn own_version() -> String {
    format!("iomodels {}", env!("CARGO_PKG_VERSION"))
}

impl Hosts {
    pub fn new(config: HostsConfig) -> Hosts {
        Hosts {
            config,
            ssh: None,
            opened: HashMap::new(),
        }
    }

    /// Opens `host` for the run: its master connection, and an `iomodels` of this
    /// version there (shipped if asked). Opening it again, or this machine, does
    /// nothing.
    pub fn open(&mut self, host: &Host) -> Result<(), HostError> {
        let Host::Ssh(addr) = host else {
            return Ok(());
        };
        if self.opened.contains_key(addr) {
            return Ok(());
        }
        let fail = |fault| host_error(host, fault);
        if self.ssh.is_none() {
            let ssh = Ssh::new(self.config.ssh_config.clone()).map_err(|err| {
                fail(Fault::Failed(format!(
                    "cannot make a control directory: {err}"
                )))
            })?;
            self.ssh = Some(ssh);
        }
        self.start_master(addr).map_err(fail)?;
        let bin = self
            .config
            .remote_bin
            .clone()
            .unwrap_or_else(|| "iomodels".into());
        // From here on, dropping `self` closes the master.
        self.opened.insert(
            addr.clone(),
            Opened {
                bin: bin.clone(),
                shipped: None,
            },
        );
        match self.check_version(addr, &bin) {
            Ok(()) => Ok(()),
            Err(Fault::Missing(_) | Fault::OtherVersion { .. }) if self.config.ship => {
                self.ship(addr).map_err(fail)
            }
            Err(fault) => Err(fail(fault)),
        }
    }

    fn ssh(&self) -> &Ssh {
        self.ssh.as_ref().expect("a host was opened")
    }

    fn start_master(&self, addr: &SshAddr) -> Result<(), Fault> {
        // `-f` leaves the master in the background holding its stderr: a file, not a
        // pipe, or reading the pipe to its end would wait for the master's.
        let log = tempfile_path("ssh-master");
        let file = std::fs::File::create(&log)
            .map_err(|err| Fault::Failed(format!("cannot create {}: {err}", log.display())))?;
        let status = self
            .ssh()
            .master(addr)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .status()
            .map_err(|err| Fault::Failed(format!("cannot run ssh: {err}")))?;
        let stderr = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        match classify(status.code(), &stderr, "ssh") {
            None => Ok(()),
            Some(Fault::Missing(_)) => Err(Fault::Failed("ssh is not installed here".into())),
            Some(fault) => Err(fault),
        }
    }

    fn check_version(&self, addr: &SshAddr, bin: &str) -> Result<(), Fault> {
        let found = self.run_raw(addr, &[bin.to_string(), "--version".into()], QUICK, bin)?;
        let (found, ours) = (found.trim().to_string(), own_version());
        if found == ours {
            Ok(())
        } else {
            Err(Fault::OtherVersion { found, ours })
        }
    }

    /// Copies this executable to a new temporary directory there, and runs it from
    /// now on.
    fn ship(&mut self, addr: &SshAddr) -> Result<(), Fault> {
        let exe = std::env::current_exe()
            .map_err(|err| Fault::Failed(format!("cannot find this executable: {err}")))?;
        let mktemp = [
            "mktemp".into(),
            "-d".into(),
            "/tmp/iomodels-ship.XXXXXX".into(),
        ];
        let dir = self
            .run_raw(addr, &mktemp, QUICK, "mktemp")?
            .trim()
            .to_string();
        if let Some(opened) = self.opened.get_mut(addr) {
            opened.shipped = Some(dir.clone());
        }
        let bin = format!("{dir}/iomodels");
        let out = self
            .ssh()
            .copy(addr, &exe, &bin)
            .stdin(Stdio::null())
            .output()
            .map_err(|err| Fault::Failed(format!("cannot run scp: {err}")))?;
        if let Some(fault) = classify(
            out.status.code(),
            &String::from_utf8_lossy(&out.stderr),
            "scp",
        ) {
            return Err(fault);
        }
        self.run_raw(
            addr,
            &["chmod".into(), "755".into(), bin.clone()],
            QUICK,
            "chmod",
        )?;
        self.check_version(addr, &bin)?;
        if let Some(opened) = self.opened.get_mut(addr) {
            opened.bin = bin;
        }
        Ok(())
    }

    /// Runs `iomodels ARGS` on `host` to its end (at most `limit`) and returns its
    /// stdout.
    pub fn output(
        &self,
        host: &Host,
        args: &[String],
        limit: Duration,
    ) -> Result<String, HostError> {
        let (cmd, bin) = self.iomodels_on(host, &[], args)?;
        run_to_end(cmd, limit, &bin).map_err(|fault| host_error(host, fault))
    }

    /// Starts `iomodels ARGS` on `host`, as a [`HostProcess`].
    pub fn spawn(&self, host: &Host, args: &[String]) -> Result<HostProcess, HostError> {
        let wrapper = ["sh", "-c", WRAPPER, "iomodels-run"];
        let (cmd, bin) = self.iomodels_on(host, &wrapper, args)?;
        let started = if host.is_local() {
            HostProcess::local(cmd)
                .map_err(|err| Fault::Failed(format!("cannot start iomodels: {err}")))
        } else {
            HostProcess::remote(cmd, &bin, START)
        };
        started.map_err(|fault| host_error(host, fault))
    }

    /// The command that runs `iomodels ARGS` on `host`, and the name of its
    /// executable: here this one; there, through ssh, the one opened there, after
    /// `wrapper`.
    fn iomodels_on(
        &self,
        host: &Host,
        wrapper: &[&str],
        args: &[String],
    ) -> Result<(Command, String), HostError> {
        match host {
            Host::Local => {
                let mut cmd = Command::new(local_exe().map_err(|fault| host_error(host, fault))?);
                cmd.args(args);
                Ok((cmd, "iomodels".into()))
            }
            Host::Ssh(addr) => {
                let bin = self.bin(addr).map_err(|fault| host_error(host, fault))?;
                let mut line: Vec<String> = wrapper.iter().map(|w| w.to_string()).collect();
                line.push(bin.clone());
                line.extend(args.iter().cloned());
                Ok((self.ssh().command(addr, &line), bin))
            }
        }
    }

    fn bin(&self, addr: &SshAddr) -> Result<String, Fault> {
        self.opened
            .get(addr)
            .map(|o| o.bin.clone())
            .ok_or_else(|| Fault::Failed("the host was not opened".into()))
    }

    /// Runs a command line there, to its end, and returns its stdout.
    fn run_raw(
        &self,
        addr: &SshAddr,
        line: &[String],
        limit: Duration,
        bin: &str,
    ) -> Result<String, Fault> {
        run_to_end(self.ssh().command(addr, line), limit, bin)
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        let Some(ssh) = &self.ssh else { return };
        for (addr, opened) in &self.opened {
            if let Some(dir) = &opened.shipped {
                let rm = format!("rm -rf {}", shell_quote(dir));
                let _ = run_to_end(
                    ssh.command(addr, &["sh".into(), "-c".into(), rm]),
                    QUICK,
                    "rm",
                );
            }
            let _ = ssh
                .exit(addr)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A fault on `host`.
fn host_error(host: &Host, fault: Fault) -> HostError {
    HostError {
        host: host.to_string(),
        fault,
    }
}

/// This executable.
fn local_exe() -> Result<PathBuf, Fault> {
    std::env::current_exe().map_err(|err| Fault::Failed(format!("cannot find iomodels: {err}")))
}

/// Runs `cmd` to its end (killed past `limit`); its stdout, or the fault its status and
/// stderr show.
fn run_to_end(mut cmd: Command, limit: Duration, bin: &str) -> Result<String, Fault> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| Fault::Failed(format!("cannot run {:?}: {err}", cmd.get_program())))?;
    let stdout = super::process::collect_lines(child.stdout.take().expect("piped stdout"));
    let stderr = super::process::collect_lines(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().ok().flatten() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Fault::Failed(format!(
                "{bin} did not finish within {} s",
                limit.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let read_all = |rx: std::sync::mpsc::Receiver<String>| {
        let mut lines = Vec::new();
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) {
            lines.push(line);
        }
        lines.join("\n")
    };
    let (out, err) = (read_all(stdout), read_all(stderr));
    match classify(status.code(), &err, bin) {
        None => Ok(out),
        Some(fault) => Err(fault),
    }
}

/// A path for a file of this process's own in the temporary directory.
fn tempfile_path(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "iomodels-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_needs_no_opening() {
        let mut hosts = Hosts::new(HostsConfig::default());
        hosts.open(&Host::Local).unwrap();
        assert!(hosts.ssh.is_none() && hosts.opened.is_empty());
    }

    #[test]
    fn an_unreachable_host_says_so_in_one_line() {
        let mut hosts = Hosts::new(HostsConfig::default());
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let host: Host = "ssh://127.0.0.1:1".parse().unwrap();
        let err = hosts.open(&host).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("ssh://127.0.0.1:1: "), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
        if which_ssh() {
            assert!(matches!(err.fault, Fault::Unreachable(_)), "{text}");
        }
    }

    fn which_ssh() -> bool {
        Command::new("ssh").arg("-V").output().is_ok()
    }
}
