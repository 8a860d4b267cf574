//! The printer: turns the aggregate of a run (its threads' recorders added up, the
//! server's and the client's usage) into the JSON document
//! (`schema/bench.schema.json`) and the human summary, and writes them where the run
//! was told to. It reads only the aggregate, never a worker.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};

use hdrhistogram::Histogram;

use super::hold_report::{print_losses, print_memory};
use crate::results::hold::{HoldMemory, Limits, Losses, PingCost};
use crate::results::run::{round3, BenchRun, PartRow, BENCH_VERSION};
use crate::sample::netstat::TcpCounters;
use crate::sample::{HostTimes, OwnUsage, TreeUsage};
use crate::stats::{decode_v2_base64, encode_v2_base64, Recorder, Summary};

/// Everything a run measured, its threads' (or processes') figures added up.
#[derive(Debug)]
pub struct Aggregate {
    pub workload: String,
    pub target: String,
    pub connections: usize,
    pub threads: usize,
    pub duration_s: f64,
    pub recorder: Recorder,
    /// Hold only: connections open at the end, and the most open at once.
    pub held: Option<(u64, u64)>,
    pub server: Option<TreeUsage>,
    pub client: OwnUsage,
    /// The whole machine's CPU time over the same interval.
    pub host: Option<HostTimes>,
    /// What lines runs up and names them, for `iomodels merge`: the wall-clock start (Unix
    /// seconds) and the host and process.
    pub started_at: Option<f64>,
    pub origin: Option<String>,
    /// Hold: how long until every connection was held at once, and what holding cost
    /// in memory.
    pub ramp_s: Option<f64>,
    pub memory: Option<HoldMemory>,
    /// Hold: the limits checked before the run, the kernel's TCP counters' growth over
    /// it, and each kind of lost connection with its cause.
    pub limits: Option<Limits>,
    pub kernel_counters: Option<TcpCounters>,
    pub ping_cost: Option<PingCost>,
    pub losses: Option<Losses>,
    /// Several processes' runs merged: a row each, and how far apart they started.
    pub parts: Option<Vec<PartRow>>,
    pub start_spread_s: Option<f64>,
}

impl Aggregate {
    /// The aggregate a (merged) run's document describes: its histograms decoded, so
    /// that it prints as a run of this process would.
    pub fn from_run(run: BenchRun) -> Self {
        let decode = |h: &Option<String>| h.as_deref().and_then(decode_v2_base64);
        let mut recorder = Recorder::new();
        recorder.requests = run.requests;
        recorder.connections_opened = run.connections_opened;
        recorder.sessions = run.sessions.unwrap_or(0);
        recorder.starved = run.starved.unwrap_or(0);
        recorder.errors = run.errors;
        for (into, from) in [
            (&mut recorder.latency, &run.histogram),
            (&mut recorder.connect, &run.connect_histogram),
            (&mut recorder.session, &run.session_histogram),
        ] {
            if let Some(h) = decode(from) {
                *into = h;
            }
        }
        Aggregate {
            workload: run.workload,
            target: run.target,
            connections: run.connections,
            threads: run.threads,
            duration_s: run.duration_s,
            recorder,
            held: run.held.map(|held| (held, run.held_peak.unwrap_or(held))),
            server: run.server,
            client: run.client,
            host: run.host,
            started_at: run.started_at,
            origin: run.origin,
            ramp_s: run.ramp_s,
            memory: run.memory,
            kernel_counters: run.losses.as_ref().map(|l| l.kernel),
            ping_cost: run.losses.as_ref().and_then(|l| l.cpu?.holding),
            limits: run.limits,
            losses: run.losses,
            parts: run.parts,
            start_spread_s: run.start_spread_s,
        }
    }

    pub fn throughput(&self) -> f64 {
        if self.duration_s > 0.0 {
            self.recorder.requests as f64 / self.duration_s
        } else {
            0.0
        }
    }

    /// The JSON document of this run.
    pub fn json(&self) -> BenchRun {
        let mut run = self.run_without_derived();
        run.server_cpu_us_per_request = run.server_cpu_us_per_request().map(round3);
        run
    }

