//! The whole machine's CPU time from `/proc/stat` (proc(5), the `cpu` line): how much of
//! it went to other virtual machines (steal) and how much was busy at all; and, from
//! [`super::others`], how much other processes took: so a comparison can tell what else
//! used the machine while it measured.

use std::fs;
use std::io;

use super::others::OtherCpu;

/// The machine's CPU time so far, summed over every CPU, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostTimes {
    /// Time the CPUs ran anything: user, nice, system, irq, softirq.
    pub busy_ns: u64,
    /// Time the hypervisor ran another guest on one of our CPUs (steal).
    pub steal_ns: u64,
    /// All the time there was: busy, idle, iowait and steal.
    pub total_ns: u64,
    /// CPU that processes other than the measuring ones took (see [`super::others`]);
    /// 0 in runs written before it was counted.
    #[serde(default)]
    pub others_ns: u64,
}

/// The machine's times and every other process's CPU at the start of a run.
#[derive(Debug, Clone)]
pub struct HostWatch {
    times: HostTimes,
    others: OtherCpu,
    server: Option<u32>,
}

impl HostWatch {
    /// Starts watching; `server` is the tree whose CPU is measured (not another's).
    pub fn start(server: Option<u32>) -> Option<Self> {
        Some(Self {
            times: HostTimes::now().ok()?,
            others: OtherCpu::now(server),
            server,
        })
    }

    /// What happened since the start.
    pub fn finish(&self) -> Option<HostTimes> {
        let mut times = HostTimes::now().ok()?.since(&self.times);
        times.others_ns = OtherCpu::now(self.server).since(&self.others);
        Some(times)
    }
}

impl HostTimes {
    /// Reads `/proc/stat` now.
    pub fn now() -> io::Result<Self> {
        let text = fs::read_to_string("/proc/stat")?;
        let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100) as u64;
        parse_stat_cpu(&text, 1_000_000_000 / ticks.max(1))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "/proc/stat has no cpu line"))
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            busy_ns: self.busy_ns.saturating_sub(earlier.busy_ns),
            steal_ns: self.steal_ns.saturating_sub(earlier.steal_ns),
            total_ns: self.total_ns.saturating_sub(earlier.total_ns),
            others_ns: self.others_ns.saturating_sub(earlier.others_ns),
        }
    }
}

/// Parses the aggregate `cpu` line: user nice system idle iowait irq softirq steal
/// (guest time is already inside user and nice).
pub fn parse_stat_cpu(text: &str, ns_per_tick: u64) -> Option<HostTimes> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_ascii_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let at = |i: usize| f.get(i).copied().unwrap_or(0) * ns_per_tick;
    let busy = at(0) + at(1) + at(2) + at(5) + at(6);
    let steal = at(7);
    Some(HostTimes {
        busy_ns: busy,
        steal_ns: steal,
        total_ns: busy + at(3) + at(4) + steal,
        others_ns: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_busy_steal_and_total_from_the_cpu_line() {
        let text = "cpu  100 5 50 1000 20 3 2 7 0 0\ncpu0 50 2 25 500 10 1 1 3 0 0\n";
        let t = parse_stat_cpu(text, 10).unwrap();
        assert_eq!(t.busy_ns, (100 + 5 + 50 + 3 + 2) * 10);
        assert_eq!(t.steal_ns, 70);
        assert_eq!(t.total_ns, (160 + 1000 + 20 + 7) * 10);
        assert!(parse_stat_cpu("intr 5\n", 10).is_none());
    }

    #[test]
    fn the_machine_advances() {
        let a = HostTimes::now().unwrap();
        let spin = std::time::Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(50) {}
        let d = HostTimes::now().unwrap().since(&a);
        assert!(
            d.busy_ns >= 20_000_000,
            "50 ms of spinning, {} ns busy",
            d.busy_ns
        );
        assert!(d.total_ns >= d.busy_ns);
    }
}
