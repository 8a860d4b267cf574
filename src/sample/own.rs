//! The load generator's own cost, from getrusage(2) on itself: it tells whether the
//! client, rather than the server, was the bottleneck of a run.

use std::io;

use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::time::TimeValLike;
use serde::{Deserialize, Serialize};

/// CPU time and peak RSS of the calling process since it started; the JSON `client`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct OwnUsage {
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    pub rss_peak_kb: u64,
    /// The process's CPU clock (CLOCK_PROCESS_CPUTIME_ID), in nanoseconds. Absent (0) in
    /// reports written before it existed.
    #[serde(default)]
    pub cpu_ns: u64,
}

impl OwnUsage {
    /// The CPU spent between `earlier` and `self`; the peak RSS stays `self`'s.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            cpu_user_s: (self.cpu_user_s - earlier.cpu_user_s).max(0.0),
            cpu_sys_s: (self.cpu_sys_s - earlier.cpu_sys_s).max(0.0),
            rss_peak_kb: self.rss_peak_kb,
            cpu_ns: self.cpu_ns.saturating_sub(earlier.cpu_ns),
        }
    }
}

/// This process's CPU user and system seconds and peak RSS (ru_maxrss, in kB on Linux).
pub fn own_usage() -> io::Result<OwnUsage> {
    let usage = getrusage(UsageWho::RUSAGE_SELF).map_err(io::Error::from)?;
    let seconds = |tv: nix::sys::time::TimeVal| tv.num_microseconds() as f64 / 1e6;
    Ok(OwnUsage {
        cpu_user_s: seconds(usage.user_time()),
        cpu_sys_s: seconds(usage.system_time()),
        rss_peak_kb: u64::try_from(usage.max_rss()).unwrap_or(0),
        cpu_ns: super::procfs::process_cpu_ns(std::process::id()).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_usage_is_plausible() {
        let before = own_usage().unwrap();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let after = own_usage().unwrap();
        assert!(after.rss_peak_kb > 0);
        let spent = after.since(&before);
        assert!(spent.cpu_user_s >= 0.0 && spent.cpu_sys_s >= 0.0);
    }
}
