//! Reading a process tree from `/proc`: which processes descend from a root
//! (`/proc/PID/task/TID/children`, or a scan of every `/proc/PID/stat` on kernels
//! without that file), and what each costs (the process's CPU clock,
//! clock_getcpuclockid(3), for its CPU in nanoseconds, live and exited threads alike;
//! proc(5): `stat` for the user/system split, reaped children and threads;
//! `smaps_rollup` for memory; each thread's `status` for context switches, which `stat`
//! does not carry and which the process-level `status` gives for the main thread only).
//!
//! Memory is the proportional set size (PSS): each resident page divided by the number
//! of processes mapping it. Summed over a tree, PSS counts a page that forked processes
//! share once, where RSS would count it once per process (a `fork` server's two
//! figures: docs/results.md, *What a held connection costs in memory*). Where
//! `smaps_rollup` cannot be read
//! (kernels before 4.14, another user's process), a process counts its RSS instead.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::time::Instant;

use nix::unistd::{sysconf, SysconfVar};

/// A process and all its descendants, identified by the root's pid.
#[derive(Debug, Clone)]
pub struct ProcessTree {
    root: u32,
    ticks_per_s: f64,
    page_kb: u64,
}

/// One reading of a whole tree.
#[derive(Debug, Clone, Default)]
pub struct TreeSnapshot {
    pub at: Option<Instant>,
    /// CPU seconds of the live processes, each including its reaped children
    /// (`cutime`): a worker that exited and was waited for still counts, in its parent.
    /// Clock ticks (10 ms): the user/system split; [`Self::cpu_ns`] is the figure.
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    /// CPU nanoseconds of the live processes: each one's CPU clock (every thread, live
    /// or exited, to the nanosecond) plus its reaped children (`cutime + cstime`, the
    /// only part counted in ticks).
    pub cpu_ns: u64,
    /// Memory summed over the live processes, in kB: PSS, or RSS for a process whose
    /// `smaps_rollup` is unreadable (see the module documentation).
    pub pss_kb: u64,
    /// Private dirty memory summed over the live processes, in kB (`Private_Dirty` of
    /// `smaps_rollup`): what the tree wrote and shares with no one. Unlike PSS it does
    /// not fall when another process (a load generator running the same binary) maps
    /// the same file pages, so it is what growth per connection is measured on.
    pub private_dirty_kb: u64,
    pub processes: u32,
    pub threads: u32,
    /// Context switches of every live thread so far.
    pub switches: Vec<ThreadSwitches>,
}

/// One thread's context switch counters (proc(5) `voluntary_ctxt_switches`,
/// `nonvoluntary_ctxt_switches`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadSwitches {
    pub tid: u32,
    pub voluntary: u64,
    pub involuntary: u64,
}

/// The fields of `/proc/PID/stat` the sampler uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatLine {
    pub ppid: u32,
    pub utime: u64,
    pub stime: u64,
    pub cutime: u64,
    pub cstime: u64,
    pub threads: u32,
    /// When the process started, in clock ticks after boot: with the pid, it tells a
    /// process from a later one that reuses its pid.
    pub starttime: u64,
    pub rss_pages: u64,
}