    /// The measured document, before the figures derived from it are filled in.
    fn run_without_derived(&self) -> BenchRun {
        let r = &self.recorder;
        let echo = self.workload == "echo";
        BenchRun {
            workload: self.workload.clone(),
            target: self.target.clone(),
            connections: self.connections,
            duration_s: round3(self.duration_s),
            requests: r.requests,
            throughput_per_s: round3(self.throughput()),
            errors: r.errors,
            latency_us: Summary::of(&r.latency),
            connect_us: Summary::of(&r.connect),
            held: self.held.map(|(held, _)| held),
            server: self.server,
            client: OwnUsage {
                cpu_user_s: round3(self.client.cpu_user_s),
                cpu_sys_s: round3(self.client.cpu_sys_s),
                rss_peak_kb: self.client.rss_peak_kb,
                cpu_ns: self.client.cpu_ns,
            },
            histogram: Some(encode_v2_base64(&r.latency)),
            threads: self.threads,
            connections_opened: r.connections_opened,
            held_peak: self.held.map(|(_, peak)| peak),
            starved: (self.workload == "http").then_some(r.starved),
            sessions: echo.then_some(r.sessions),
            session_us: echo.then(|| Summary::of(&r.session)),
            host: self.host,
            version: Some(BENCH_VERSION),
            connect_histogram: Some(encode_v2_base64(&r.connect)),
            session_histogram: echo.then(|| encode_v2_base64(&r.session)),
            started_at: self.started_at,
            origin: self.origin.clone(),
            ramp_s: self.ramp_s,
            memory: self.memory.clone(),
            limits: self.limits.clone(),
            losses: self.losses.clone(),
            parts: self.parts.clone(),
            start_spread_s: self.start_spread_s,
            server_cpu_us_per_request: None,
        }
    }

    /// Why this run is a total failure, in one line, or `None` if some request
    /// succeeded. A hold run that held connections without a request falling due is
    /// not a failure; one whose every reply was wrong is.
    pub fn total_failure(&self) -> Option<String> {
        let r = &self.recorder;
        let e = &r.errors;
        let held_any = self.held.is_some_and(|(_, peak)| peak > 0);
        let wrong_replies = e.mismatch + e.http_status;
        if r.requests > 0 || (held_any && wrong_replies == 0) {
            return None;
        }
        let unit = self.unit();
        let why = [
            (e.http_status, "answers with a status other than 2xx or 3xx"),
            (
                e.mismatch,
                "replies that were not the expected ones (wrong protocol?)",
            ),
            (e.reset, "connections reset by the server"),
            (
                e.closed,
                "connections closed by the server between requests",
            ),
            (e.timeout, "requests or connects without an answer in time"),
            (e.refused, "connections refused"),
            (e.no_fds, "sockets not opened for want of descriptors"),
            (e.no_ports, "connects with no local port left"),
            (e.connect, "connections that failed"),
        ]
        .into_iter()
        .filter(|&(n, _)| n > 0)
        .max_by_key(|&(n, _)| n)
        .map_or_else(
            || "no reply within the run".to_string(),
            |(n, what)| format!("{n} {what}"),
        );
        Some(format!(
            "no {} succeeded against {}: {why}",
            unit.trim_end_matches('s'),
            self.target
        ))
    }

    /// What one unit of work is called: echo counts messages, the others requests.
    fn unit(&self) -> &'static str {
        if self.workload == "echo" {
            "messages"
        } else {
            "requests"
        }
    }

    /// The human summary.
    pub fn print(&self, out: &mut impl Write) -> io::Result<()> {
        let r = &self.recorder;
        let unit = self.unit();
        writeln!(
            out,
            "{} {}: {} connections, {} thread{}, {:.2} s",
            self.workload,
            self.target,
            self.connections,
            self.threads,
            if self.threads == 1 { "" } else { "s" },
            self.duration_s
        )?;
        writeln!(
            out,
            "  {unit:<12} {}  ({}/s)",
            r.requests,
            self.throughput().round() as u64
        )?;
        if r.errors.http_status > 0 {
            // Apart from the requests, as wrk's "Non-2xx or 3xx responses" line.
            writeln!(
                out,
                "  {:<12} {} answers, not counted as requests",
                "non-2xx/3xx", r.errors.http_status
            )?;
        }
        if let Some((held, peak)) = self.held {
            writeln!(out, "  {:<12} {held} at the end, {peak} at most", "held")?;
            match self.ramp_s {
                Some(ramp) => writeln!(
                    out,
                    "  {:<12} all {} held after {ramp:.1} s",
                    "ramp", self.connections
                )?,
                None => writeln!(
                    out,
                    "  {:<12} never all {} held at once",
                    "ramp", self.connections
                )?,
            }
        }
        writeln!(
            out,
            "  {:<12} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "µs", "mean", "p50", "p90", "p99", "p99.9", "max"
        )?;
        let latency = if self.workload == "echo" {
            "round trip"
        } else {
            "latency"
        };
        summary_line(out, latency, &r.latency)?;
        summary_line(out, "connect", &r.connect)?;
        if self.workload == "echo" {
            summary_line(out, "session", &r.session)?;
            writeln!(out, "  {:<12} {}", "sessions", r.sessions)?;
        }
        print_errors(out, &r.errors)?;
        if let Some(losses) = &self.losses {
            print_losses(out, losses)?;
        }
        let c = &self.client;
        writeln!(
            out,
            "  {:<12} cpu {:.2} s user + {:.2} s sys, peak RSS {} kB",
            "client", c.cpu_user_s, c.cpu_sys_s, c.rss_peak_kb
        )?;
        if let Some(s) = &self.server {
            let per_request = self.json().server_cpu_us_per_request;
            writeln!(
                out,
                "  {:<12} cpu {:.2} s user + {:.2} s sys ({} µs per {}), peak PSS {} kB, \
                 {} processes, {} threads, ctx switches {} voluntary + {} involuntary",
                "server",
                s.cpu_user_s,
                s.cpu_sys_s,
                per_request.map_or_else(|| "-".to_string(), |us| format!("{us:.1}")),
                unit.trim_end_matches('s'),
                s.pss_peak_kb,
                s.processes,
                s.threads,
                s.ctx_voluntary,
                s.ctx_involuntary
            )?;
        }
        if let Some(memory) = &self.memory {
            print_memory(out, memory)?;
        }
        if let Some(parts) = &self.parts {
            print_parts(out, parts, self.start_spread_s.unwrap_or(0.0))?;
        }
        Ok(())
    }
}

