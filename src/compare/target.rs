//! An external server (`--target NAME=ADDR[@PID]`): checked before the run, and its
//! process found from its listening socket, from /proc: `/proc/net/tcp{,6}` maps the
//! address to a socket inode, `/proc/PID/fd` the inode to the processes holding it
//! (nginx's master and workers all do: the master is the root of the tree to sample).

use std::collections::HashSet;
use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// TCP state LISTEN in /proc/net/tcp.
const LISTEN: &str = "0A";
/// How long the check waits for a target to accept a connection.
const CONNECT: Duration = Duration::from_secs(3);

/// Checks a target before the run, in one line that names it: something accepts
/// connections at `addr`; the `pid` given, if any, is a live process, neither this one
/// nor one of its ancestors (its tree would hold compare and its load), and, where
/// this machine sees the listening socket, the process holding it or an ancestor of
/// that process.
pub fn check(label: &str, addr: SocketAddr, pid: Option<u32>) -> Result<(), String> {
    let named = |what: String| format!("--target {label}: {what}");
    TcpStream::connect_timeout(&addr, CONNECT)
        .map_err(|err| named(format!("nothing accepts connections at {addr} ({err})")))?;
    let Some(pid) = pid else {
        return Ok(());
    };
    if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        return Err(named(format!("no process {pid}")));
    }
    if ancestors(std::process::id()).contains(&pid) {
        return Err(named(format!(
            "{pid} ({}) is this compare or one of its ancestors; give the server's pid",
            command_name(pid)
        )));
    }
    let holders = holders(addr);
    if holders.is_empty() || holders.iter().any(|&(h, _)| ancestors(h).contains(&pid)) {
        return Ok(());
    }
    let holder = top(&holders).unwrap_or(holders[0].0);
    Err(named(format!(
        "process {pid} ({}) does not hold the socket listening on {addr}; {holder} ({}) does",
        command_name(pid),
        command_name(holder)
    )))
}

/// The pid of the topmost process holding a socket listening on `addr`.
pub fn listener_pid(addr: SocketAddr) -> Option<u32> {
    top(&holders(addr))
}

/// Of processes and their parents, the lowest pid of those whose parent is not among
/// them.
fn top(holders: &[(u32, u32)]) -> Option<u32> {
    let pids: HashSet<u32> = holders.iter().map(|&(pid, _)| pid).collect();
    holders
        .iter()
        .filter(|(_, parent)| !pids.contains(parent))
        .map(|&(pid, _)| pid)
        .min()
}

/// The processes holding a socket listening on `addr`, with their parents.
fn holders(addr: SocketAddr) -> Vec<(u32, u32)> {
    let inodes = listening_inodes(addr);
    if inodes.is_empty() {
        return Vec::new();
    }
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let holds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?.any(|fd| {
            fd.ok()
                .and_then(|fd| fs::read_link(fd.path()).ok())
                .and_then(|link| link.to_str().map(str::to_owned))
                .and_then(|link| {
                    link.strip_prefix("socket:[")?
                        .strip_suffix(']')?
                        .parse::<u64>()
                        .ok()
                })
                .is_some_and(|inode| inodes.contains(&inode))
        });
        holds.then(|| (pid, parent_of(pid).unwrap_or(0)))
    })
    .collect()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].split(' ').nth(1)?.parse().ok()
}

/// `pid` and its ancestors, up to the first process (pid 1, or 0 past it).
fn ancestors(pid: u32) -> Vec<u32> {
    let mut line = vec![pid];
    while let Some(parent) = line.last().and_then(|&p| parent_of(p)) {
        if parent == 0 || line.contains(&parent) {
            break;
        }
        line.push(parent);
    }
    line
}

/// A process's command name, as /proc/PID/comm has it.
fn command_name(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map_or_else(|_| "?".into(), |name| name.trim().to_string())
}

/// Inodes of sockets in LISTEN state on `addr` (or on the wildcard address, same port).
fn listening_inodes(addr: SocketAddr) -> HashSet<u64> {
    let mut inodes = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 10 || cols[3] != LISTEN {
                continue;
            }
            let Some((ip_hex, port_hex)) = cols[1].split_once(':') else {
                continue;
            };
            if u16::from_str_radix(port_hex, 16).ok() != Some(addr.port()) {
                continue;
            }
            let wildcard = ip_hex.chars().all(|c| c == '0');
            if wildcard || hex_ip_matches(ip_hex, addr) {
                if let Ok(inode) = cols[9].parse() {
                    inodes.insert(inode);
                }
            }
        }
    }
    inodes
}

/// /proc/net/tcp writes IPv4 addresses as one little-endian 32-bit word.
fn hex_ip_matches(hex: &str, addr: SocketAddr) -> bool {
    match addr {
        SocketAddr::V4(v4) if hex.len() == 8 => {
            u32::from_str_radix(hex, 16).is_ok_and(|word| word.to_le_bytes() == v4.ip().octets())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_our_own_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(listener_pid(addr), Some(std::process::id()));
    }

    #[test]
    fn a_target_is_checked_before_the_run() {
        let listener = std::net::TcpListener::bind("127.3.2.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let me = std::process::id();
        assert_eq!(check("t", addr, None), Ok(()));
        assert_eq!(check("t", addr, Some(me)), Err(format!("--target t: {me} ({}) is this compare or one of its ancestors; give the server's pid", command_name(me))));
        let parent = parent_of(me).unwrap();
        let err = check("t", addr, Some(parent)).unwrap_err();
        assert!(err.contains("one of its ancestors"), "{err}");
        let err = check("t", addr, Some(u32::MAX)).unwrap_err();
        assert_eq!(err, format!("--target t: no process {}", u32::MAX));
        let mut other = std::process::Command::new("sleep")
            .arg("10")
            .spawn()
            .unwrap();
        let err = check("t", addr, Some(other.id()));
        let _ = other.kill();
        let _ = other.wait();
        let err = err.unwrap_err();
        assert!(
            err.contains("does not hold the socket listening on"),
            "{err}"
        );
        // A child that another test forks in the meantime may hold the socket too,
        // until it execs: this process is among the holders named.
        assert!(
            err.contains(&format!("{me} ({})", command_name(me))),
            "{err}"
        );
        // An address nothing was ever bound to: a listener of this process, even
        // dropped, may live on in a worker another test forked meanwhile.
        drop(listener);
        let unbound = std::net::SocketAddr::from(([127, 3, 2, 3], addr.port()));
        let err = check("t", unbound, None).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "--target t: nothing accepts connections at {unbound}"
            )),
            "{err}"
        );
    }

    #[test]
    fn reads_little_endian_ipv4() {
        assert!(hex_ip_matches("0100007F", "127.0.0.1:80".parse().unwrap()));
        assert!(!hex_ip_matches("0200007F", "127.0.0.1:80".parse().unwrap()));
    }
}
