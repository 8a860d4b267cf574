//! `bench hold` past one process: when the connections exceed what one process may
//! hold (its descriptor limit), bench runs several processes of itself, each under the
//! limit; when they exceed one source address's ports towards the target, it spreads
//! them over several source addresses (127.0.0.2, 127.0.0.3, ... for a loopback
//! target). Each part is an ordinary `bench hold` with its share of the connections and
//! of the ramp; it reports its live counters and, at the end, its run to this process
//! as lines on its stdout. The runs are merged exactly ([`crate::results::merge`]) into
//! one report, which also carries this process's own readings: the server's usage, the
//! ramp's length and the kernel's memory.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::config::{BenchConfig, HoldConfig, WorkloadConfig};
use super::engine::{share, LiveTotals, PROGRESS_TICK};
use super::output::Aggregate;
use super::progress::ProgressLine;
use super::watch::HoldWatch;
use crate::error::usage;
use crate::results::merge::merge;
use crate::results::run::BenchRun;
use crate::sample::{own_usage, HostTimes, Sampler};

/// How many of a source address's ephemeral ports a plan uses. connect(2) looks for a
/// free port by walking the range from a random offset, even ports first: once most
/// even ports are taken, every connect walks thousands of taken ones, and the ramp's
/// system time grows with the square of the connections (25,000 connections from one
/// address: 15 s of system CPU for the ramp alone). A quarter of the range keeps the
/// walk short, and leaves ports for connections that reopen while their old ports wait
/// in TIME_WAIT.
const PORTS_USED: f64 = 0.25;

/// How a part reports: `progress REQUESTS ERRORS OPEN` lines while it runs, then one
/// `run JSON` line.
const PROGRESS: &str = "progress";
const RUN: &str = "run";

/// How the connections are spread: over how many processes, from which addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fanout {
    pub processes: usize,
    pub sources: Vec<IpAddr>,
}

/// The plan for `config`'s connections when each process may hold `fits` and each
/// source address has `ports` ports: the sources given, or, for a loopback target that
/// needs more than one address's share, 127.0.0.2 onwards.
pub fn plan(config: &BenchConfig, fits: u64, ports: u64) -> Result<Fanout> {
    let connections = config.workload.connections() as u64;
    let processes = connections.div_ceil(fits.max(1)) as usize;
    if processes > 1 && !matches!(config.workload, WorkloadConfig::Hold(_)) {
        return Err(usage(format!(
            "{connections} connections need more file descriptors than one process may hold \
             (at most {fits} here; see ulimit -n); only bench hold spreads them over processes"
        )));
    }
    let per_source = ((ports as f64 * PORTS_USED) as u64).max(1);
    let needed = connections.div_ceil(per_source) as usize;
    let loopback = config.target.addr.ip().is_loopback() && config.target.addr.is_ipv4();
    let sources = if !config.sources.is_empty() || needed <= 1 {
        config.sources.clone()
    } else if loopback {
        loopback_sources(needed)
    } else {
        Vec::new()
    };
    if processes > 1 && sources.len() < needed {
        return Err(usage(format!(
            "{connections} connections need {needed} source addresses ({per_source} ports each \
             towards one destination here); give them with --source IP,IP,..."
        )));
    }
    Ok(Fanout { processes, sources })
}

/// 127.0.0.2, 127.0.0.3, ...: loopback addresses every Linux machine answers on.
fn loopback_sources(count: usize) -> Vec<IpAddr> {
    (0..count as u32)
        .map(|i| IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 0, 2)) + i)))
        .collect()
}

/// The command line of part `index` of `plan`: the run's own settings with its share
/// of the connections, the ramp and the threads.
fn part_args(config: &BenchConfig, hold: &HoldConfig, plan: &Fanout, index: usize) -> Vec<String> {
    let micros = |d: Duration| format!("{}us", d.as_micros().max(1));
    let (count, first) = share(hold.connections, plan.processes, index);
    let sources: Vec<String> = plan.sources.iter().map(IpAddr::to_string).collect();
    vec![
        "bench".into(),
        "hold".into(),
        config.target.display.clone(),
        "--proto".into(),
        hold.proto.name().into(),
        "--connections".into(),
        count.to_string(),
        "--ramp".into(),
        format!(
            "{}/{}",
            hold.ramp.count.div_ceil(plan.processes),
            micros(hold.ramp.every)
        ),
        "--interval".into(),
        format!("{}..{}", micros(hold.interval.0), micros(hold.interval.1)),
        "--duration".into(),
        micros(hold.duration),
        "--threads".into(),
        config.threads.div_ceil(plan.processes).to_string(),
        "--timeout".into(),
        micros(config.timeout),
        "--source".into(),
        sources.join(","),
        "--first-connection".into(),
        first.to_string(),
        "--part-of".into(),
        std::process::id().to_string(),
    ]
}

