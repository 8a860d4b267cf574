//! Where a comparison's processes run: this machine, or another reached through the
//! system's OpenSSH client. Compare asks for "`iomodels serve` on host H" or "`iomodels
//! bench` on host A"; whether that is a child process or an ssh session is this
//! module's business alone.
//!
//! A remote host is `ssh://[USER@]HOST[:PORT]`. Every command to it goes through `ssh`
//! (the user's configuration, keys and agent apply, or `-F FILE`; HOST may be a `Host`
//! alias of it), multiplexed over one connection per host for the whole run
//! (ControlMaster, its socket in a private temporary directory). A remote process runs
//! in a session of its own (setsid) under a small shell that kills its whole process
//! group when the ssh session's input ends, so nothing outlives the run, even one that
//! was killed: ssh without a terminal forwards no hangup, but the end of its input
//! always arrives. The same end removes the temporary directories of a run, here and
//! there, and the kernel stops the master connections when the run's process dies.
//!
//! - [`Host`]: `local` or `ssh://...`, parsed and printed, and the address clients
//!   reach it at (as ssh would resolve it).
//! - [`session`]: [`Hosts`], the run's connections: opening them, checking (or
//!   shipping) the remote `iomodels`, running commands there.
//! - [`master`]: a host's master connection, a child of this process that dies with it.
//! - [`janitor`]: a temporary directory removed when this process ends, however.
//! - [`process`]: [`HostProcess`], one process on a host: its pid there, its output,
//!   signals, its end.
//! - [`build`]: which build this is (version and a hash of the executable), which the
//!   remote `iomodels` must be.
//! - [`ssh`]: the `ssh` command lines.
//! - [`fault`]: what went wrong, in one line, from ssh's exit code 255 and its stderr.

pub mod build;
pub mod fault;
pub mod janitor;
pub mod master;
pub mod process;
pub mod session;
pub mod ssh;

use std::fmt;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

pub use fault::HostError;
pub use process::HostProcess;
pub use session::Hosts;

/// A machine to run a process on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// This machine: a child process.
    Local,
    /// Another machine, through `ssh`.
    Ssh(SshAddr),
}

/// `ssh://[USER@]HOST[:PORT]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SshAddr {
    pub user: Option<String>,
    /// A name (resolved by ssh, its configuration first) or an address.
    pub host: String,
    pub port: Option<u16>,
}

impl Host {
    /// Is it this machine?
    pub fn is_local(&self) -> bool {
        matches!(self, Host::Local)
    }

    /// The address a server running there is reached at by clients: the host's
    /// address as ssh, given `ssh_config` (`-F`), would connect to it (a `Host` alias
    /// becomes its `HostName`), resolved here; loopback for this machine.
    pub fn ip(&self, ssh_config: Option<&Path>) -> Result<IpAddr, String> {
        let ssh = match self {
            Host::Local => return Ok(IpAddr::from([127, 0, 0, 1])),
            Host::Ssh(ssh) => ssh,
        };
        if let Ok(ip) = ssh.host.parse() {
            return Ok(ip);
        }
        let name = configured_hostname(ssh_config, ssh)
            .map_err(|fault| format!("{self}: cannot ask ssh for its address ({fault})"))?;
        if let Ok(ip) = name.parse() {
            return Ok(ip);
        }
        let named = if name == ssh.host {
            String::new()
        } else {
            " (its HostName in the ssh configuration)".to_string()
        };
        (name.as_str(), 0)
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .map(|addr| addr.ip())
            .ok_or_else(|| format!("{self}: cannot resolve {name}{named} to an address"))
    }
}

/// How long `ssh -G` may take.
const SSH_G: Duration = Duration::from_secs(10);

/// The name or address ssh would connect to for `addr`: the `hostname` that `ssh -G`
/// prints.
fn configured_hostname(ssh_config: Option<&Path>, addr: &SshAddr) -> Result<String, fault::Fault> {
    let printed = process::run_to_end(ssh::configuration(ssh_config, addr), None, SSH_G, "ssh")?;
    printed
        .lines()
        .find_map(|line| line.strip_prefix("hostname "))
        .map(|name| name.trim().to_string())
        .ok_or_else(|| fault::Fault::Failed("ssh -G printed no hostname".into()))
}

/// The address clients on `clients` reach a server on `server` at; `None` when they
/// all run here with it (loopback). A server here is reached at the address this
/// machine sends from toward the first client elsewhere (the kernel's route to it).
/// `ssh_config` is ssh's `-F`, where the hosts' names may be aliases.
pub fn server_ip(
    server: &Host,
    clients: &[Host],
    ssh_config: Option<&Path>,
) -> Result<Option<IpAddr>, String> {
    if !server.is_local() {
        return server.ip(ssh_config).map(Some);
    }
    let Some(client) = clients.iter().find(|c| !c.is_local()) else {
        return Ok(None);
    };
    let toward = client.ip(ssh_config)?;
    let unspecified: IpAddr = if toward.is_ipv4() {
        [0, 0, 0, 0].into()
    } else {
        [0u16; 8].into()
    };
    // A UDP socket's connect only picks a route and a source address: nothing is sent.
    std::net::UdpSocket::bind((unspecified, 0))
        .and_then(|socket| {
            socket.connect((toward, 9))?;
            socket.local_addr()
        })
        .map(|addr| Some(addr.ip()))
        .map_err(|err| format!("no route from here to {client}: {err}"))
}