impl ProcessTree {
    /// The tree rooted at `pid`; fails if no such process is visible.
    pub fn new(pid: u32) -> io::Result<Self> {
        fs::metadata(format!("/proc/{pid}/stat"))?;
        let ticks = sysconf(SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100);
        let page = sysconf(SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .unwrap_or(4096);
        Ok(Self {
            root: pid,
            ticks_per_s: ticks as f64,
            page_kb: (page as u64 / 1024).max(1),
        })
    }

    /// The root's pid.
    pub fn root(&self) -> u32 {
        self.root
    }

    /// The root and every live descendant, root first.
    pub fn pids(&self) -> io::Result<Vec<u32>> {
        let mut pids = vec![self.root];
        let mut next = 0;
        while next < pids.len() {
            let pid = pids[next];
            next += 1;
            match children(pid) {
                Ok(kids) => pids.extend(kids),
                Err(err) if err.kind() == io::ErrorKind::NotFound && pid == self.root => {
                    return descendants_by_scan(self.root);
                }
                Err(_) => {} // exited meanwhile
            }
        }
        Ok(pids)
    }

    /// Reads the whole tree now. Fails only if the root itself is gone.
    pub fn sample(&self) -> io::Result<TreeSnapshot> {
        let at = Instant::now();
        let mut snap = TreeSnapshot {
            at: Some(at),
            ..TreeSnapshot::default()
        };
        for pid in self.pids()? {
            let stat = match fs::read_to_string(format!("/proc/{pid}/stat")) {
                Ok(text) => parse_stat(&text),
                Err(err) if pid == self.root => return Err(err),
                Err(_) => continue,
            };
            let Some(stat) = stat else { continue };
            let ticks = self.ticks_per_s;
            snap.cpu_user_s += (stat.utime + stat.cutime) as f64 / ticks;
            snap.cpu_sys_s += (stat.stime + stat.cstime) as f64 / ticks;
            let own_ns = process_cpu_ns(pid)
                .unwrap_or_else(|| ((stat.utime + stat.stime) as f64 * 1e9 / ticks) as u64);
            snap.cpu_ns += own_ns + ((stat.cutime + stat.cstime) as f64 * 1e9 / ticks) as u64;
            let rollup = read_rollup(pid);
            snap.pss_kb += rollup.map_or(stat.rss_pages * self.page_kb, |r| r.0);
            snap.private_dirty_kb += rollup.map_or(0, |r| r.1);
            snap.processes += 1;
            snap.threads += stat.threads;
            thread_switches(pid, &mut snap.switches);
        }
        Ok(snap)
    }
}

/// Parses one `/proc/PID/stat` line. The command name may hold spaces and parentheses,
/// so fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<StatLine> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // After ')': state=0, ppid=1, ..., utime=11, stime=12, cutime=13, cstime=14,
    // num_threads=17, starttime=19, rss=21 (proc(5) fields 3, 4, 14-17, 20, 22, 24).
    let num = |i: usize| fields.get(i)?.parse::<i64>().ok();
    Some(StatLine {
        ppid: u32::try_from(num(1)?).ok()?,
        utime: num(11)?.max(0) as u64,
        stime: num(12)?.max(0) as u64,
        cutime: num(13)?.max(0) as u64,
        cstime: num(14)?.max(0) as u64,
        threads: u32::try_from(num(17)?).ok()?,
        starttime: num(19)?.max(0) as u64,
        rss_pages: num(21)?.max(0) as u64,
    })
}

/// The CPU time of every thread `pid` has had, live or exited, in nanoseconds: its
/// process CPU clock (the scheduler's own `sum_exec_runtime`, not ticks). `None` if the
/// process is gone.
pub fn process_cpu_ns(pid: u32) -> Option<u64> {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).ok()?);
    let clock = nix::time::clock_getcpuclockid(pid).ok()?;
    let t = nix::time::clock_gettime(clock).ok()?;
    u64::try_from(t.tv_sec())
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(u64::try_from(t.tv_nsec()).ok()?)
}

/// How many descriptors a process has open (`/proc/PID/fd`); `None` if it is gone.
/// The directory's size says it (Linux 6.2 on) without listing it: a listing makes a
/// dentry and an inode for every descriptor, which would add a kilobyte of the
/// kernel's memory to each connection a census counts.
pub fn open_descriptors(pid: u32) -> Option<usize> {
    let dir = format!("/proc/{pid}/fd");
    match fs::metadata(&dir).ok()?.len() {
        0 => Some(fs::read_dir(&dir).ok()?.count()),
        n => usize::try_from(n).ok(),
    }
}

/// Parses the `Pss:` line (in kB) out of a `smaps_rollup` file.
pub fn parse_pss_kb(smaps_rollup: &str) -> Option<u64> {
    smaps_rollup.lines().find_map(|line| {
        let kb = line.strip_prefix("Pss:")?.trim().strip_suffix("kB")?;
        kb.trim().parse().ok()
    })
}

/// Parses the `Private_Dirty:` line (in kB) out of a `smaps_rollup` file.
pub fn parse_private_dirty_kb(smaps_rollup: &str) -> Option<u64> {
    smaps_rollup.lines().find_map(|line| {
        let kb = line
            .strip_prefix("Private_Dirty:")?
            .trim()
            .strip_suffix("kB")?;
        kb.trim().parse().ok()
    })
}

/// A process's PSS and private dirty memory in kB, if its `smaps_rollup` can be read.
fn read_rollup(pid: u32) -> Option<(u64, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    Some((
        parse_pss_kb(&text)?,
        parse_private_dirty_kb(&text).unwrap_or(0),
    ))
}

pub use crate::sys::process::is_alive;