/// One running part: the process, its live counters and, once it ends, its run.
struct Part {
    child: Child,
    live: Arc<[AtomicU64; 3]>,
    run: Arc<Mutex<Option<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl Part {
    fn start(args: &[String]) -> Result<Self> {
        let exe = std::env::current_exe().context("cannot find this executable")?;
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start a bench process")?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let live: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
        let run = Arc::new(Mutex::new(None));
        let (l, r) = (Arc::clone(&live), Arc::clone(&run));
        let reader = std::thread::Builder::new()
            .name("bench-part".into())
            .spawn(move || read_reports(stdout, &l, &r))
            .context("cannot start a reader thread")?;
        Ok(Self {
            child,
            live,
            run,
            reader: Some(reader),
        })
    }

    fn totals(&self) -> LiveTotals {
        let [requests, errors, open] = &*self.live;
        LiveTotals {
            requests: requests.load(Ordering::Relaxed),
            errors: errors.load(Ordering::Relaxed),
            open: open.load(Ordering::Relaxed),
        }
    }

    fn signal(&self, signal: Signal) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), signal);
    }

    /// Waits for the process to end and returns its run.
    fn finish(mut self, index: usize, of: usize) -> Result<BenchRun> {
        let status = self
            .child
            .wait()
            .context("cannot wait for a bench process")?;
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let run = self.run.lock().map(|mut r| r.take()).unwrap_or(None);
        match run {
            Some(json) if status.success() => serde_json::from_str(&json).with_context(|| {
                format!(
                    "bench process {} of {of} wrote an unreadable run",
                    index + 1
                )
            }),
            _ => bail!("bench process {} of {of} failed ({status})", index + 1),
        }
    }
}

/// Reads a part's lines until it closes its stdout.
fn read_reports(stdout: impl io::Read, live: &[AtomicU64; 3], run: &Mutex<Option<String>>) {
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if let Some(counts) = line.strip_prefix(PROGRESS) {
            for (slot, n) in live.iter().zip(counts.split_whitespace()) {
                slot.store(n.parse().unwrap_or(0), Ordering::Relaxed);
            }
        } else if let Some(json) = line.strip_prefix(RUN) {
            if let Ok(mut r) = run.lock() {
                *r = Some(json.trim().to_string());
            }
        }
    }
}

/// Runs `config` as `plan`'s processes and returns their runs merged, with the server's
/// usage, the ramp and the memory as this process saw them. `stop` (SIGINT, SIGTERM)
/// is passed on to the parts, which end their runs and report.
pub fn run(config: &BenchConfig, plan: &Fanout, stop: &AtomicBool) -> Result<Aggregate> {
    let WorkloadConfig::Hold(hold) = &config.workload else {
        bail!("only bench hold runs over several processes");
    };
    let sampler = super::server_sampler(config)?;
    let host_before = HostTimes::now().ok();
    let mut watch = HoldWatch::new(Instant::now(), hold.connections);
    let mut parts = start_parts(config, hold, plan)?;
    follow(&mut parts, stop, &mut watch);
    let server = sampler.map(Sampler::finish);
    let of = parts.len();
    let runs: Vec<BenchRun> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| p.finish(i, of))
        .collect::<Result<_>>()?;
    let merged = merge(&runs)
        .map_err(|err| anyhow::anyhow!("cannot merge the bench processes' runs: {err}"))?;
    let held_peak = merged.held_peak.unwrap_or(0);
    let mut aggregate = Aggregate::from_run(merged);
    aggregate.server = server;
    aggregate.host = host_before.and_then(|b| Some(HostTimes::now().ok()?.since(&b)));
    aggregate.client = aggregate.client.plus(&own_usage()?);
    aggregate.ramp_s = watch.ramp_s();
    aggregate.memory = watch.memory(aggregate.server.as_ref(), held_peak);
    Ok(aggregate)
}

/// Starts every part of `plan`; if one cannot be started, stops those that were.
fn start_parts(config: &BenchConfig, hold: &HoldConfig, plan: &Fanout) -> Result<Vec<Part>> {
    let mut parts = Vec::with_capacity(plan.processes);
    for index in 0..plan.processes {
        match Part::start(&part_args(config, hold, plan, index)) {
            Ok(part) => parts.push(part),
            Err(err) => {
                parts.iter().for_each(|p| p.signal(Signal::SIGTERM));
                let of = parts.len();
                parts
                    .into_iter()
                    .enumerate()
                    .for_each(|(i, p)| drop(p.finish(i, of)));
                return Err(err);
            }
        }
    }
    Ok(parts)
}

/// Follows the parts until every one has ended: the progress line and the watch from
/// their summed counters. On `stop`, or when a part fails (its run is lost, so the
/// others' would make no whole), the others are asked to end their runs now.
fn follow(parts: &mut [Part], stop: &AtomicBool, watch: &mut HoldWatch) {
    let mut progress = ProgressLine::new();
    let mut stopping = false;
    loop {
        let statuses: Vec<_> = parts.iter_mut().map(|p| p.child.try_wait()).collect();
        if statuses.iter().all(|s| matches!(s, Ok(Some(_)))) {
            break;
        }
        let failed = statuses
            .iter()
            .any(|s| matches!(s, Ok(Some(status)) if !status.success()));
        let live = parts
            .iter()
            .map(Part::totals)
            .fold(LiveTotals::default(), add);
        progress.tick(live);
        watch.observe(live);
        if (stop.load(Ordering::Relaxed) || failed) && !stopping {
            stopping = true;
            parts.iter().for_each(|p| p.signal(Signal::SIGTERM));
        }
        std::thread::sleep(PROGRESS_TICK);
    }
    progress.finish();
}

