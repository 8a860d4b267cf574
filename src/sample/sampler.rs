//! A background thread that samples a [`ProcessTree`] at a fixed interval, and the
//! arithmetic that turns its snapshots into what the tree cost over the interval.

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::procfs::{ProcessTree, TreeSnapshot};

/// What a process tree cost between the first and the last sample: the JSON `server`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TreeUsage {
    /// CPU seconds spent in the interval, by every process of the tree, including
    /// processes that exited and were reaped within it.
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    /// The same CPU in nanoseconds, from each process's CPU clock (see
    /// [`super::procfs`]): the figure per-request costs are computed from. Absent (0)
    /// in reports written before it existed.
    #[serde(default)]
    pub cpu_ns: u64,
    /// The most memory the tree held at any sample, in kB: PSS summed over its
    /// processes (see [`super::procfs`]). Its JSON key keeps the name it had when it
    /// was RSS (`pss_peak_kb`), so the schemas and older reports still hold.
    #[serde(rename = "rss_peak_kb")]
    pub pss_peak_kb: u64,
    /// The most private dirty memory the tree held at any sample, in kB (see
    /// [`super::procfs::TreeSnapshot::private_dirty_kb`]). Absent (0) in reports written
    /// before it existed.
    #[serde(default)]
    pub private_dirty_peak_kb: u64,
    /// The private dirty memory at the first sample, in kB: the server before the run's
    /// connections, for memory per held connection. Absent (0) in reports written
    /// before it existed.
    #[serde(default)]
    pub private_dirty_start_kb: u64,
    /// Context switches in the interval, summed over every thread seen by a sample.
    pub ctx_voluntary: u64,
    pub ctx_involuntary: u64,
    /// The most threads and processes seen at once.
    pub threads: u32,
    pub processes: u32,
    /// How many samples this summary rests on.
    #[serde(default)]
    pub samples: u32,
}

/// (voluntary, involuntary) context switches of one thread.
type Counters = (u64, u64);

/// Adds snapshots up into a [`TreeUsage`]. CPU counts reaped children through their
/// parent's `cutime`, so the tree total only grows; context switches are tracked per
/// thread (a thread born during the interval starts from zero).
#[derive(Debug, Default)]
pub struct UsageAccumulator {
    first_cpu: Option<(f64, f64)>,
    first_processes: u32,
    last_cpu: (f64, f64),
    first_cpu_ns: u64,
    last_cpu_ns: u64,
    pss_peak_kb: u64,
    private_dirty_peak_kb: u64,
    private_dirty_start_kb: u64,
    threads: u32,
    processes: u32,
    samples: u32,
    /// tid -> (counters at first sight, counters at last sight).
    switches: HashMap<u32, (Counters, Counters)>,
}

impl UsageAccumulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one snapshot into account.
    pub fn add(&mut self, snap: &TreeSnapshot) {
        let first = self.first_cpu.is_none();
        let cpu = (snap.cpu_user_s, snap.cpu_sys_s);
        if first {
            self.first_cpu = Some(cpu);
            self.first_processes = snap.processes;
            self.first_cpu_ns = snap.cpu_ns;
            self.private_dirty_start_kb = snap.private_dirty_kb;
        }
        self.last_cpu = (self.last_cpu.0.max(cpu.0), self.last_cpu.1.max(cpu.1));
        self.last_cpu_ns = self.last_cpu_ns.max(snap.cpu_ns);
        self.pss_peak_kb = self.pss_peak_kb.max(snap.pss_kb);
        self.private_dirty_peak_kb = self.private_dirty_peak_kb.max(snap.private_dirty_kb);
        self.threads = self.threads.max(snap.threads);
        self.processes = self.processes.max(snap.processes);
        self.samples += 1;
        for t in &snap.switches {
            let now = (t.voluntary, t.involuntary);
            let baseline = if first { now } else { (0, 0) };
            self.switches.entry(t.tid).or_insert((baseline, now)).1 = now;
        }
    }

    /// How many processes the tree had at the first snapshot.
    pub fn first_processes(&self) -> u32 {
        self.first_processes
    }

    /// The usage over every snapshot added so far.
    pub fn usage(&self) -> TreeUsage {
        let (u0, s0) = self.first_cpu.unwrap_or_default();
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        let (mut vol, mut invol) = (0, 0);
        for (start, end) in self.switches.values() {
            vol += end.0.saturating_sub(start.0);
            invol += end.1.saturating_sub(start.1);
        }
        TreeUsage {
            cpu_user_s: round((self.last_cpu.0 - u0).max(0.0)),
            cpu_sys_s: round((self.last_cpu.1 - s0).max(0.0)),
            cpu_ns: self.last_cpu_ns.saturating_sub(self.first_cpu_ns),
            pss_peak_kb: self.pss_peak_kb,
            private_dirty_peak_kb: self.private_dirty_peak_kb,
            private_dirty_start_kb: self.private_dirty_start_kb,
            ctx_voluntary: vol,
            ctx_involuntary: invol,
            threads: self.threads,
            processes: self.processes,
            samples: self.samples,
        }
    }
}

