//! The kernel's TCP counters that tell why connections are lost, from the `TcpExt:`
//! lines of `/proc/net/netstat` (this network namespace, since boot): a full accept
//! queue, memory pressure, aborts. A run reads them before and after; the growth says
//! what the kernel did meanwhile (whoever's connections it was).

use std::io;

use serde::{Deserialize, Serialize};

/// The counters read, by the name `/proc/net/netstat` gives them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpCounters {
    /// A handshake completed into a full accept queue (`ListenOverflows`).
    pub listen_overflows: u64,
    /// Handshakes a listener dropped, for any reason, overflows included (`ListenDrops`).
    pub listen_drops: u64,
    /// SYN cookies sent when a listener's SYN queue was full (`SyncookiesSent`).
    pub syncookies_sent: u64,
    /// SYNs dropped at a full SYN queue without cookies (`TCPReqQFullDrop`).
    pub syn_queue_drops: u64,
    /// Times TCP's memory entered pressure, past `tcp_mem`'s second value
    /// (`TCPMemoryPressures`).
    pub memory_pressures: u64,
    /// Connections reset because TCP's memory passed `tcp_mem`'s third value
    /// (`TCPAbortOnMemory`).
    pub aborts_on_memory: u64,
    /// Connections reset after their retransmissions ran out (`TCPAbortOnTimeout`).
    pub aborts_on_timeout: u64,
}

impl TcpCounters {
    /// Reads `/proc/net/netstat` now.
    pub fn now() -> io::Result<Self> {
        parse(&std::fs::read_to_string("/proc/net/netstat")?).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "/proc/net/netstat has no TcpExt lines",
            )
        })
    }

    /// What grew between `earlier` and `self`.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            listen_overflows: self
                .listen_overflows
                .saturating_sub(earlier.listen_overflows),
            listen_drops: self.listen_drops.saturating_sub(earlier.listen_drops),
            syncookies_sent: self.syncookies_sent.saturating_sub(earlier.syncookies_sent),
            syn_queue_drops: self.syn_queue_drops.saturating_sub(earlier.syn_queue_drops),
            memory_pressures: self
                .memory_pressures
                .saturating_sub(earlier.memory_pressures),
            aborts_on_memory: self
                .aborts_on_memory
                .saturating_sub(earlier.aborts_on_memory),
            aborts_on_timeout: self
                .aborts_on_timeout
                .saturating_sub(earlier.aborts_on_timeout),
        }
    }
}

/// The counters out of `/proc/net/netstat`'s text: a line of names, then a line of
/// values, each starting `TcpExt:`. A counter the kernel lacks reads 0.
pub fn parse(text: &str) -> Option<TcpCounters> {
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let names = lines.next()?.split_whitespace().skip(1);
    let values = lines.next()?.split_whitespace().skip(1);
    let mut c = TcpCounters::default();
    for (name, value) in names.zip(values) {
        let slot = match name {
            "ListenOverflows" => &mut c.listen_overflows,
            "ListenDrops" => &mut c.listen_drops,
            "SyncookiesSent" => &mut c.syncookies_sent,
            "TCPReqQFullDrop" => &mut c.syn_queue_drops,
            "TCPMemoryPressures" => &mut c.memory_pressures,
            "TCPAbortOnMemory" => &mut c.aborts_on_memory,
            "TCPAbortOnTimeout" => &mut c.aborts_on_timeout,
            _ => continue,
        };
        *slot = value.parse().ok()?;
    }
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_tcpext_lines_and_takes_differences() {
        let text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPMemoryPressures TCPAbortOnMemory Other\n\
                    TcpExt: 84 2072 2073 3 1 99\n\
                    IpExt: InNoRoutes\nIpExt: 0\n";
        let before = parse(text).unwrap();
        assert_eq!(before.listen_overflows, 2072);
        assert_eq!(before.listen_drops, 2073);
        assert_eq!(before.syncookies_sent, 84);
        assert_eq!(before.memory_pressures, 3);
        assert_eq!(before.aborts_on_memory, 1);
        assert_eq!(before.syn_queue_drops, 0, "absent here");
        let after = TcpCounters {
            listen_overflows: 2100,
            ..before
        };
        assert_eq!(after.since(&before).listen_overflows, 28);
        assert_eq!(after.since(&before).listen_drops, 0);
        assert!(parse("IpExt: a\nIpExt: 1\n").is_none());
        assert!(parse("TcpExt: ListenOverflows\nTcpExt: x\n").is_none());
    }

    #[test]
    fn reads_this_machine() {
        let now = TcpCounters::now().unwrap();
        assert!(now.listen_drops >= now.listen_overflows);
    }
}
