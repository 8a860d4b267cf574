//! What this machine allows connections, read from `/proc`, getrlimit(2) and the
//! process's capabilities: the figures `bench hold` checks a count against before it
//! starts (its arithmetic is [`crate::bench::limits`]'s, over a [`MachineLimits`] that tests
//! make up). A figure that cannot be read is absent, never guessed.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;

use nix::sys::resource::{getrlimit, Resource};

use super::procfs::{open_descriptors, ProcessTree};
use super::slab;

/// The machine's limits on connections, as read now.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineLimits {
    /// CPUs this process may run on.
    pub cores: u32,
    /// RLIMIT_NOFILE of this process: soft, hard.
    pub nofile: (u64, u64),
    /// Whether this process may raise its hard limit (CAP_SYS_RESOURCE), up to
    /// `fs.nr_open`.
    pub can_raise_nofile: bool,
    pub nr_open: Option<u64>,
    /// `fs.file-max`, and the files open on the whole machine now (`fs.file-nr`).
    pub file_max: Option<u64>,
    pub files_open: u64,
    /// Whether `fs.file-max` binds this process: it does not bind one with
    /// CAP_SYS_ADMIN (root, usually).
    pub file_max_enforced: bool,
    /// Ports in `net.ipv4.ip_local_port_range`: what one source address has towards
    /// one destination.
    pub ports: u64,
    /// `net.ipv4.tcp_mem` (pages: low, pressure, high), and the pages TCP uses now.
    pub tcp_mem: Option<[u64; 3]>,
    pub tcp_pages_used: u64,
    pub page: u64,
    /// `net.core.somaxconn` (the cap on any listen(2) backlog),
    /// `net.ipv4.tcp_max_syn_backlog`, `net.ipv4.tcp_syncookies` (on: a full SYN queue
    /// answers with cookies rather than dropping).
    pub somaxconn: Option<u64>,
    pub syn_backlog: Option<u64>,
    pub syncookies: bool,
    /// nf_conntrack, if loaded: its table's size and the entries in it now.
    pub conntrack: Option<Conntrack>,
    /// Memory the kernel could give without swapping (`MemAvailable`), in kB.
    pub mem_available_kb: Option<u64>,
    /// Slab bytes one end of a connection takes, from this kernel's caches
    /// ([`slab::bytes_per_end`]); absent where `/proc/slabinfo` cannot be read.
    pub socket_end_b: Option<f64>,
}

/// nf_conntrack's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conntrack {
    pub max: u64,
    pub count: u64,
}

/// What the server on this machine allows, as read from its process tree and the
/// listening sockets on its port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerRoom {
    /// Its processes, and the descriptors they may still open (each its soft
    /// RLIMIT_NOFILE less what it has open); absent without its pid.
    pub processes: Option<u32>,
    pub descriptors: Option<u64>,
    /// Listening sockets on its port (several with SO_REUSEPORT, one per worker).
    pub listeners: Option<u32>,
}

impl MachineLimits {
    /// Reads this machine now.
    pub fn read() -> Self {
        let caps = fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| effective_caps(&s))
            .unwrap_or(0);
        let nofile = getrlimit(Resource::RLIMIT_NOFILE).unwrap_or((1024, 1024));
        let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .map_or(4096, |p| p as u64);
        let file_nr = sysctl_numbers("fs/file-nr");
        let tcp_mem = sysctl_numbers("net/ipv4/tcp_mem");
        MachineLimits {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            nofile,
            can_raise_nofile: caps & (1 << CAP_SYS_RESOURCE) != 0,
            nr_open: sysctl("fs/nr_open"),
            file_max: sysctl("fs/file-max"),
            files_open: file_nr.first().copied().unwrap_or(0),
            file_max_enforced: caps & (1 << CAP_SYS_ADMIN) == 0,
            ports: super::sockstat::ephemeral_ports(),
            tcp_mem: (tcp_mem.len() == 3).then(|| [tcp_mem[0], tcp_mem[1], tcp_mem[2]]),
            tcp_pages_used: super::tcp_sockets().map_or(0, |s| s.mem_kb * 1024 / page),
            page,
            somaxconn: sysctl("net/core/somaxconn"),
            syn_backlog: sysctl("net/ipv4/tcp_max_syn_backlog"),
            syncookies: sysctl("net/ipv4/tcp_syncookies").is_some_and(|v| v > 0),
            conntrack: sysctl("net/netfilter/nf_conntrack_max").map(|max| Conntrack {
                max,
                count: sysctl("net/netfilter/nf_conntrack_count").unwrap_or(0),
            }),
            mem_available_kb: fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|m| meminfo_kb(&m, "MemAvailable:")),
            socket_end_b: slab::read_slabinfo().ok().map(|lines| {
                let groups = slab::connection_groups(&lines);
                slab::bytes_per_end(&lines, &groups, page)
            }),
        }
    }
}

