//! What `bench abuse` found: the well-behaved clients per phase, the outcomes per
//! hostile kind, the flood, the server's memory and life; as JSON and as a summary.

use std::io::{self, Write};

use serde::Serialize;

use super::checker::{AbusePhase, PhaseStats};
use super::outcome::Tally;
use crate::sample::TreeUsage;

/// The whole result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct AbuseRun {
    pub target: String,
    pub proto: &'static str,
    pub duration_s: f64,
    pub well_behaved: WellBehaved,
    /// One entry per hostile kind, in the order they are listed.
    pub hostile: Vec<KindTally>,
    /// The flood, if it ran: how many it tried to hold, and what happened to them.
    pub flood: Option<FloodTally>,
    pub server: ServerHealth,
    /// Why the run failed; empty when it passed.
    pub failures: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WellBehaved {
    pub before: PhaseFigures,
    pub during: PhaseFigures,
    pub after: PhaseFigures,
    /// How long after the abuse ended the first check was answered.
    pub recovery_s: Option<f64>,
}

impl WellBehaved {
    /// The figures of the checkers' three phases (indexed by [`AbusePhase`]).
    pub fn of(phases: &[PhaseStats; 3], recovery_s: Option<f64>) -> Self {
        WellBehaved {
            before: PhaseFigures::from(&phases[AbusePhase::Before as usize]),
            during: PhaseFigures::from(&phases[AbusePhase::During as usize]),
            after: PhaseFigures::from(&phases[AbusePhase::After as usize]),
            recovery_s,
        }
    }
}

/// The well-behaved clients in one phase.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseFigures {
    pub ok: u64,
    pub wrong: u64,
    pub errors: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub first_wrong: Option<String>,
}

