//! Finding the process behind an external server's listening socket, from /proc:
//! `/proc/net/tcp{,6}` maps the address to a socket inode, `/proc/PID/fd` the inode to
//! the processes holding it (nginx's master and workers all do: the master is the
//! root of the tree to sample).

use std::collections::HashSet;
use std::fs;
use std::net::SocketAddr;

/// TCP state LISTEN in /proc/net/tcp.
const LISTEN: &str = "0A";

/// The pid of the topmost process holding a socket listening on `addr`.
pub fn listener_pid(addr: SocketAddr) -> Option<u32> {
    let inodes = listening_inodes(addr);
    if inodes.is_empty() {
        return None;
    }
    let holders: Vec<(u32, u32)> = fs::read_dir("/proc")
        .ok()?
        .filter_map(|entry| {
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
        .collect();
    let pids: HashSet<u32> = holders.iter().map(|&(pid, _)| pid).collect();
    holders
        .iter()
        .filter(|(_, parent)| !pids.contains(parent))
        .map(|&(pid, _)| pid)
        .min()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].split(' ').nth(1)?.parse().ok()
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
    fn reads_little_endian_ipv4() {
        assert!(hex_ip_matches("0100007F", "127.0.0.1:80".parse().unwrap()));
        assert!(!hex_ip_matches("0200007F", "127.0.0.1:80".parse().unwrap()));
    }
}
