//! Pinning this process to a set of CPUs (sched_setaffinity(2)), before it starts any
//! thread or child, which inherit the set: a comparison puts the server and its load
//! generator on different cores.

use std::io;

use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;

use crate::error::UsageError;

/// Restricts this process to `cpus` (0-based CPU numbers). Call it before any thread is
/// started: threads started earlier keep the CPUs they had.
pub fn pin(cpus: &[usize]) -> io::Result<()> {
    let mut set = CpuSet::new();
    for &cpu in cpus {
        set.set(cpu).map_err(io::Error::from)?;
    }
    sched_setaffinity(Pid::from_raw(0), &set).map_err(io::Error::from)
}

/// A set of CPUs given on the command line (`--cpus 0,2-3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

impl CpuList {
    /// Parses a CPU list as `taskset -c` takes it ([`parse_list`]).
    pub fn parse(text: &str) -> Result<Self, String> {
        parse_list(text).map(Self)
    }

    /// Restricts this process to these CPUs ([`pin`]): a set this machine cannot give
    /// is a usage error that names its CPUs.
    pub fn pin(&self) -> Result<(), UsageError> {
        pin(&self.0).map_err(|err| {
            let online = std::thread::available_parallelism().map_or(1, |n| n.get());
            UsageError(format!(
                "--cpus {}: {err} (this machine's CPUs are 0-{})",
                self.to_arg(),
                online - 1
            ))
        })
    }

    /// As `taskset -c` writes it back: `0,2,3`.
    pub fn to_arg(&self) -> String {
        list_arg(&self.0)
    }
}

/// A CPU list as `--cpus` takes it: `0,2,3`.
pub fn list_arg(cpus: &[usize]) -> String {
    let cpus: Vec<String> = cpus.iter().map(usize::to_string).collect();
    cpus.join(",")
}

/// Parses a CPU list as `taskset -c` takes it: `0`, `1-3`, `0,2-3`.
pub fn parse_list(text: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in text.split(',').map(str::trim) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let num = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| format!("'{text}' is not a CPU list such as 0,2-3"))
        };
        let (lo, hi) = (num(lo)?, num(hi)?);
        if lo > hi || hi >= CpuSet::count() {
            return Err(format!("'{part}' is not a range of CPUs"));
        }
        cpus.extend(lo..=hi);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_lists_as_taskset_does() {
        assert_eq!(parse_list("0").unwrap(), [0]);
        assert_eq!(parse_list("1-3").unwrap(), [1, 2, 3]);
        assert_eq!(parse_list("3,0-1,1").unwrap(), [0, 1, 3]);
        assert!(parse_list("2-1").is_err());
        assert!(parse_list("a").is_err());
        assert!(parse_list("").is_err());
    }
}