/// Writes a run where `--json` says: its JSON document to the file, with the summary on
/// stdout; `-`: the document on stdout, for a process that reads it over a pipe (as
/// compare does from another host), and the summary on stderr; no `--json`: the
/// summary on stdout.
pub fn emit(aggregate: &Aggregate, json: Option<&Path>) -> Result<()> {
    match json {
        Some(path) if path.as_os_str() == "-" => {
            write_run(&mut io::stdout().lock(), &aggregate.json())?;
            aggregate.print(&mut io::stderr().lock())?;
        }
        Some(path) => {
            write_json(path, &aggregate.json())?;
            aggregate.print(&mut io::stdout().lock())?;
        }
        None => aggregate.print(&mut io::stdout().lock())?,
    }
    Ok(())
}

/// Writes `run` as pretty JSON to `path`.
pub fn write_json(path: &Path, run: &BenchRun) -> Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    write_run(&mut BufWriter::new(file), run)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Writes `run` as pretty JSON, and a newline, to `out`.
pub fn write_run(out: &mut impl Write, run: &BenchRun) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, run)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// Every error kind with its count; the ones a run rarely sees only when not zero.
fn print_errors(out: &mut impl Write, e: &crate::stats::Errors) -> io::Result<()> {
    let always = ["connect", "reset", "timeout", "mismatch", "http_status"];
    let shown: Vec<String> = e
        .by_kind()
        .iter()
        .filter(|(name, n)| *n > 0 || always.contains(name))
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    writeln!(out, "  {:<12} {}", "errors", shown.join(", "))
}

fn print_parts(out: &mut impl Write, parts: &[PartRow], spread: f64) -> io::Result<()> {
    writeln!(
        out,
        "  {:<12} {} runs merged, started within {:.3} s of each other",
        "parts",
        parts.len(),
        spread
    )?;
    for p in parts {
        let held = p.held.map_or_else(|| "-".to_string(), |h| h.to_string());
        writeln!(
            out,
            "    {:<28} +{:.3} s  {:.2} s  requests {:>9}  held {:>7}  errors {:>6}  peak RSS {} kB",
            p.origin, p.started_after_s, p.duration_s, p.requests, held, p.errors, p.client_rss_peak_kb
        )?;
    }
    Ok(())
}

/// One row of percentiles; a histogram without a sample shows `-` in every column, as
/// there is no figure to show (a 0.0 would read as an instant reply).
fn summary_line(out: &mut impl Write, name: &str, histogram: &Histogram<u64>) -> io::Result<()> {
    if histogram.is_empty() {
        let dash = "-";
        return writeln!(
            out,
            "  {name:<12} {dash:>10} {dash:>8} {dash:>8} {dash:>8} {dash:>8} {dash:>8}"
        );
    }
    let s = Summary::of(histogram);
    writeln!(
        out,
        "  {name:<12} {:>10.1} {:>8} {:>8} {:>8} {:>8} {:>8}",
        s.mean, s.p50, s.p90, s.p99, s.p999, s.max
    )
}
