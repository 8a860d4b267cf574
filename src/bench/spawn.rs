//! Parts of a run in processes of their own, both sides. This process starts each part
//! as `iomodels bench ...` with the command line of the part's configuration
//! ([`super::argv`]) and `--part-of` its own id. Each part says when it is ready; once
//! all are, they are told to go at once, so that their windows overlap however short
//! their runs. A part measures its share ([`super::measure`]) and hands it back as
//! lines on its stdout: its live counters while it runs, then its run. The runs are
//! merged exactly ([`crate::results::merge`]).

use std::io::{self, BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::argv::command_line;
use super::config::BenchConfig;
use super::engine::{LiveTotals, PROGRESS_TICK};
use super::fanout::Fanout;
use super::measure::{measure, origin};
use super::output::Aggregate;
use crate::error::usage;
use crate::results::merge::merge;
use crate::results::run::BenchRun;
use crate::sample::own_usage;

/// The keywords of a part's lines: on its stdout, `ready`, then `progress REQUESTS
/// ERRORS OPEN` while it runs, then `run JSON`; on its stdin, `go`.
const READY: &str = "ready";
const PROGRESS: &str = "progress";
const RUN: &str = "run";
const GO: &str = "go";

/// How often the parts are looked at until every one is ready.
const READY_POLL: Duration = Duration::from_millis(1);

/// How often a part hands over its live counters.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Runs `config` as `fanout`'s processes, calling `observe` with their summed live
/// counters every [`PROGRESS_TICK`], and returns their runs merged, with this
/// process's own usage added to the client's. `stop` (SIGINT, SIGTERM) is passed on to
/// the parts, which end their runs and hand them over.
pub fn run_processes(
    config: &BenchConfig,
    fanout: &Fanout,
    stop: &AtomicBool,
    observe: impl FnMut(LiveTotals),
) -> Result<Aggregate> {
    let mut parts = start_parts(config, fanout, stop)?;
    follow(&mut parts, stop, observe);
    let of = parts.len();
    let runs: Vec<BenchRun> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| p.finish(i, of))
        .collect::<Result<_>>()?;
    let merged = merge(&runs)
        .map_err(|err| anyhow::anyhow!("cannot merge the bench processes' runs: {err}"))?;
    let mut aggregate = Aggregate::from_run(merged);
    aggregate.client = aggregate.client.plus(&own_usage()?);
    aggregate.origin = Some(origin());
    Ok(aggregate)
}

/// What a part has said so far: that it is ready, its live counters, its run.
#[derive(Default)]
struct Heard {
    ready: AtomicBool,
    live: [AtomicU64; 3],
    run: Mutex<Option<String>>,
}

/// One running part: the process, its stdin (where it is told to go) and what it said.
struct Part {
    child: Child,
    go: Option<ChildStdin>,
    heard: Arc<Heard>,
    reader: Option<JoinHandle<()>>,
}

impl Part {
    fn start(config: &BenchConfig) -> Result<Self> {
        let exe = std::env::current_exe().context("cannot find this executable")?;
        let mut child = Command::new(exe)
            .args(command_line(config))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start a bench process")?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let go = child.stdin.take();
        let heard = Arc::new(Heard::default());
        let into = Arc::clone(&heard);
        let reader = std::thread::Builder::new()
            .name("bench-part".into())
            .spawn(move || read_lines(stdout, &into))
            .context("cannot start a reader thread")?;
        Ok(Self {
            child,
            go,
            heard,
            reader: Some(reader),
        })
    }

    fn totals(&self) -> LiveTotals {
        let [requests, errors, open] = &self.heard.live;
        LiveTotals {
            requests: requests.load(Ordering::Relaxed),
            errors: errors.load(Ordering::Relaxed),
            open: open.load(Ordering::Relaxed),
        }
    }

    /// Tells the part to start its run now (a part whose stdin closes without it ends).
    fn go(&mut self) {
        if let Some(mut stdin) = self.go.take() {
            let _ = writeln!(stdin, "{GO}");
        }
    }

    fn signal(&self, signal: Signal) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), signal);
    }

    /// Waits for the process to end and returns its run.
    fn finish(mut self, index: usize, of: usize) -> Result<BenchRun> {
        self.go.take();
        let status = self
            .child
            .wait()
            .context("cannot wait for a bench process")?;
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let run = self.heard.run.lock().map(|mut r| r.take()).unwrap_or(None);
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
fn read_lines(stdout: impl io::Read, heard: &Heard) {
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if line == READY {
            heard.ready.store(true, Ordering::Relaxed);
        } else if let Some(counts) = line.strip_prefix(PROGRESS) {
            for (slot, n) in heard.live.iter().zip(counts.split_whitespace()) {
                slot.store(n.parse().unwrap_or(0), Ordering::Relaxed);
            }
        } else if let Some(json) = line.strip_prefix(RUN) {
            if let Ok(mut r) = heard.run.lock() {
                *r = Some(json.trim().to_string());
            }
        }
    }
}

