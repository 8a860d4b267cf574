//! [`Hosts`]: the hosts of one run. Opening one starts its ssh master connection and
//! checks that the `iomodels` there is this very build (`--ship` copies this executable
//! over when it is missing or another); then `iomodels` commands run there, to
//! completion or as processes. Dropping it removes what was shipped and closes the
//! masters; a run killed outright leaves neither behind (see [`super::master`] and
//! [`super::janitor`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::build::{own_build, own_executable, own_version};
use super::fault::{Fault, HostError};
use super::janitor::Janitor;
use super::master::Master;
use super::process::{run_to_end, HostProcess, WRAPPER};
use super::ssh::Ssh;
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
/// How long a master connection may take to come up.
const CONNECT: Duration = Duration::from_secs(30);
/// How long copying this executable over may take.
const SHIP: Duration = Duration::from_secs(300);

/// The hosts of one run, and their connections.
#[derive(Debug)]
pub struct Hosts {
    config: HostsConfig,
    ssh: Option<Ssh>,
    /// What each opened host runs, and what keeps it.
    opened: HashMap<SshAddr, Opened>,
}

/// An opened host. Its fields drop in order: the shipped directory is removed through
/// the master before the master closes.
#[derive(Debug)]
struct Opened {
    /// The `iomodels` to run there.
    bin: String,
    /// The directory there that holds the shipped executable.
    shipped: Option<Janitor>,
    /// Held for its Drop, which closes it (after `shipped`).
    _master: Master,
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
    /// build there (shipped if asked). Opening it again, or this machine, does nothing.
    pub fn open(&mut self, host: &Host) -> Result<(), HostError> {
        let Host::Ssh(addr) = host else {
            return Ok(());
        };
        if self.opened.contains_key(addr) {
            return Ok(());
        }
        let fail = |fault| host_error(host, fault);
        if self.ssh.is_none() {
            self.ssh = Some(Ssh::new(self.config.ssh_config.clone()).map_err(|fault| {
                fail(Fault::Failed(format!(
                    "cannot make a control directory: {fault}"
                )))
            })?);
        }
        let master = Master::start(self.ssh(), addr, CONNECT).map_err(fail)?;
        let bin = self
            .config
            .remote_bin
            .clone()
            .unwrap_or_else(|| "iomodels".into());
        // From here on, dropping `self` closes the master.
        let opened = Opened {
            bin: bin.clone(),
            shipped: None,
            _master: master,
        };
        self.opened.insert(addr.clone(), opened);
        match self.check_build(addr, &bin) {
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

    /// Is the `iomodels` there this build? Its `--version` first (every version has
    /// one), then its build.
    fn check_build(&self, addr: &SshAddr, bin: &str) -> Result<(), Fault> {
        let ask = |what: &str| -> Result<String, Fault> {
            let line = [bin.to_string(), what.to_string()];
            Ok(self.run_raw(addr, &line, QUICK, bin)?.trim().to_string())
        };
        let (found, ours) = (ask("--version")?, own_version());
        if found != ours {
            return Err(Fault::OtherVersion { found, ours });
        }
        let ours = own_build()
            .map_err(|err| Fault::Failed(format!("cannot read this executable: {err}")))?;
        let found = ask("build-id")?;
        if found != ours {
            return Err(Fault::OtherVersion { found, ours });
        }
        Ok(())
    }

    /// Copies this executable into a new temporary directory there (removed when the
    /// run ends, however it ends), and runs it from now on. The copy is the executable
    /// on the input of `cat` there: it needs no sftp subsystem, no scp.
    fn ship(&mut self, addr: &SshAddr) -> Result<(), Fault> {
        let exe = own_executable()
            .map_err(|err| Fault::Failed(format!("cannot read this executable: {err}")))?;
        let janitor = Janitor::start(self.ssh().command(addr, &Janitor::words("ship")), QUICK)?;
        let bin = format!("{}/iomodels", janitor.dir());
        if let Some(opened) = self.opened.get_mut(addr) {
            opened.shipped = Some(janitor);
        }
        let copy = [
            "sh".into(),
            "-c".into(),
            r#"cat >"$1" && chmod 755 "$1""#.into(),
            "iomodels-ship".into(),
            bin.clone(),
        ];
        run_to_end(self.ssh().command(addr, &copy), Some(exe), SHIP, "cat")?;
        self.check_build(addr, &bin)?;
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
        run_to_end(cmd, None, limit, &bin).map_err(|fault| host_error(host, fault))
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
        run_to_end(self.ssh().command(addr, line), None, limit, bin)
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        // The hosts first: each one's master needs the control directory `ssh` keeps.
        self.opened.clear();
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

    #[test]
    fn symlinks_at_the_old_guessable_paths_are_not_followed() {
        // The master's log was /tmp/iomodels-ssh-master-PID-N, created with O_TRUNC.
        let planted = crate::sys::planted::Planted::at((0..64).map(|n| {
            let name = format!("iomodels-ssh-master-{}-{n}", std::process::id());
            std::env::temp_dir().join(name)
        }));
        let mut hosts = Hosts::new(HostsConfig::default());
        assert!(hosts.open(&"ssh://127.0.0.1:1".parse().unwrap()).is_err());
        planted.assert_untouched();
    }
}
