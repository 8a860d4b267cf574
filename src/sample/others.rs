//! The CPU that other processes took while a run measured: every process on the machine
//! but the measuring process, its ancestors, the server's tree and the tree of the
//! outermost `iomodels` that started it (compare: its other servers, the silent
//! connections of `idle`, bench's parts), each by its own CPU clock.
//!
//! This is what "interference" means, and it is not the machine's busy time less ours:
//! `/proc/stat` counts busy time by sampling each CPU at the scheduler tick (on a
//! kernel without IRQ time accounting), while a process's CPU clock is the scheduler's
//! exact runtime, and work a CPU does while no process runs on it (interrupts and
//! softirqs on an idle CPU) is in the first and in no process's clock. Under a server
//! that sleeps and wakes thousands of times a second the two part by a fifth of a
//! core with nothing else running (docs/results.md, *What "measured under
//! interference" means*); [`OtherCpu`] leaves that gap out by counting other processes
//! directly. A process that starts and ends inside the run
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
            .filter_map(|(&pid, p)| Some(((pid, p.start), procfs::process_cpu_ns(pid)?)))
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

/// What the exclusion needs of a process.
#[derive(Debug, Clone, Copy)]
struct Proc {
    ppid: u32,
    start: u64,
    /// Its command is `iomodels`.
    ours: bool,
}

/// pid -> what [`excluded`] needs, for every process that can be read.
fn process_table() -> HashMap<u32, Proc> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.filter_map(|entry| {
        let pid = entry.ok()?.file_name().to_str()?.parse::<u32>().ok()?;
        let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let stat = parse_stat(&text)?;
        let ours = text.contains("(iomodels)");
        Some((
            pid,
            Proc {
                ppid: stat.ppid,
                start: stat.starttime,
                ours,
            },
        ))
    })
    .collect()
}

/// `me`, its ancestors, and the descendants of `server` and of the outermost of the
/// unbroken line of `iomodels` processes that `me` descends from (itself if its parent
/// is not one): under compare, compare's whole tree.
fn excluded(table: &HashMap<u32, Proc>, me: u32, server: Option<u32>) -> HashSet<u32> {
    let mut out = HashSet::new();
    let (mut at, mut root, mut line_unbroken) = (me, me, true);
    while at > 1 && out.insert(at) {
        let parent = table.get(&at).map_or(0, |p| p.ppid);
        line_unbroken &= table.get(&parent).is_some_and(|p| p.ours);
        if line_unbroken {
            root = parent;
        }
        at = parent;
    }
    let mut roots: Vec<u32> = std::iter::once(root).chain(server).collect();
    let mut by_parent: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&pid, proc_) in table {
        by_parent.entry(proc_.ppid).or_default().push(pid);
    }
    // The ancestors are in `out` already: the walk down keeps its own record.
    let mut seen = HashSet::new();
    while let Some(pid) = roots.pop() {
        if seen.insert(pid) {
            out.insert(pid);
            roots.extend(by_parent.get(&pid).into_iter().flatten());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::time::Duration;

    use super::*;

    /// (pid, parent, is it `iomodels`).
    fn table(rows: &[(u32, u32, bool)]) -> HashMap<u32, Proc> {
        rows.iter()
            .map(|&(pid, ppid, ours)| {
                (
                    pid,
                    Proc {
                        ppid,
                        start: 0,
                        ours,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn ancestors_the_server_tree_and_compares_tree_are_ours() {
        // 1 -> 10 (shell) -> 20 (compare) -> 30 (bench) -> 31 (a part);
        // 20 -> 40 (server) -> 41 (worker); 20 -> 60 (another server), 20 -> 70 (the
        // silent connections of idle); 1 -> 50 (someone else) -> 51.
        let t = table(&[
            (10, 1, false),
            (20, 10, true),
            (30, 20, true),
            (31, 30, true),
            (40, 20, true),
            (41, 40, true),
            (60, 20, true),
            (70, 20, true),
            (50, 1, false),
            (51, 50, false),
        ]);
        let ours = excluded(&t, 30, Some(40));
        for pid in [10, 20, 30, 31, 40, 41, 60, 70] {
            assert!(ours.contains(&pid), "{pid} is ours: {ours:?}");
        }
        assert!(!ours.contains(&50) && !ours.contains(&51) && !ours.contains(&1));
    }

    #[test]
    fn a_bench_started_from_a_shell_leaves_the_shells_other_jobs_as_others() {
        // 10 (shell) -> 30 (bench) -> 31 (a part); 10 -> 40 (server); 10 -> 50 (a
        // build the user runs beside).
        let t = table(&[
            (10, 1, false),
            (30, 10, true),
            (31, 30, true),
            (40, 10, true),
            (50, 10, false),
        ]);
        let ours = excluded(&t, 30, Some(40));
        for pid in [10, 30, 31, 40] {
            assert!(ours.contains(&pid), "{pid} is ours: {ours:?}");
        }
        assert!(!ours.contains(&50), "the shell's other job is another's");
        assert!(!excluded(&t, 30, None).contains(&40));
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
        // Until the child has spun 150 ms, however long a busy machine takes to give
        // it that: the test is of the accounting, not of the time.
        let give_up = std::time::Instant::now() + Duration::from_secs(20);
        while procfs::process_cpu_ns(spinner.id()).unwrap_or(0) < 150_000_000
            && std::time::Instant::now() < give_up
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let (ours_after, stranger_after) = (OtherCpu::now(None), OtherCpu::seen_by(u32::MAX, None));
        spinner.kill().expect("the spinner");
        spinner.wait().expect("the spinner");
        let ours = ours_after.since(&ours_before);
        let strangers = stranger_after.since(&stranger_before);
        assert!(
            strangers >= ours + 100_000_000,
            "a child's 150 ms of spinning: {strangers} ns to a stranger, {ours} ns to us"
        );
    }
}