/// Starts every part of `fanout` and, once all are ready, tells them to go at once (so
/// their windows overlap however short their runs); if one cannot be started, or ends
/// before it is ready, stops those that were started.
fn start_parts(config: &BenchConfig, fanout: &Fanout, stop: &AtomicBool) -> Result<Vec<Part>> {
    let mut parts = Vec::with_capacity(fanout.processes);
    let started = (0..fanout.processes).try_for_each(|index| {
        let part = BenchConfig {
            part_of: Some(std::process::id()),
            ..fanout.part(config, index)
        };
        parts.push(Part::start(&part)?);
        Ok(())
    });
    match started.and_then(|()| wait_until_ready(&mut parts, stop)) {
        Ok(()) => {
            parts.iter_mut().for_each(Part::go);
            Ok(parts)
        }
        Err(err) => {
            parts.iter().for_each(|p| p.signal(Signal::SIGTERM));
            let of = parts.len();
            parts
                .into_iter()
                .enumerate()
                .for_each(|(i, p)| drop(p.finish(i, of)));
            Err(err)
        }
    }
}

/// Waits until every part has said it is ready; one that ended first, or a stop, is an
/// error.
fn wait_until_ready(parts: &mut [Part], stop: &AtomicBool) -> Result<()> {
    let of = parts.len();
    while !parts.iter().all(|p| p.heard.ready.load(Ordering::Relaxed)) {
        for (i, part) in parts.iter_mut().enumerate() {
            if let Ok(Some(status)) = part.child.try_wait() {
                bail!(
                    "bench process {} of {of} ended before its run ({status})",
                    i + 1
                );
            }
        }
        if stop.load(Ordering::Relaxed) {
            bail!("stopped before the bench processes started");
        }
        std::thread::sleep(READY_POLL);
    }
    Ok(())
}

/// Follows the parts until every one has ended, giving `observe` their summed
/// counters. On `stop`, or when a part fails (its run is lost, so the others' would
/// make no whole), the others are asked to end their runs now.
fn follow(parts: &mut [Part], stop: &AtomicBool, mut observe: impl FnMut(LiveTotals)) {
    let mut stopping = false;
    loop {
        let statuses: Vec<_> = parts.iter_mut().map(|p| p.child.try_wait()).collect();
        if statuses.iter().all(|s| matches!(s, Ok(Some(_)))) {
            break;
        }
        let failed = statuses
            .iter()
            .any(|s| matches!(s, Ok(Some(status)) if !status.success()));
        observe(
            parts
                .iter()
                .map(Part::totals)
                .fold(LiveTotals::default(), add),
        );
        if (stop.load(Ordering::Relaxed) || failed) && !stopping {
            stopping = true;
            parts.iter().for_each(|p| p.signal(Signal::SIGTERM));
        }
        std::thread::sleep(PROGRESS_TICK);
    }
}

fn add(a: LiveTotals, b: LiveTotals) -> LiveTotals {
    LiveTotals {
        requests: a.requests + b.requests,
        errors: a.errors + b.errors,
        open: a.open + b.open,
    }
}

/// A part's side (`--part-of PARENT`): says it is ready, waits to be told to go, then
/// measures its share, with its live counters and then its run as lines on stdout for
/// the process `parent` that started it. It stops when that process exits.
pub fn run_part(config: &BenchConfig, stop: Arc<AtomicBool>, parent: u32) -> Result<()> {
    crate::sys::process::stop_with_parent(parent)
        .map_err(|err| usage(format!("--part-of {parent}: {err}")))?;
    writeln!(io::stdout().lock(), "{READY}")?;
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    if line.trim_end() != GO {
        bail!("--part-of {parent}: the process that started this one did not say go");
    }
    let mut last = Instant::now();
    let aggregate = measure(config, stop, |live| {
        if last.elapsed() >= PROGRESS_EVERY {
            last = Instant::now();
            let _ = write_progress(&mut io::stdout().lock(), live);
        }
    })?;
    write_run(&mut io::stdout().lock(), &aggregate.json())?;
    Ok(())
}

/// A part's live counters, as a line.
fn write_progress(out: &mut impl Write, live: LiveTotals) -> io::Result<()> {
    writeln!(
        out,
        "{PROGRESS} {} {} {}",
        live.requests, live.errors, live.open
    )?;
    out.flush()
}

/// A part's run, as its last line.
fn write_run(out: &mut impl Write, run: &BenchRun) -> io::Result<()> {
    writeln!(out, "{RUN} {}", serde_json::to_string(run)?)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let heard = Heard::default();
        let mut out = b"ready\n".to_vec();
        write_progress(
            &mut out,
            LiveTotals {
                requests: 7,
                errors: 1,
                open: 5,
            },
        )
        .unwrap();
        out.extend_from_slice(b"run {\"x\":1}\n");
        read_lines(out.as_slice(), &heard);
        assert!(heard.ready.load(Ordering::Relaxed));
        assert_eq!(heard.live[0].load(Ordering::Relaxed), 7);
        assert_eq!(heard.live[2].load(Ordering::Relaxed), 5);
        assert_eq!(heard.run.lock().unwrap().as_deref(), Some("{\"x\":1}"));
    }
}
