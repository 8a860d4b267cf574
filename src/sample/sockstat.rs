//! The kernel's TCP sockets and the memory they take, machine-wide: their buffers'
//! pages from `/proc/net/sockstat` (this network namespace), and the kernel's slab
//! allocations from `/proc/meminfo`, where the socket structures themselves live (the
//! TCP socket, its inode, file and epoll entry): what holding connections costs beyond
//! the processes' own memory. And the local ports a source address has.

use std::io;

/// One reading of the `TCP:` line of `/proc/net/sockstat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpSockets {
    /// Sockets in use (`inuse`).
    pub in_use: u64,
    /// Memory of every TCP socket's buffers (`mem`, in pages), in kB.
    pub mem_kb: u64,
    /// The kernel's slab memory (`Slab:` of `/proc/meminfo`), in kB: all of it, so its
    /// growth while holding is the connections' only when little else runs.
    pub slab_kb: u64,
}

/// Reads `/proc/net/sockstat` now.
pub fn tcp_sockets() -> io::Result<TcpSockets> {
    let text = std::fs::read_to_string("/proc/net/sockstat")?;
    let mut sockets = parse(&text, page_kb()).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "/proc/net/sockstat has no TCP line",
        )
    })?;
    sockets.slab_kb = parse_slab_kb(&std::fs::read_to_string("/proc/meminfo")?).unwrap_or(0);
    Ok(sockets)
}

/// The `Slab:` line of `/proc/meminfo`, in kB.
pub fn parse_slab_kb(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("Slab:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The system's page size in kB (`mem` counts pages).
fn page_kb() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4, |bytes| (bytes as u64 / 1024).max(1))
}

/// The local ports one source address has towards one destination: the size of the
/// ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`), 28,232 by default.
pub fn ephemeral_ports() -> u64 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut ends = text.split_whitespace().map(|n| n.parse::<u64>().ok());
            let (low, high) = (ends.next()??, ends.next()??);
            Some(high.saturating_sub(low) + 1)
        })
        .unwrap_or(28_232)
}

/// The `TCP:` line of sockstat's text, with pages of `page_kb` kB.
pub fn parse(text: &str, page_kb: u64) -> Option<TcpSockets> {
    let line = text.lines().find(|l| l.starts_with("TCP:"))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    let value = |key: &str| -> Option<u64> {
        let at = fields.iter().position(|f| *f == key)?;
        fields.get(at + 1)?.parse().ok()
    };
    Some(TcpSockets {
        in_use: value("inuse")?,
        mem_kb: value("mem")? * page_kb,
        slab_kb: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_tcp_line() {
        let text = "sockets: used 200133\n\
                    TCP: inuse 200010 orphan 0 tw 3 alloc 200012 mem 2510\n\
                    UDP: inuse 0 mem 0\n";
        assert_eq!(
            parse(text, 4),
            Some(TcpSockets {
                in_use: 200_010,
                mem_kb: 10_040,
                slab_kb: 0,
            })
        );
        let meminfo = "MemTotal: 24000000 kB\nSlab:             123456 kB\n";
        assert_eq!(parse_slab_kb(meminfo), Some(123_456));
        assert_eq!(parse("UDP: inuse 0 mem 0\n", 4), None);
    }

    #[test]
    fn reads_this_machine() {
        let now = tcp_sockets().unwrap();
        assert!(now.mem_kb < 1 << 40);
        assert!(now.slab_kb > 0, "a running kernel has slab memory");
    }
}