fn add(a: LiveTotals, b: LiveTotals) -> LiveTotals {
    LiveTotals {
        requests: a.requests + b.requests,
        errors: a.errors + b.errors,
        open: a.open + b.open,
    }
}

/// A part's side: its live counters as a line for the process that started it.
pub fn report_progress(out: &mut impl Write, live: LiveTotals) -> io::Result<()> {
    writeln!(
        out,
        "{PROGRESS} {} {} {}",
        live.requests, live.errors, live.open
    )?;
    out.flush()
}

/// A part's side: its run, as its last line.
pub fn report_run(out: &mut impl Write, run: &BenchRun) -> io::Result<()> {
    writeln!(out, "{RUN} {}", serde_json::to_string(run)?)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::args::BenchArgs;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn config(args: &[&str]) -> BenchConfig {
        let mut argv = vec!["bench"];
        argv.extend_from_slice(args);
        Cli::parse_from(argv).bench.config().unwrap()
    }

    #[test]
    fn one_process_while_the_connections_fit() {
        let c = config(&["hold", "127.0.0.1:80", "--connections", "19000"]);
        let p = plan(&c, 19_936, 28_232).unwrap();
        assert_eq!(p.processes, 1);
        assert_eq!(p.sources.len(), 3, "7,058 ports of each address at most");
        let c = config(&["hold", "127.0.0.1:80", "--connections", "5000"]);
        assert_eq!(
            plan(&c, 19_936, 28_232).unwrap().sources,
            Vec::<IpAddr>::new()
        );
    }

    #[test]
    fn c100k_spreads_over_processes_and_loopback_sources() {
        let c = config(&["hold", "127.0.0.1:80", "--connections", "100000"]);
        let p = plan(&c, 19_936, 28_232).unwrap();
        assert_eq!(p.processes, 6);
        assert_eq!(p.sources.len(), 15);
        assert_eq!(p.sources[0].to_string(), "127.0.0.2");
        assert_eq!(p.sources[14].to_string(), "127.0.0.16");
    }

    #[test]
    fn too_few_sources_or_a_remote_target_is_a_usage_error() {
        let c = config(&[
            "hold",
            "127.0.0.1:80",
            "--connections",
            "100000",
            "--source",
            "127.0.0.9",
        ]);
        let err = plan(&c, 19_936, 28_232).unwrap_err().to_string();
        assert!(err.contains("need 15 source addresses"), "{err}");
        let c = config(&["hold", "198.18.0.2:80", "--connections", "100000"]);
        assert!(plan(&c, 19_936, 28_232).is_err());
        let c = config(&["http", "http://127.0.0.1:80/", "--connections", "30000"]);
        let err = plan(&c, 19_936, 28_232).unwrap_err().to_string();
        assert!(err.contains("only bench hold"), "{err}");
    }

    #[test]
    fn parts_share_everything_and_parse_back() {
        let c = config(&[
            "hold",
            "127.0.0.1:80",
            "--connections",
            "25001",
            "--ramp",
            "10/10ms",
            "--interval",
            "1s..5s",
            "--duration",
            "20s",
            "--timeout",
            "3s",
        ]);
        let WorkloadConfig::Hold(hold) = &c.workload else {
            unreachable!()
        };
        let p = plan(&c, 19_936, 28_232).unwrap();
        assert_eq!(p.processes, 2);
        let mut total = 0;
        for index in 0..2 {
            let args = part_args(&c, hold, &p, index);
            let mut argv = vec!["iomodels".to_string()];
            argv.extend(args.iter().skip(1).cloned());
            let part = Cli::parse_from(argv).bench.config().unwrap();
            let WorkloadConfig::Hold(h) = &part.workload else {
                unreachable!()
            };
            assert_eq!(h.interval, hold.interval);
            assert_eq!(h.duration, hold.duration);
            assert_eq!(h.ramp.count, 5);
            assert_eq!(part.timeout, c.timeout);
            assert_eq!(part.first_connection, total);
            assert_eq!(part.part_of, Some(std::process::id()));
            total += h.connections;
        }
        assert_eq!(total, 25_001);
    }

    #[test]
    fn reports_round_trip_through_lines() {
        let live: [AtomicU64; 3] = Default::default();
        let run = Mutex::new(None);
        let mut out = Vec::new();
        report_progress(
            &mut out,
            LiveTotals {
                requests: 7,
                errors: 1,
                open: 5,
            },
        )
        .unwrap();
        out.extend_from_slice(b"run {\"x\":1}\n");
        read_reports(out.as_slice(), &live, &run);
        assert_eq!(live[0].load(Ordering::Relaxed), 7);
        assert_eq!(live[2].load(Ordering::Relaxed), 5);
        assert_eq!(run.lock().unwrap().as_deref(), Some("{\"x\":1}"));
    }
}
