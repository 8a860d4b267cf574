//! The `ssh` and `scp` command lines of a run: one private directory for the control
//! sockets, one master connection per host (ControlMaster, ControlPersist), every
//! other command multiplexed over it, `-O exit` to close it.

use std::ffi::OsString;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::SshAddr;

/// How long ssh may take to connect.
const CONNECT_TIMEOUT_S: u32 = 10;
/// How long a master stays up once its last session closed: long enough between the
/// commands of a run, short enough that a run killed outright leaves no master for
/// long (a run that ends closes its masters at once).
const PERSIST_S: u32 = 60;

/// The ssh side of a run: its configuration file and its control sockets.
#[derive(Debug)]
pub struct Ssh {
    config: Option<PathBuf>,
    control_dir: PathBuf,
}

impl Ssh {
    /// A private (0700) directory for the control sockets; `config` is given to ssh
    /// as `-F`.
    pub fn new(config: Option<PathBuf>) -> io::Result<Ssh> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let control_dir = std::env::temp_dir().join(format!(
            "iomodels-ssh-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&control_dir)?;
        Ok(Ssh {
            config,
            control_dir,
        })
    }

    /// The options every ssh and scp of the run shares.
    fn options(&self, addr: &SshAddr) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        if let Some(config) = &self.config {
            args.extend(["-F".into(), config.into()]);
        }
        let mut option = |o: String| args.extend(["-o".into(), o.into()]);
        option("ControlMaster=auto".into());
        option(format!("ControlPath={}/%C", self.control_dir.display()));
        option("BatchMode=yes".into());
        option(format!("ConnectTimeout={CONNECT_TIMEOUT_S}"));
        option("ServerAliveInterval=5".into());
        option("ServerAliveCountMax=3".into());
        if let Some(user) = &addr.user {
            option(format!("User={user}"));
        }
        if let Some(port) = addr.port {
            option(format!("Port={port}"));
        }
        args
    }

    /// `ssh -f -N`: opens the host's master connection and returns once it is up.
    pub fn master(&self, addr: &SshAddr) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(self.options(addr))
            .args(["-o", &format!("ControlPersist={PERSIST_S}")])
            .args(["-f", "-N", "--", &addr.host]);
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

    /// `scp LOCAL HOST:REMOTE`, through the master.
    pub fn copy(&self, addr: &SshAddr, local: &Path, remote: &str) -> Command {
        let host = if addr.host.contains(':') {
            format!("[{}]", addr.host)
        } else {
            addr.host.clone()
        };
        let mut cmd = Command::new("scp");
        cmd.args(["-q"])
            .args(self.options(addr))
            .arg("--")
            .arg(local)
            .arg(format!("{host}:{remote}"));
        cmd
    }
}

impl Drop for Ssh {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.control_dir);
    }
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
        assert!(line.starts_with("-F /etc/cfg -o ControlMaster=auto -o ControlPath="));
        assert!(line.contains("/%C"), "{line}");
        assert!(line.contains("-o User=root -o Port=2222"), "{line}");
        assert!(
            line.ends_with("-T -- 198.18.0.2 iomodels --version"),
            "{line}"
        );
        let dir = ssh.control_dir.clone();
        assert!(dir.is_dir());
        drop(ssh);
        assert!(!dir.exists());
    }
}
