//! The CPU that other processes took while a run measured: every process on the machine
//! but the measuring process, its ancestors and descendants (compare, bench's parts) and
//! the server's tree, each by its own CPU clock.
//!
//! This is what "interference" means, and it is not the machine's busy time less ours:
//! `/proc/stat` counts busy time by sampling each CPU at the scheduler tick, while a
//! process's CPU clock is the scheduler's exact runtime, and the two part by several
//! percent of a core under a server that sleeps and wakes thousands of times a second
//! (the tick lands in the wake-ups and interrupts around a short run more often than
//! their length says). That gap is no other process's doing; [`OtherCpu`] leaves it out
//! by counting other processes directly. A process that starts and ends inside the run
//! is not seen; one that started inside it counts whole.

use std::collections::{HashMap, HashSet};
use std::fs;

use super::procfs::{self, parse_stat};

/// Every process's CPU at one moment, less the excluded ones.
#[derive(Debug, Clone, Default)]
pub struct OtherCpu {
    /// (pid, start time) -> CPU nanoseconds so far.
    cpu: HashMap<(u32, u64), u64>,
}

impl OtherCpu {
    /// Reads every process now, except this process, its ancestors and descendants, and
    /// `server`'s tree.
    pub fn now(server: Option<u32>) -> Self {
        Self::seen_by(std::process::id(), server)
    }

    /// Every process now, except `me`, its ancestors and descendants, and `server`'s tree.
    fn seen_by(me: u32, server: Option<u32>) -> Self {
        let table = process_table();
        let excluded = excluded(&table, me, server);
        let cpu = table
            .iter()
            .filter(|(pid, _)| !excluded.contains(pid))
            .filter_map(|(&pid, &(_, start))| Some(((pid, start), procfs::process_cpu_ns(pid)?)))
            .collect();
        Self { cpu }
    }

    /// The CPU nanoseconds other processes used between `earlier` and `self`: the
    /// growth of those seen both times, and all of those that started since.
    pub fn since(&self, earlier: &Self) -> u64 {
        self.cpu
            .iter()
            .map(|(key, &ns)| ns.saturating_sub(earlier.cpu.get(key).copied().unwrap_or(0)))
            .fold(0u64, u64::saturating_add)
    }
}

/// pid -> (parent, start time), for every process that can be read.
fn process_table() -> HashMap<u32, (u32, u64)> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.filter_map(|entry| {
        let pid = entry.ok()?.file_name().to_str()?.parse::<u32>().ok()?;
        let stat = parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
        Some((pid, (stat.ppid, stat.starttime)))
    })
    .collect()
}

/// `me`, its ancestors, and the descendants of `me` and of `server`.
fn excluded(table: &HashMap<u32, (u32, u64)>, me: u32, server: Option<u32>) -> HashSet<u32> {
    let mut out = HashSet::new();
    let mut at = me;
    while at > 1 && out.insert(at) {
        at = table.get(&at).map_or(0, |&(ppid, _)| ppid);
    }
    let mut roots: Vec<u32> = std::iter::once(me).chain(server).collect();
    let mut by_parent: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&pid, &(ppid, _)) in table {
        by_parent.entry(ppid).or_default().push(pid);
    }
    while let Some(pid) = roots.pop() {
        out.insert(pid);
        roots.extend(
            by_parent
                .get(&pid)
                .into_iter()
                .flatten()
                .filter(|p| !out.contains(p)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::time::Duration;

    use super::*;

    fn table(rows: &[(u32, u32)]) -> HashMap<u32, (u32, u64)> {
        rows.iter().map(|&(pid, ppid)| (pid, (ppid, 0))).collect()
    }

    #[test]
    fn ancestors_descendants_and_the_server_tree_are_ours() {
        // 1 -> 10 (shell) -> 20 (compare) -> 30 (bench) -> 31 (a part);
        // 20 -> 40 (server) -> 41 (worker); 1 -> 50 (someone else) -> 51.
        let t = table(&[
            (10, 1),
            (20, 10),
            (30, 20),
            (31, 30),
            (40, 20),
            (41, 40),
            (50, 1),
            (51, 50),
        ]);
        let ours = excluded(&t, 30, Some(40));
        for pid in [10, 20, 30, 31, 40, 41] {
            assert!(ours.contains(&pid), "{pid} is ours: {ours:?}");
        }
        assert!(!ours.contains(&50) && !ours.contains(&51) && !ours.contains(&1));
        let without_server = excluded(&t, 30, None);
        assert!(!without_server.contains(&41));
    }

    #[test]
    fn growth_of_those_seen_twice_and_all_of_newcomers() {
        let at = |rows: &[((u32, u64), u64)]| OtherCpu {
            cpu: rows.iter().copied().collect(),
        };
        let before = at(&[((7, 1), 100), ((8, 1), 50), ((9, 1), 900)]);
        // 7 grew by 20; 8 is a new process on a reused pid (other start): all 30 count;
        // 9 exited: nothing; 11 started since: all 5 count.
        let after = at(&[((7, 1), 120), ((8, 2), 30), ((11, 3), 5)]);
        assert_eq!(after.since(&before), 20 + 30 + 5);
    }

    #[test]
    fn a_strangers_cpu_counts_and_our_childs_does_not() {
        let mut spinner = Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .expect("sh");
        // The same moments seen by this process, whose child spins, and by a process
        // that does not exist, to which the spinning child is a stranger's.
        let (ours_before, stranger_before) =
            (OtherCpu::now(None), OtherCpu::seen_by(u32::MAX, None));
        std::thread::sleep(Duration::from_millis(300));
        let (ours_after, stranger_after) = (OtherCpu::now(None), OtherCpu::seen_by(u32::MAX, None));
        spinner.kill().expect("the spinner");
        spinner.wait().expect("the spinner");
        let ours = ours_after.since(&ours_before);
        let strangers = stranger_after.since(&stranger_before);
        assert!(
            strangers >= ours + 100_000_000,
            "a child's 300 ms of spinning: {strangers} ns to a stranger, {ours} ns to us"
        );
    }
}