impl From<&PhaseStats> for PhaseFigures {
    fn from(stats: &PhaseStats) -> Self {
        let h = &stats.latency;
        let ms = |us: u64| (!h.is_empty()).then(|| us as f64 / 1000.0);
        PhaseFigures {
            ok: stats.ok,
            wrong: stats.wrong,
            errors: stats.errors,
            p50_ms: ms(h.value_at_quantile(0.5)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
            first_wrong: stats.first_wrong.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct KindTally {
    pub kind: &'static str,
    #[serde(flatten)]
    pub tally: Tally,
}

#[derive(Debug, Clone, Serialize)]
pub struct FloodTally {
    pub size: usize,
    #[serde(flatten)]
    pub tally: Tally,
}

/// The server's process tree (with `--server-pid`). Memory is PSS summed over the tree
/// ([`crate::sample::procfs`]), under the `rss_` names it had when it was RSS.
#[derive(Debug, Clone, Serialize)]
pub struct ServerHealth {
    pub alive: bool,
    pub rss_before_kb: Option<u64>,
    pub rss_peak_kb: Option<u64>,
    pub rss_after_kb: Option<u64>,
    /// Whether the memory after the abuse is back near where it started
    /// ([`memory_recovered`]). Reported, never a failure.
    pub rss_recovered: Option<bool>,
    /// CPU seconds (user + system) from the start of the abuse to the end of the run: a
    /// server spinning on EMFILE or on a hostile client shows here.
    pub cpu_s: Option<f64>,
    /// The most processes and threads of the tree seen at once (fork's cap shows here).
    pub processes_peak: Option<u32>,
    pub threads_peak: Option<u32>,
}

impl ServerHealth {
    /// The health of a server found `alive` or not, with the tree's memory (PSS, kB)
    /// before and after the abuse and its usage from the start of the abuse, if sampled.
    pub fn of(
        alive: bool,
        before_kb: Option<u64>,
        usage: Option<TreeUsage>,
        after_kb: Option<u64>,
    ) -> Self {
        ServerHealth {
            alive,
            rss_before_kb: before_kb,
            rss_peak_kb: usage.map(|u| u.pss_peak_kb),
            cpu_s: usage.map(|u| u.cpu_user_s + u.cpu_sys_s),
            processes_peak: usage.map(|u| u.processes),
            threads_peak: usage.map(|u| u.threads),
            rss_after_kb: after_kb,
            rss_recovered: before_kb
                .zip(after_kb)
                .map(|(before, after)| memory_recovered(before, after)),
        }
    }
}

/// How far above its start a server's memory may stay after the abuse and still count
/// as recovered: what remains then is the allocator's and the runtime's bounded caches
/// (the top of each malloc arena, glibc's cache of exited threads' stacks, may's pool
/// of coroutine stacks), not what the abuse made the server hold.
pub const RECOVERY_SLACK_KB: u64 = 4 * 1024;

/// "Near where it started": after <= before + max(4 MiB, 25% of before).
pub fn memory_recovered(before_kb: u64, after_kb: u64) -> bool {
    after_kb <= before_kb + RECOVERY_SLACK_KB.max(before_kb / 4)
}

impl AbuseRun {
    /// The human summary.
    pub fn print(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(
            out,
            "abuse of {} ({}) for {:.1} s",
            self.target, self.proto, self.duration_s
        )?;
        self.well_behaved.print(out)?;
        self.print_hostile(out)?;
        self.server.print(out)?;
        if self.failures.is_empty() {
            writeln!(out, "PASS")?;
        }
        for failure in &self.failures {
            writeln!(out, "FAIL: {failure}")?;
        }
        Ok(())
    }

    fn print_hostile(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "hostile clients (what the server did):")?;
        for kind in &self.hostile {
            writeln!(
                out,
                "  {:<20} {:>5} conns  {}",
                kind.kind,
                kind.tally.connections,
                kind.tally.summary()
            )?;
        }
        if let Some(flood) = &self.flood {
            writeln!(
                out,
                "  {:<20} {:>5} conns  {} (up to {} at once)",
                "flood",
                flood.tally.connections,
                flood.tally.summary(),
                flood.size
            )?;
        }
        Ok(())
    }
}

impl WellBehaved {
    fn print(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "well-behaved clients:")?;
        for (name, phase) in [
            ("before", &self.before),
            ("during", &self.during),
            ("after", &self.after),
        ] {
            writeln!(
                out,
                "  {name:<7} ok {:>6}  wrong {:>3}  errors {:>4}  p50 {:>9}  p99 {:>9}",
                phase.ok,
                phase.wrong,
                phase.errors,
                fmt_ms(phase.p50_ms),
                fmt_ms(phase.p99_ms)
            )?;
        }
        if let Some(recovery) = self.recovery_s {
            writeln!(out, "  served again {recovery:.2} s after the abuse ended")?;
        }
        Ok(())
    }
}

impl ServerHealth {
    /// One line: alive or not, memory, CPU, processes and threads.
    fn print(&self, out: &mut impl Write) -> io::Result<()> {
        write!(out, "server: {}", if self.alive { "alive" } else { "DIED" })?;
        if let (Some(before), Some(peak)) = (self.rss_before_kb, self.rss_peak_kb) {
            write!(
                out,
                ", memory (PSS) {} KiB before, {} KiB peak, {} after",
                before,
                peak,
                self.rss_after_kb
                    .map_or("gone".to_string(), |kb| format!("{kb} KiB"))
            )?;
            if self.rss_recovered == Some(false) {
                write!(out, " (NOT back near the start)")?;
            }
        }
        if let Some(cpu) = self.cpu_s {
            write!(out, ", {cpu:.2} CPU s from the abuse on")?;
        }
        if let (Some(processes), Some(threads)) = (self.processes_peak, self.threads_peak) {
            write!(out, ", at most {processes} processes, {threads} threads")?;
        }
        writeln!(out)
    }
}

fn fmt_ms(ms: Option<f64>) -> String {
    ms.map_or("-".to_string(), |ms| format!("{ms:.2} ms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_the_summary() {
        let phase = |ok| PhaseFigures {
            ok,
            wrong: 0,
            errors: 1,
            p50_ms: Some(1.5),
            p99_ms: None,
            max_ms: None,
            first_wrong: None,
        };
        let mut tally = Tally::default();
        tally.count(super::super::outcome::Fate::Kept, None);
        let run = AbuseRun {
            target: "http://127.0.0.1:1/".into(),
            proto: "http",
            duration_s: 4.25,
            well_behaved: WellBehaved {
                before: phase(3),
                during: phase(4),
                after: phase(5),
                recovery_s: Some(0.5),
            },
            hostile: vec![KindTally {
                kind: "silent",
                tally: tally.clone(),
            }],
            flood: Some(FloodTally { size: 300, tally }),
            server: ServerHealth::of(
                true,
                Some(1000),
                Some(TreeUsage {
                    cpu_user_s: 1.0,
                    cpu_sys_s: 0.25,
                    pss_peak_kb: 5000,
                    processes: 2,
                    threads: 3,
                    ..TreeUsage::default()
                }),
                Some(9000),
            ),
            failures: vec!["the server died".into()],
        };
        let mut out = Vec::new();
        run.print(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "abuse of http://127.0.0.1:1/ (http) for 4.2 s\n\
             well-behaved clients:\n\
             \x20 before  ok      3  wrong   0  errors    1  p50   1.50 ms  p99         -\n\
             \x20 during  ok      4  wrong   0  errors    1  p50   1.50 ms  p99         -\n\
             \x20 after   ok      5  wrong   0  errors    1  p50   1.50 ms  p99         -\n\
             \x20 served again 0.50 s after the abuse ended\n\
             hostile clients (what the server did):\n\
             \x20 silent                   1 conns  kept ×1\n\
             \x20 flood                    1 conns  kept ×1 (up to 300 at once)\n\
             server: alive, memory (PSS) 1000 KiB before, 5000 KiB peak, 9000 KiB after \
             (NOT back near the start), 1.25 CPU s from the abuse on, \
             at most 2 processes, 3 threads\n\
             FAIL: the server died\n"
        );
    }

    #[test]
    fn recovered_within_four_mib_or_a_quarter() {
        assert!(memory_recovered(2_000, 2_000));
        assert!(memory_recovered(2_000, 1_500));
        assert!(memory_recovered(2_000, 2_000 + 4_096));
        assert!(!memory_recovered(2_000, 2_000 + 4_097));
        // A large server gets a quarter of its start.
        assert!(memory_recovered(40_000, 50_000));
        assert!(!memory_recovered(40_000, 50_001));
    }
}
