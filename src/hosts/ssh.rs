//! The `ssh` command lines of a run: one private directory for the control sockets
//! (kept by a [`Janitor`], so it goes with the run however the run ends), one master
//! connection per host (ControlMaster, run by [`super::master`]), every other command
//! multiplexed over it, `-O check` and `-O exit` to ask after it and close it, and
//! `ssh -G` to read what the configuration makes of a host.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::fault::Fault;
use super::janitor::Janitor;
use super::SshAddr;

/// How long ssh may take to connect.
const CONNECT_TIMEOUT_S: u32 = 10;
/// How long making the control directory may take.
const MAKE_DIR: Duration = Duration::from_secs(5);

/// The ssh side of a run: its configuration file and its control sockets.
#[derive(Debug)]
pub struct Ssh {
    config: Option<PathBuf>,
    control_dir: Janitor,
}

impl Ssh {
    /// A private (0700), unpredictably named directory for the control sockets, removed
    /// when this is dropped or this process dies; `config` is given to ssh as `-F`.
    pub fn new(config: Option<PathBuf>) -> Result<Ssh, Fault> {
        let words = Janitor::words("ssh");
        let mut cmd = Command::new(&words[0]);
        // A group of its own: a Ctrl-C, or a kill of compare's whole group, leaves it
        // to remove the directory once compare is gone.
        cmd.args(&words[1..]).process_group(0);
        let control_dir = Janitor::start(cmd, MAKE_DIR)?;
        Ok(Ssh {
            config,
            control_dir,
        })
    }

    /// The options every ssh of the run shares.
    fn options(&self, addr: &SshAddr) -> Vec<OsString> {
        let mut args = config_options(self.config.as_deref(), addr);
        let mut option = |o: String| args.extend(["-o".into(), o.into()]);
        option("ControlMaster=auto".into());
        option(format!("ControlPath={}/%C", self.control_dir.dir()));
        option("BatchMode=yes".into());
        option(format!("ConnectTimeout={CONNECT_TIMEOUT_S}"));
        option("ServerAliveInterval=5".into());
        option("ServerAliveCountMax=3".into());
        args
    }

    /// `ssh -N` as the host's master connection, in the foreground for as long as it
    /// runs (ControlPersist off: it does not fork into the background, and does not
    /// outlive its parent, see [`super::master`]).
    pub fn master(&self, addr: &SshAddr) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(self.options(addr))
            .args(["-o", "ControlMaster=yes", "-o", "ControlPersist=no"])
            .args(["-N", "--", &addr.host]);
        cmd
    }

    /// `ssh -O check`: succeeds once the host's master accepts sessions.
    pub fn check(&self, addr: &SshAddr) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(self.options(addr))
            .args(["-O", "check", "--", &addr.host]);
        cmd
    }

    /// `ssh HOST -- 'ARG' 'ARG'...`: runs a command there, its arguments quoted for the
    /// remote shell.
    pub fn command(&self, addr: &SshAddr, remote: &[String]) -> Command {
        let line: Vec<String> = remote.iter().map(|a| shell_quote(a)).collect();
        let mut cmd = Command::new("ssh");
        cmd.args(self.options(addr))
            .args(["-T", "--", &addr.host])
            .arg(line.join(" "));
        cmd
    }

    /// `ssh -O exit`: closes the host's master connection.
    pub fn exit(&self, addr: &SshAddr) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(self.options(addr))
            .args(["-O", "exit", "--", &addr.host]);
        cmd
    }
}

/// The options that say which host is meant, as the user's configuration and the
/// host's URL have it: `-F FILE`, the user and the port.
fn config_options(config: Option<&Path>, addr: &SshAddr) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    if let Some(config) = config {
        args.extend(["-F".into(), config.into()]);
    }
    if let Some(user) = &addr.user {
        args.extend(["-o".into(), format!("User={user}").into()]);
    }
    if let Some(port) = addr.port {
        args.extend(["-o".into(), format!("Port={port}").into()]);
    }
    args
}

/// `ssh -G HOST`: prints the configuration ssh would connect to `addr` with (its
/// `hostname` line is the name or address it would connect to), connecting nowhere.
pub fn configuration(config: Option<&Path>, addr: &SshAddr) -> Command {
    let mut cmd = Command::new("ssh");
    cmd.args(config_options(config, addr))
        .args(["-G", "--", &addr.host]);
    cmd
}

/// `text` as one word for a POSIX shell.
pub fn shell_quote(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SshAddr {
        SshAddr {
            user: Some("root".into()),
            host: "198.18.0.2".into(),
            port: Some(2222),
        }
    }

    #[test]
    fn words_reach_the_remote_shell_as_they_were() {
        for word in ["plain", "", "two words", "it's", "$HOME", "a;b", "*"] {
            let out = Command::new("sh")
                .args(["-c", &format!("printf %s {}", shell_quote(word))])
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), word);
        }
        assert_eq!(shell_quote("--addr=0.0.0.0:0"), "--addr=0.0.0.0:0");
    }

    #[test]
    fn every_command_goes_through_one_master_with_the_given_config() {
        let ssh = Ssh::new(Some("/etc/cfg".into())).unwrap();
        let cmd = ssh.command(&addr(), &["iomodels".into(), "--version".into()]);
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let line = args.join(" ");
        assert!(line.starts_with("-F /etc/cfg -o User=root -o Port=2222"));
        assert!(line.contains("-o ControlMaster=auto -o ControlPath="));
        assert!(line.contains("/%C"), "{line}");
        assert!(
            line.ends_with("-T -- 198.18.0.2 iomodels --version"),
            "{line}"
        );
        let dir = PathBuf::from(ssh.control_dir.dir());
        assert!(dir.is_dir());
        drop(ssh);
        assert!(!dir.exists());
    }

    #[test]
    fn a_directory_at_the_old_guessable_path_is_no_obstacle() {
        // The control directory was /tmp/iomodels-ssh-PID-N: anyone could make it first.
        let planted: Vec<PathBuf> = (0..64)
            .map(|n| std::env::temp_dir().join(format!("iomodels-ssh-{}-{n}", std::process::id())))
            .filter(|path| std::fs::create_dir(path).is_ok())
            .collect();
        let made = Ssh::new(None);
        for path in &planted {
            let _ = std::fs::remove_dir(path);
        }
        let ssh = made.unwrap();
        assert!(Path::new(ssh.control_dir.dir()).is_dir());
    }
}
