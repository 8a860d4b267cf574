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
    /// Two processes' cost together: their CPU summed, and the sum of their peak RSS
    /// (each its own peak, so the sum bounds what they held at once).
    pub fn plus(&self, other: &Self) -> Self {
        Self {
            cpu_user_s: self.cpu_user_s + other.cpu_user_s,
            cpu_sys_s: self.cpu_sys_s + other.cpu_sys_s,
            rss_peak_kb: self.rss_peak_kb + other.rss_peak_kb,
            cpu_ns: self.cpu_ns + other.cpu_ns,
        }
    }

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

/// Spinning the CPU for the tests that check a CPU figure against CPU really spent.
#[cfg(test)]
pub(crate) mod spin {
    use std::time::{Duration, Instant};

    use nix::time::{clock_gettime, ClockId};

    /// The CPU time the calling thread has used.
    pub fn thread_cpu() -> Duration {
        clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
            .expect("the thread CPU clock")
            .into()
    }

    /// Spins until this thread has used `cpu` more CPU time; returns how much it used.
    pub fn burn(cpu: Duration) -> Duration {
        let start = thread_cpu();
        let mut x = 0u64;
        while thread_cpu() - start < cpu {
            for i in 0..10_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            std::hint::black_box(x);
        }
        thread_cpu() - start
    }

    /// Spins until `wall` has passed; returns the CPU time this thread got meanwhile
    /// (all of it on an idle machine, its share of a core on a busy one).
    pub fn spin_for(wall: Duration) -> Duration {
        let (start, until) = (thread_cpu(), Instant::now() + wall);
        let mut x = 0u64;
        while Instant::now() < until {
            for i in 0..10_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            std::hint::black_box(x);
        }
        thread_cpu() - start
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The process's CPU time includes what this thread burns (other test threads only
    /// add to it), however busy the machine: the burn is measured in CPU time.
    #[test]
    fn own_usage_counts_the_cpu_burned() {
        let before = own_usage().unwrap();
        let burned = spin::burn(Duration::from_millis(200)).as_secs_f64();
        let after = own_usage().unwrap();
        assert!(after.rss_peak_kb > 0);
        let spent = after.since(&before);
        let cpu = spent.cpu_user_s + spent.cpu_sys_s;
        assert!(
            cpu >= 0.5 * burned,
            "{cpu:.3} s of CPU counted, {burned:.3} s burned"
        );
        assert!(
            spent.cpu_user_s > 0.0,
            "a busy loop is user time: {spent:?}"
        );
    }
}
