//! Several bench runs as one, exactly: the runs of bench's own processes (a hold past
//! one process's descriptors), or runs made on several machines against one server
//! (`iomodels merge`).
//!
//! Exact means the merged figures are those one run would have recorded: histograms are
//! added bucket by bucket (same HdrHistogram bounds everywhere, so no sample moves),
//! counts and errors are summed, and percentiles are read from the sum, never averaged.
//! The throughput is the sum of each run's own rate, which is the rate while all of
//! them ran: the window the runs share is what the merged duration gives, and how far
//! apart they started is reported beside it.

use hdrhistogram::Histogram;
use thiserror::Error;

use super::run::{round3, BenchRun, PartRow, BENCH_VERSION};
use crate::sample::OwnUsage;
use crate::stats::{decode_v2_base64, encode_v2_base64, Errors, Summary};

/// Why runs cannot be merged; each names the run by its position (1-based).
#[derive(Debug, Error, PartialEq)]
pub enum MergeError {
    #[error("nothing to merge")]
    Empty,
    #[error("run {index} is of version {found}, not {BENCH_VERSION}: merge runs of this iomodels")]
    Version { index: usize, found: u32 },
    #[error("run {index} is a {found} run, run 1 a {expected} run: merge runs of one workload")]
    Workload {
        index: usize,
        found: String,
        expected: String,
    },
    #[error("run {index} measured {found}, run 1 {expected}: merge runs of one target")]
    Target {
        index: usize,
        found: String,
        expected: String,
    },
    #[error("run {index} has no {what}: it was not written by `iomodels bench --json`")]
    Missing { index: usize, what: &'static str },
    #[error("the runs' {field} add up to more than a count holds (2^64): they are not counts runs measured")]
    Overflow { field: String },
    #[error("the runs' windows do not overlap (run {later} started {gap_s:.1} s after run {earlier} ended)")]
    Disjoint {
        earlier: usize,
        later: usize,
        gap_s: f64,
    },
    #[error("run {later} is run {earlier} again (made by {origin}, same start, length and requests): merge each run once")]
    Repeated {
        earlier: usize,
        later: usize,
        origin: String,
    },
}

/// How close two starts (or lengths) of one origin must be to be one run's: they are
/// kept to the millisecond, and a merged run gives its parts' starts as offsets from
/// its own.
const SAME_START_S: f64 = 0.002;

/// One run from `runs`, exactly (see the module documentation).
pub fn merge(runs: &[BenchRun]) -> Result<BenchRun, MergeError> {
    let first = runs.first().ok_or(MergeError::Empty)?;
    let windows = check(runs)?;
    other_counts_fit(runs)?;
    once_each(runs)?;
    let start = windows.iter().map(|w| w.0).fold(f64::INFINITY, f64::min);
    let shared = shared_window(&windows)?;
    let mut latency = Merged::default();
    let mut connect = Merged::default();
    let mut session = Merged::default();
    let mut errors = Errors::default();
    for (index, run) in runs.iter().enumerate() {
        let index = index + 1;
        latency.add(run.histogram.as_deref(), index, "latency histogram")?;
        connect.add(run.connect_histogram.as_deref(), index, "connect histogram")?;
        if run.sessions.is_some() {
            session.add(run.session_histogram.as_deref(), index, "session histogram")?;
        }
        errors.add(&run.errors);
    }
    let mut merged = BenchRun {
        workload: first.workload.clone(),
        target: first.target.clone(),
        connections: sum_usize(runs, "connections", |r| r.connections)?,
        duration_s: round3(shared),
        requests: sum(runs, "requests", |r| r.requests)?,
        throughput_per_s: round3(runs.iter().map(rate).sum()),
        errors,
        latency_us: latency.summary(),
        connect_us: connect.summary(),
        held: sum_some(runs, "held", |r| r.held)?,
        server: runs.iter().find_map(|r| r.server),
        client: client_sum(runs),
        histogram: Some(latency.encoded()),
        threads: sum_usize(runs, "threads", |r| r.threads)?,
        connections_opened: sum(runs, "connections_opened", |r| r.connections_opened)?,
        held_peak: sum_some(runs, "held_peak", |r| r.held_peak)?,
        starved: sum_some(runs, "starved", |r| r.starved)?,
        sessions: sum_some(runs, "sessions", |r| r.sessions)?,
        session_us: first.sessions.is_some().then(|| session.summary()),
        host: None,
        version: Some(BENCH_VERSION),
        connect_histogram: Some(connect.encoded()),
        session_histogram: first.sessions.is_some().then(|| session.encoded()),
        started_at: Some(start),
        origin: None,
        ramp_s: ramp(runs, &windows, start),
        memory: None,
        limits: None,
        losses: None,
        parts: Some(parts(runs, &windows, start)),
        start_spread_s: Some(round3(
            windows
                .iter()
                .map(|w| w.0)
                .fold(f64::NEG_INFINITY, f64::max)
                - start,
        )),
        server_cpu_us_per_request: None,
    };
    merged.server_cpu_us_per_request = merged.server_cpu_us_per_request().map(round3);
    Ok(merged)
}

/// `counts` added up; an overflow is an error naming `field`.
fn add_up(field: &str, mut counts: impl Iterator<Item = u64>) -> Result<u64, MergeError> {
    counts
        .try_fold(0u64, u64::checked_add)
        .ok_or_else(|| MergeError::Overflow {
            field: field.to_string(),
        })
}

/// The sum of one count over the runs ([`add_up`]).
fn sum(runs: &[BenchRun], field: &str, count: fn(&BenchRun) -> u64) -> Result<u64, MergeError> {
    add_up(field, runs.iter().map(count))
}

/// [`sum`] of a count every run has, else `None`.
fn sum_some(
    runs: &[BenchRun],
    field: &str,
    count: fn(&BenchRun) -> Option<u64>,
) -> Result<Option<u64>, MergeError> {
    if runs.iter().any(|run| count(run).is_none()) {
        return Ok(None);
    }
    add_up(field, runs.iter().filter_map(count)).map(Some)
}

/// [`sum`] of a count kept as a `usize`.
fn sum_usize(
    runs: &[BenchRun],
    field: &str,
    count: fn(&BenchRun) -> usize,
) -> Result<usize, MergeError> {
    let total = add_up(field, runs.iter().map(|run| count(run) as u64))?;
    usize::try_from(total).map_err(|_| MergeError::Overflow {
        field: field.to_string(),
    })
}

/// Checks that the counts [`Errors::add`] and [`OwnUsage::plus`] add (each kind of
/// error and all of them, the clients' memory and CPU time) fit in a count.
fn other_counts_fit(runs: &[BenchRun]) -> Result<(), MergeError> {
    let kinds = Errors::default().by_kind().len();
    let mut every_kind = Vec::with_capacity(kinds);
    for kind in 0..kinds {
        let (name, _) = Errors::default().by_kind()[kind];
        let counts = runs.iter().map(|run| run.errors.by_kind()[kind].1);
        every_kind.push(add_up(&format!("errors.{name}"), counts)?);
    }
    add_up("errors", every_kind.into_iter())?;
    sum(runs, "client.rss_peak_kb", |r| r.client.rss_peak_kb)?;
    sum(runs, "client.cpu_ns", |r| r.client.cpu_ns)?;
    Ok(())
}

/// Each run's window (start, end) in Unix seconds, once the runs are known to agree.
fn check(runs: &[BenchRun]) -> Result<Vec<(f64, f64)>, MergeError> {
    let first = &runs[0];
    runs.iter()
        .enumerate()
        .map(|(i, run)| {
            let index = i + 1;
            let found = run.version.unwrap_or(1);
            if found != BENCH_VERSION {
                return Err(MergeError::Version { index, found });
            }
            if run.workload != first.workload {
                return Err(MergeError::Workload {
                    index,
                    found: run.workload.clone(),
                    expected: first.workload.clone(),
                });
            }
            if run.target != first.target {
                return Err(MergeError::Target {
                    index,
                    found: run.target.clone(),
                    expected: first.target.clone(),
                });
            }
            let start = run.started_at.ok_or(MergeError::Missing {
                index,
                what: "start time",
            })?;
            Ok((start, start + run.duration_s))
        })
        .collect()
}

/// Refuses a run given twice, or given beside a merged run that contains it: its
/// requests would be counted twice. A run is known by its row (origin, start, length
/// and requests); a merged run also by its parts' rows.
fn once_each(runs: &[BenchRun]) -> Result<(), MergeError> {
    let rows: Vec<(usize, PartRow)> = runs
        .iter()
        .enumerate()
        .flat_map(|(i, run)| rows_of(run).into_iter().map(move |row| (i + 1, row)))
        .collect();
    for (k, (later, this)) in rows.iter().enumerate() {
        let again = rows[..k]
            .iter()
            .find(|(i, other)| i != later && same_run(other, this));
        if let Some((earlier, _)) = again {
            return Err(MergeError::Repeated {
                earlier: *earlier,
                later: *later,
                origin: this.origin.clone(),
            });
        }
    }
    Ok(())
}

/// The rows of the runs `run` stands for, their starts in Unix seconds: itself, and
/// its parts if it is merged.
fn rows_of(run: &BenchRun) -> Vec<PartRow> {
    let start = run.started_at.unwrap_or(f64::NAN);
    let itself = run.origin.clone().map(|origin| row(run, origin, start));
    let parts = run.parts.iter().flatten().map(|p| PartRow {
        started_after_s: start + p.started_after_s,
        ..p.clone()
    });
    itself.into_iter().chain(parts).collect()
}

fn same_run(a: &PartRow, b: &PartRow) -> bool {
    a.origin == b.origin
        && (a.started_after_s - b.started_after_s).abs() < SAME_START_S
        && (a.duration_s - b.duration_s).abs() < SAME_START_S
        && a.requests == b.requests
}

/// The length of the window every run shared, in seconds; an error if there is none.
fn shared_window(windows: &[(f64, f64)]) -> Result<f64, MergeError> {
    let (latest, later) = windows
        .iter()
        .enumerate()
        .map(|(i, w)| (w.0, i))
        .fold((f64::NEG_INFINITY, 0), |a, b| if b.0 > a.0 { b } else { a });
    let (earliest_end, earlier) = windows
        .iter()
        .enumerate()
        .map(|(i, w)| (w.1, i))
        .fold((f64::INFINITY, 0), |a, b| if b.0 < a.0 { b } else { a });
    if latest > earliest_end {
        return Err(MergeError::Disjoint {
            earlier: earlier + 1,
            later: later + 1,
            gap_s: latest - earliest_end,
        });
    }
    Ok(earliest_end - latest)
}

/// A histogram summed over runs.
#[derive(Default)]
struct Merged(Option<Histogram<u64>>);

impl Merged {
    fn add(
        &mut self,
        encoded: Option<&str>,
        index: usize,
        what: &'static str,
    ) -> Result<(), MergeError> {
        let missing = MergeError::Missing { index, what };
        let histogram =
            decode_v2_base64(encoded.ok_or(missing)?).ok_or(MergeError::Missing { index, what })?;
        match &mut self.0 {
            // Same bounds everywhere (decode_v2_base64 gives the crate's shape).
            Some(sum) => sum.add(&histogram).expect("same-shape histograms"),
            None => self.0 = Some(histogram),
        }
        Ok(())
    }

