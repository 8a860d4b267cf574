//! Where a comparison's processes run: this machine, or another reached through the
//! system's OpenSSH client. Compare asks for "`iomodels serve` on host H" or "`iomodels
//! bench` on host A"; whether that is a child process or an ssh session is this
//! module's business alone.
//!
//! A remote host is `ssh://[USER@]HOST[:PORT]`. Every command to it goes through `ssh`
//! (the user's configuration, keys and agent apply, or `-F FILE`), multiplexed over one
//! connection per host for the whole run (ControlMaster, its socket in a private
//! temporary directory, closed with `-O exit` at the end). A remote process runs in a
//! session of its own (setsid) under a small shell that kills its whole process group
//! when the ssh session's input ends, so nothing outlives the run, even one that was
//! killed: ssh without a terminal forwards no hangup, but the end of its input always
//! arrives.
//!
//! - [`Host`]: `local` or `ssh://...`, parsed and printed.
//! - [`session`]: [`Hosts`], the run's connections: opening them, checking (or
//!   shipping) the remote `iomodels`, running commands there.
//! - [`process`]: [`HostProcess`], one process on a host: its pid there, its output,
//!   signals, its end.
//! - [`ssh`]: the `ssh` and `scp` command lines.
//! - [`fault`]: what went wrong, in one line, from ssh's exit code 255 and its stderr.

pub mod fault;
pub mod process;
pub mod session;
pub mod ssh;

use std::fmt;
use std::net::{IpAddr, ToSocketAddrs};
use std::str::FromStr;

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
    /// address, resolved here (loopback for this machine).
    pub fn ip(&self) -> Result<IpAddr, String> {
        match self {
            Host::Local => Ok(IpAddr::from([127, 0, 0, 1])),
            Host::Ssh(ssh) => {
                if let Ok(ip) = ssh.host.parse() {
                    return Ok(ip);
                }
                (ssh.host.as_str(), 0)
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut addrs| addrs.next())
                    .map(|addr| addr.ip())
                    .ok_or_else(|| format!("{self}: cannot resolve {} to an address", ssh.host))
            }
        }
    }
}

/// The address clients on `clients` reach a server on `server` at; `None` when they
/// all run here with it (loopback). A server here is reached at the address this
/// machine sends from toward the first client elsewhere (the kernel's route to it).
pub fn server_ip(server: &Host, clients: &[Host]) -> Result<Option<IpAddr>, String> {
    if !server.is_local() {
        return server.ip().map(Some);
    }
    let Some(client) = clients.iter().find(|c| !c.is_local()) else {
        return Ok(None);
    };
    let toward = client.ip()?;
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
        assert_eq!(Host::Local.ip().unwrap().to_string(), "127.0.0.1");
        let host: Host = "ssh://root@198.18.0.2:2222".parse().unwrap();
        assert_eq!(host.ip().unwrap().to_string(), "198.18.0.2");
    }

    #[test]
    fn clients_reach_a_server_at_the_address_they_can_route_to() {
        let there: Host = "ssh://root@198.18.0.2:2222".parse().unwrap();
        let local = Host::Local;
        assert_eq!(server_ip(&local, &[Host::Local]), Ok(None));
        let ip = server_ip(&there, &[Host::Local]).unwrap();
        assert_eq!(ip.unwrap().to_string(), "198.18.0.2");
        // Toward loopback, this machine sends from loopback.
        let me: Host = "ssh://127.0.0.1".parse().unwrap();
        let ip = server_ip(&local, &[local.clone(), me]).unwrap();
        assert_eq!(ip.unwrap().to_string(), "127.0.0.1");
    }
}