/// Parses the two context switch counters out of a `status` file.
pub fn parse_switches(status: &str) -> Option<(u64, u64)> {
    let mut voluntary = None;
    let mut involuntary = None;
    for line in status.lines() {
        if let Some(v) = line.strip_prefix("voluntary_ctxt_switches:") {
            voluntary = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("nonvoluntary_ctxt_switches:") {
            involuntary = v.trim().parse().ok();
        }
    }
    Some((voluntary?, involuntary?))
}

fn task_ids(pid: u32) -> io::Result<Vec<u32>> {
    let mut tids = Vec::new();
    for entry in fs::read_dir(format!("/proc/{pid}/task"))? {
        if let Some(tid) = entry?.file_name().to_str().and_then(|s| s.parse().ok()) {
            tids.push(tid);
        }
    }
    Ok(tids)
}

/// The children of every thread of `pid` (a child belongs to the thread that forked it).
fn children(pid: u32) -> io::Result<Vec<u32>> {
    let mut kids = Vec::new();
    for tid in task_ids(pid)? {
        let text = fs::read_to_string(format!("/proc/{pid}/task/{tid}/children"))?;
        kids.extend(
            text.split_ascii_whitespace()
                .filter_map(|s| s.parse::<u32>().ok()),
        );
    }
    Ok(kids)
}

/// Descendants found by reading every process's parent: for kernels built without
/// `/proc/PID/task/TID/children`.
fn descendants_by_scan(root: u32) -> io::Result<Vec<u32>> {
    let mut by_parent: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in fs::read_dir("/proc")? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(stat) = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|t| parse_stat(&t))
        {
            by_parent.entry(stat.ppid).or_default().push(pid);
        }
    }
    let mut pids = vec![root];
    let mut next = 0;
    while next < pids.len() {
        if let Some(kids) = by_parent.get(&pids[next]) {
            pids.extend(kids);
        }
        next += 1;
    }
    Ok(pids)
}

fn thread_switches(pid: u32, out: &mut Vec<ThreadSwitches>) {
    let Ok(tids) = task_ids(pid) else { return };
    for tid in tids {
        let Ok(status) = fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")) else {
            continue;
        };
        if let Some((voluntary, involuntary)) = parse_switches(&status) {
            out.push(ThreadSwitches {
                tid,
                voluntary,
                involuntary,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_awkward_command_name() {
        let line = "4242 (my (odd) name) S 17 4242 4242 0 -1 4194560 100 0 0 0 \
                    250 75 30 12 20 0 3 0 12345 1000000 321 18446744073709551615";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.ppid, 17);
        assert_eq!((stat.utime, stat.stime), (250, 75));
        assert_eq!((stat.cutime, stat.cstime), (30, 12));
        assert_eq!(stat.threads, 3);
        assert_eq!(stat.rss_pages, 321);
    }

    #[test]
    fn parses_pss_from_smaps_rollup() {
        let rollup = "55d0c4a2e000-7ffd8d1f2000 ---p 00000000 00:00 0    [rollup]\n\
                      Rss:                4236 kB\n\
                      Pss:                2978 kB\n\
                      Pss_Dirty:          1203 kB\n\
                      Pss_Anon:           1100 kB\n\
                      Private_Clean:       310 kB\n\
                      Private_Dirty:      1190 kB\n";
        assert_eq!(parse_pss_kb(rollup), Some(2978));
        assert_eq!(parse_private_dirty_kb(rollup), Some(1190));
        assert_eq!(parse_private_dirty_kb("Private_Clean: 4 kB\n"), None);
        // Pss_Anon and friends are not the total.
        assert_eq!(parse_pss_kb("Rss: 4 kB\nPss_Anon: 3 kB\n"), None);
        assert_eq!(parse_pss_kb(""), None);
    }

    #[test]
    fn parses_switch_counters() {
        let status = "Name:\tx\nThreads:\t1\nvoluntary_ctxt_switches:\t12\n\
                      nonvoluntary_ctxt_switches:\t3\n";
        assert_eq!(parse_switches(status), Some((12, 3)));
        assert_eq!(parse_switches("Name:\tx\n"), None);
    }

    #[test]
    fn samples_own_process_and_finds_a_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let tree = ProcessTree::new(std::process::id()).unwrap();
        let pids = tree.pids().unwrap();
        let snap = tree.sample().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(pids.contains(&child.id()), "{pids:?} lacks {}", child.id());
        assert!(snap.processes >= 2);
        assert!(snap.threads >= 2);
        assert!(snap.pss_kb > 0);
        assert!(!snap.switches.is_empty());
    }

    #[test]
    fn missing_process_is_an_error() {
        assert!(ProcessTree::new(u32::MAX - 1).is_err());
    }
}