    fn summary(&self) -> Summary {
        self.0.as_ref().map(Summary::of).unwrap_or_default()
    }

    fn encoded(&self) -> String {
        encode_v2_base64(&self.0.clone().unwrap_or_else(crate::stats::new_histogram))
    }
}

/// A run's own rate: its requests over its own duration.
fn rate(run: &BenchRun) -> f64 {
    if run.duration_s > 0.0 {
        run.requests as f64 / run.duration_s
    } else {
        0.0
    }
}

/// The clients' cost, summed over every process ([`OwnUsage::plus`]).
fn client_sum(runs: &[BenchRun]) -> OwnUsage {
    let sum = runs
        .iter()
        .fold(OwnUsage::default(), |sum, r| sum.plus(&r.client));
    OwnUsage {
        cpu_user_s: round3(sum.cpu_user_s),
        cpu_sys_s: round3(sum.cpu_sys_s),
        ..sum
    }
}

/// hold: from the earliest start until the last run had all its connections held, if
/// every run got there.
fn ramp(runs: &[BenchRun], windows: &[(f64, f64)], start: f64) -> Option<f64> {
    let done = runs
        .iter()
        .zip(windows)
        .map(|(run, w)| run.ramp_s.map(|r| w.0 + r))
        .collect::<Option<Vec<f64>>>()?;
    let last = done.into_iter().fold(f64::NEG_INFINITY, f64::max);
    Some(round3(last - start))
}

fn parts(runs: &[BenchRun], windows: &[(f64, f64)], start: f64) -> Vec<PartRow> {
    runs.iter()
        .zip(windows)
        .enumerate()
        .map(|(i, (run, w))| {
            let origin = run.origin.clone();
            row(
                run,
                origin.unwrap_or_else(|| format!("run {}", i + 1)),
                round3(w.0 - start),
            )
        })
        .collect()
}

/// `run`'s row in a merged run, named `origin`, started `started_after_s`.
fn row(run: &BenchRun, origin: String, started_after_s: f64) -> PartRow {
    PartRow {
        origin,
        started_after_s,
        duration_s: run.duration_s,
        requests: run.requests,
        held: run.held,
        errors: run.errors.total(),
        client_rss_peak_kb: run.client.rss_peak_kb,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::stats::new_histogram;

    /// A hold run of `samples` latencies, started at `start`, lasting `duration` s.
    fn run(samples: &[u64], start: f64, duration: f64) -> BenchRun {
        let mut latency = new_histogram();
        for &s in samples {
            latency.record(s).unwrap();
        }
        let mut connect = new_histogram();
        connect.record(100).unwrap();
        BenchRun {
            workload: "hold".into(),
            target: "127.0.0.1:80".into(),
            connections: 10,
            duration_s: duration,
            requests: samples.len() as u64,
            throughput_per_s: samples.len() as f64 / duration,
            errors: Errors {
                reset: 1,
                ..Errors::default()
            },
            latency_us: Summary::of(&latency),
            connect_us: Summary::of(&connect),
            held: Some(10),
            server: None,
            client: OwnUsage {
                rss_peak_kb: 1000,
                ..OwnUsage::default()
            },
            histogram: Some(encode_v2_base64(&latency)),
            threads: 1,
            connections_opened: 10,
            held_peak: Some(10),
            starved: None,
            sessions: None,
            session_us: None,
            host: None,
            version: Some(BENCH_VERSION),
            connect_histogram: Some(encode_v2_base64(&connect)),
            session_histogram: None,
            started_at: Some(start),
            origin: None,
            ramp_s: Some(1.0),
            memory: None,
            limits: None,
            losses: None,
            parts: None,
            start_spread_s: None,
            server_cpu_us_per_request: None,
        }
    }

    #[test]
    fn counts_are_summed_and_rows_kept() {
        let merged = merge(&[run(&[1, 2, 3], 100.0, 10.0), run(&[4], 100.5, 10.0)]).unwrap();
        assert_eq!(merged.requests, 4);
        assert_eq!(merged.connections, 20);
        assert_eq!(merged.held, Some(20));
        assert_eq!(merged.errors.reset, 2);
        assert_eq!(merged.client.rss_peak_kb, 2000);
        assert_eq!(merged.duration_s, 9.5, "the shared window");
        assert_eq!(merged.start_spread_s, Some(0.5));
        assert_eq!(merged.ramp_s, Some(1.5));
        assert!((merged.throughput_per_s - 0.4).abs() < 1e-9);
        let parts = merged.parts.unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].started_after_s, 0.5);
        assert_eq!(parts[1].origin, "run 2");
    }