/// The longest the last sample waits for the tree to shrink back to its first size.
const SETTLE: Duration = Duration::from_millis(300);

/// Takes the last sample once processes that served the run (a `fork` server's
/// per-connection children) have exited and been reaped, or after [`SETTLE`]: a child's
/// CPU reaches the tree as its parent's `cutime` only when it is reaped, and on some
/// kernels a live child's own counters lag far behind its real use.
fn settle(tree: &ProcessTree, acc: &mut UsageAccumulator) {
    let baseline = acc.first_processes();
    let give_up = Instant::now() + SETTLE;
    loop {
        let Ok(snap) = tree.sample() else { return };
        let shrunk = snap.processes <= baseline;
        acc.add(&snap);
        if shrunk || Instant::now() >= give_up {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Samples a tree on its own thread until [`Sampler::finish`].
#[derive(Debug)]
pub struct Sampler {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<TreeUsage>,
}

impl Sampler {
    /// Takes a first sample now, then one every `interval`.
    pub fn start(tree: ProcessTree, interval: Duration) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sampler".into())
            .spawn(move || {
                let mut acc = UsageAccumulator::new();
                loop {
                    let started = Instant::now();
                    if let Ok(snap) = tree.sample() {
                        acc.add(&snap);
                    }
                    let wait = interval.saturating_sub(started.elapsed());
                    match stopped.recv_timeout(wait) {
                        Err(RecvTimeoutError::Timeout) => continue,
                        // Asked to stop (or the handle is gone): one last sample.
                        _ => break,
                    }
                }
                settle(&tree, &mut acc);
                acc.usage()
            })
            .expect("cannot start the sampler thread");
        Self { stop, thread }
    }

    /// Takes a last sample and returns the usage over the whole interval.
    pub fn finish(self) -> TreeUsage {
        let _ = self.stop.send(());
        self.thread.join().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::procfs::ThreadSwitches;
    use super::*;

    fn snap(cpu: f64, rss: u64, switches: &[(u32, u64, u64)]) -> TreeSnapshot {
        TreeSnapshot {
            at: None,
            cpu_user_s: cpu,
            cpu_sys_s: cpu / 2.0,
            cpu_ns: (cpu * 1.5 * 1e9) as u64,
            pss_kb: rss,
            private_dirty_kb: rss / 2,
            processes: 1,
            threads: switches.len() as u32,
            switches: switches
                .iter()
                .map(|&(tid, voluntary, involuntary)| ThreadSwitches {
                    tid,
                    voluntary,
                    involuntary,
                })
                .collect(),
        }
    }

    #[test]
    fn accumulates_deltas_peaks_and_new_threads() {
        let mut acc = UsageAccumulator::new();
        acc.add(&snap(10.0, 100, &[(1, 50, 5)]));
        acc.add(&snap(11.0, 300, &[(1, 60, 6), (2, 7, 1)]));
        acc.add(&snap(12.5, 200, &[(1, 65, 6)]));
        let usage = acc.usage();
        assert_eq!(usage.cpu_user_s, 2.5);
        assert_eq!(usage.cpu_sys_s, 1.25);
        assert_eq!(
            usage.cpu_ns, 3_750_000_000,
            "the clock figure over the same interval"
        );
        assert_eq!(usage.pss_peak_kb, 300);
        assert_eq!(usage.private_dirty_peak_kb, 150);
        assert_eq!(usage.private_dirty_start_kb, 50, "the first sample's");
        assert_eq!(usage.ctx_voluntary, 15 + 7);
        assert_eq!(usage.ctx_involuntary, 1 + 1);
        assert_eq!(usage.threads, 2);
        assert_eq!(usage.samples, 3);
    }

    /// A child that spins all the time is sampled with about the CPU a spinning thread
    /// gets over the same while: this test's own thread spins beside it, so the bound
    /// holds however busy the machine is. Nor can one single-threaded process use more
    /// CPU than the time that passed. /proc counts CPU in clock ticks (10 ms): both
    /// bounds allow for the rounding.
    #[test]
    fn samples_a_busy_child() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let tree = ProcessTree::new(child.id()).unwrap();
        let started = Instant::now();
        let sampler = Sampler::start(tree, Duration::from_millis(20));
        let spun = crate::sample::own::spin::spin_for(Duration::from_millis(400));
        let usage = sampler.finish();
        let wall = started.elapsed().as_secs_f64();
        child.kill().ok();
        child.wait().unwrap();
        assert!(usage.samples >= 2);
        assert!(usage.processes >= 1);
        assert!(usage.pss_peak_kb > 0);
        let cpu = usage.cpu_user_s + usage.cpu_sys_s;
        let spun = spun.as_secs_f64();
        assert!(
            cpu >= 0.3 * spun - 0.01,
            "the child used {cpu:.3} s of CPU; a spinning thread got {spun:.3} s"
        );
        assert!(cpu <= wall + 0.02, "{cpu:.3} s of CPU in {wall:.3} s");
    }
}