impl FromStr for Host {
    type Err = String;

    /// `local`, or `ssh://[USER@]HOST[:PORT]` (an IPv6 address in brackets).
    fn from_str(text: &str) -> Result<Self, String> {
        if text == "local" {
            return Ok(Host::Local);
        }
        let rest = text
            .strip_prefix("ssh://")
            .ok_or_else(|| format!("'{text}' is neither `local` nor ssh://[USER@]HOST[:PORT]"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((user, hostport)) if !user.is_empty() => (Some(user.to_string()), hostport),
            Some(_) => return Err(format!("'{text}': an empty user name")),
            None => (None, rest),
        };
        let (host, port) = split_port(hostport).ok_or_else(|| format!("'{text}': a bad port"))?;
        let bad = |c: char| c.is_whitespace() || c == '/' || c == '@';
        if host.is_empty() || host.starts_with('-') || host.contains(bad) {
            return Err(format!("'{text}': no host name"));
        }
        Ok(Host::Ssh(SshAddr {
            user,
            host: host.to_string(),
            port,
        }))
    }
}

/// `HOST[:PORT]`, `[V6]` or `[V6]:PORT`.
fn split_port(text: &str) -> Option<(&str, Option<u16>)> {
    if let Some(bracketed) = text.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(port) => Some((host, Some(port.parse().ok()?))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match text.split_once(':') {
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((text, None)),
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Local => write!(f, "local"),
            Host::Ssh(ssh) => {
                write!(f, "ssh://")?;
                if let Some(user) = &ssh.user {
                    write!(f, "{user}@")?;
                }
                if ssh.host.contains(':') {
                    write!(f, "[{}]", ssh.host)?;
                } else {
                    write!(f, "{}", ssh.host)?;
                }
                match ssh.port {
                    Some(port) => write!(f, ":{port}"),
                    None => Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse_and_print_back() {
        for text in [
            "local",
            "ssh://box",
            "ssh://root@198.18.0.2:2222",
            "ssh://me@[2001:db8::1]:22",
            "ssh://[2001:db8::1]",
        ] {
            let host: Host = text.parse().unwrap();
            assert_eq!(host.to_string(), text);
        }
        let Host::Ssh(ssh) = "ssh://root@198.18.0.2:2222".parse().unwrap() else {
            panic!("not ssh");
        };
        assert_eq!(ssh.user.as_deref(), Some("root"));
        assert_eq!(ssh.host, "198.18.0.2");
        assert_eq!(ssh.port, Some(2222));
    }

    #[test]
    fn what_is_not_a_host_is_refused() {
        for text in [
            "box",
            "ssh://",
            "ssh://@box",
            "ssh://box:port",
            "ssh://-oProxyCommand=x",
            "http://box",
        ] {
            assert!(text.parse::<Host>().is_err(), "{text}");
        }
    }

    #[test]
    fn a_server_here_is_on_loopback_and_there_on_the_hosts_address() {
        assert_eq!(Host::Local.ip(None).unwrap().to_string(), "127.0.0.1");
        let host: Host = "ssh://root@198.18.0.2:2222".parse().unwrap();
        assert_eq!(host.ip(None).unwrap().to_string(), "198.18.0.2");
    }

    #[test]
    fn clients_reach_a_server_at_the_address_they_can_route_to() {
        let there: Host = "ssh://root@198.18.0.2:2222".parse().unwrap();
        let local = Host::Local;
        assert_eq!(server_ip(&local, &[Host::Local], None), Ok(None));
        let ip = server_ip(&there, &[Host::Local], None).unwrap();
        assert_eq!(ip.unwrap().to_string(), "198.18.0.2");
        // Toward loopback, this machine sends from loopback.
        let me: Host = "ssh://127.0.0.1".parse().unwrap();
        let ip = server_ip(&local, &[local.clone(), me], None).unwrap();
        assert_eq!(ip.unwrap().to_string(), "127.0.0.1");
    }

    #[test]
    fn an_alias_is_the_address_its_ssh_configuration_names() {
        let dir =
            nix::unistd::mkdtemp(&std::env::temp_dir().join("iomodels-alias.XXXXXX")).unwrap();
        let config = dir.join("ssh_config");
        let text =
            "Host box1\n  HostName 198.18.7.9\n  Port 2222\nHost box2\n  HostName localhost\n";
        std::fs::write(&config, text).unwrap();
        let ip = |url: &str| url.parse::<Host>().unwrap().ip(Some(&config));
        let (box1, box2, box3) = (
            ip("ssh://root@box1"),
            ip("ssh://box2"),
            ip("ssh://box3.invalid"),
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(box1.unwrap().to_string(), "198.18.7.9");
        assert!(box2.unwrap().is_loopback());
        let err = box3.unwrap_err();
        assert!(
            err.starts_with("ssh://box3.invalid: cannot resolve box3.invalid to"),
            "{err}"
        );
    }
}