    #[test]
    fn runs_that_do_not_belong_together_are_refused() {
        assert_eq!(merge(&[]).unwrap_err(), MergeError::Empty);
        let a = run(&[1], 100.0, 10.0);
        let mut b = run(&[1], 100.0, 10.0);
        b.workload = "http".into();
        assert!(matches!(
            merge(&[a.clone(), b]),
            Err(MergeError::Workload { index: 2, .. })
        ));
        let mut b = run(&[1], 100.0, 10.0);
        b.target = "127.0.0.1:81".into();
        assert!(matches!(
            merge(&[a.clone(), b]),
            Err(MergeError::Target { index: 2, .. })
        ));
        let mut b = run(&[1], 100.0, 10.0);
        b.version = None;
        assert_eq!(
            merge(&[a.clone(), b]).unwrap_err(),
            MergeError::Version { index: 2, found: 1 }
        );
        let mut b = run(&[1], 100.0, 10.0);
        b.histogram = None;
        assert!(matches!(
            merge(&[a.clone(), b]),
            Err(MergeError::Missing { index: 2, .. })
        ));
        let b = run(&[1], 111.0, 10.0);
        let err = merge(&[a, b]).unwrap_err();
        assert!(matches!(
            err,
            MergeError::Disjoint {
                earlier: 1,
                later: 2,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "the runs' windows do not overlap (run 2 started 1.0 s after run 1 ended)"
        );
    }

    #[test]
    fn a_run_given_twice_is_refused() {
        let mut a = run(&[1, 2], 100.0, 10.0);
        a.origin = Some("h pid 7".into());
        let mut b = run(&[3], 100.0, 10.0);
        b.origin = Some("h pid 8".into());
        assert!(
            merge(&[a.clone(), b.clone()]).is_ok(),
            "two processes at once"
        );
        let err = merge(&[a.clone(), b.clone(), a.clone()]).unwrap_err();
        assert_eq!(
            err,
            MergeError::Repeated {
                earlier: 1,
                later: 3,
                origin: "h pid 7".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "run 3 is run 1 again (made by h pid 7, same start, length and requests): \
             merge each run once"
        );
        // A merged run beside one of the runs it holds.
        let mut ab = merge(&[a.clone(), b.clone()]).unwrap();
        assert!(matches!(
            merge(&[ab.clone(), b.clone()]),
            Err(MergeError::Repeated { later: 2, .. })
        ));
        ab.started_at = ab.started_at.map(|s| s + 0.0004);
        assert!(merge(&[b, ab]).is_err(), "starts kept to the millisecond");
        // The same process at another time is another run (its id was reused), and so
        // is one whose figures differ (another machine of the same name and pid).
        let mut later = a.clone();
        later.started_at = Some(105.0);
        assert!(merge(&[a.clone(), later]).is_ok());
        let mut other = run(&[1, 2, 3], 100.0, 10.0);
        other.origin.clone_from(&a.origin);
        assert!(merge(&[a, other]).is_ok());
    }

    #[test]
    fn counts_that_overflow_are_an_error_naming_the_field() {
        let huge = |f: fn(&mut BenchRun)| {
            let mut r = run(&[1], 100.0, 10.0);
            f(&mut r);
            r
        };
        let overflow = |f: fn(&mut BenchRun)| merge(&[huge(f), huge(f)]).unwrap_err().to_string();
        let requests = overflow(|r| r.requests = u64::MAX);
        assert!(
            requests.starts_with("the runs' requests add up to more than"),
            "{requests}"
        );
        assert!(overflow(|r| r.held = Some(u64::MAX / 2 + 1)).contains("runs' held add"));
        assert!(overflow(|r| r.errors.timeout = u64::MAX).contains("errors.timeout"));
        let kinds = overflow(|r| (r.errors.timeout, r.errors.reset) = (u64::MAX / 3, u64::MAX / 3));
        assert!(kinds.contains("runs' errors add"), "{kinds}");
        assert!(overflow(|r| r.client.cpu_ns = u64::MAX).contains("client.cpu_ns"));
        assert!(overflow(|r| r.connections = usize::MAX).contains("connections"));
        let fits = merge(&[huge(|r| r.requests = u64::MAX - 1), run(&[1], 100.0, 10.0)]);
        assert_eq!(
            fits.unwrap().requests,
            u64::MAX,
            "the largest count that fits"
        );
    }

    proptest! {
        /// Merging the parts of a run gives the percentiles of one histogram of all its
        /// samples, whatever the split.
        #[test]
        fn merged_percentiles_equal_those_of_all_samples(
            samples in prop::collection::vec(1u64..10_000_000, 1..400),
            cuts in prop::collection::vec(0usize..400, 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % samples.len()).collect();
            cuts.push(0);
            cuts.push(samples.len());
            cuts.sort_unstable();
            let runs: Vec<BenchRun> = cuts
                .windows(2)
                .map(|w| run(&samples[w[0]..w[1]], 100.0, 10.0))
                .collect();
            let merged = merge(&runs).unwrap();
            let mut all = new_histogram();
            for &s in &samples {
                all.record(s).unwrap();
            }
            prop_assert_eq!(merged.latency_us, Summary::of(&all));
            prop_assert_eq!(merged.requests, samples.len() as u64);
            let decoded = decode_v2_base64(merged.histogram.as_deref().unwrap()).unwrap();
            prop_assert_eq!(decoded, all);
        }
    }
}