impl ServerRoom {
    /// Reads the server of `pid` (if given) and the listeners on `addr`'s port.
    pub fn read(pid: Option<u32>, addr: SocketAddr) -> Self {
        let (processes, descriptors) = pid
            .and_then(|pid| ProcessTree::new(pid).ok()?.pids().ok())
            .map(|pids| {
                let room = pids.iter().filter_map(|&p| descriptor_room(p)).sum();
                (Some(pids.len() as u32), Some(room))
            })
            .unwrap_or((None, None));
        let listeners = ["/proc/net/tcp", "/proc/net/tcp6"]
            .iter()
            .filter_map(|path| fs::File::open(path).ok())
            .map(|file| count_listeners(BufReader::new(file), addr.port()))
            .reduce(|a, b| a + b);
        ServerRoom {
            processes,
            descriptors,
            listeners: listeners.filter(|&n| n > 0),
        }
    }
}

const CAP_SYS_ADMIN: u32 = 21;
const CAP_SYS_RESOURCE: u32 = 24;

/// The descriptors process `pid` may still open: its soft limit less what it has open.
fn descriptor_room(pid: u32) -> Option<u64> {
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let soft = soft_nofile(&limits)?;
    Some(soft.saturating_sub(open_descriptors(pid)? as u64))
}

/// The soft limit of the `Max open files` line of `/proc/PID/limits`.
pub fn soft_nofile(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The effective capability set (`CapEff:`, hex) of a `/proc/PID/status` text.
pub fn effective_caps(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// A `/proc/meminfo` figure, in kB.
pub fn meminfo_kb(meminfo: &str, key: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Sockets listening on `port` in a `/proc/net/tcp` listing (state `0A`). The kernel
/// lists the listening sockets first, so the reading stops at the first other one:
/// the connections after them may be millions of lines.
pub fn count_listeners(listing: impl BufRead, port: u16) -> u32 {
    let want = format!(":{port:04X}");
    let mut count = 0;
    for line in listing.lines().skip(1).map_while(Result::ok) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() <= 3 || f[3] != "0A" {
            break;
        }
        count += u32::from(f[1].ends_with(&want));
    }
    count
}

/// The first number of `/proc/sys/PATH`.
fn sysctl(path: &str) -> Option<u64> {
    sysctl_numbers(path).first().copied()
}

/// The numbers of `/proc/sys/PATH`, empty if it cannot be read.
fn sysctl_numbers(path: &str) -> Vec<u64> {
    fs::read_to_string(format!("/proc/sys/{path}"))
        .map(|t| {
            t.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_files_it_reads() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max processes             95860                95860                processes\n\
                      Max open files            20000                20000                files\n";
        assert_eq!(soft_nofile(limits), Some(20_000));
        assert_eq!(soft_nofile("Max processes 1 1 processes\n"), None);
        let status = "Name:\tbash\nCapEff:\t000001fffeffffff\nCapBnd:\t000001ffffffffff\n";
        let caps = effective_caps(status).unwrap();
        assert!(caps & (1 << CAP_SYS_ADMIN) != 0);
        assert!(caps & (1 << CAP_SYS_RESOURCE) == 0);
        let meminfo = "MemTotal:       24684000 kB\nMemAvailable:   24064000 kB\n";
        assert_eq!(meminfo_kb(meminfo, "MemAvailable:"), Some(24_064_000));
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue\n\
                   0: 0100007F:46B0 00000000:0000 0A 00000000:00000000 00:00000000\n\
                   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000\n\
                   2: 0100007F:46B0 00000000:0000 0A 00000000:00000000 00:00000000\n\
                   3: 0100007F:46B0 0200007F:9C40 01 00000000:00000000 00:00000000\n\
                   4: 0100007F:46B0 00000000:0000 0A 00000000:00000000 00:00000000\n";
        assert_eq!(
            count_listeners(tcp.as_bytes(), 0x46B0),
            2,
            "the listeners come first"
        );
        assert_eq!(count_listeners(tcp.as_bytes(), 80), 0);
    }

    #[test]
    fn reads_this_machine() {
        let m = MachineLimits::read();
        assert!(m.cores >= 1);
        assert!(m.nofile.0 <= m.nofile.1);
        assert!(m.ports > 0);
        assert!(m.page >= 4096);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let room = ServerRoom::read(Some(std::process::id()), listener.local_addr().unwrap());
        assert_eq!(room.listeners, Some(1));
        assert!(room.processes >= Some(1));
        assert!(room.descriptors.is_some());
    }
}
