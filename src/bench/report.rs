//! The printer: turns the aggregate of a run (merged recorders, the server's and the
//! client's usage) into the JSON document (`schema/bench.schema.json`) and the human
//! summary. It reads only the aggregate, never a worker.

use std::io::{self, Write};

use hdrhistogram::Histogram;

use crate::results::run::BenchRun;
use crate::sample::{HostTimes, OwnUsage, TreeUsage};
use crate::stats::{encode_v2_base64, Recorder, Summary};

/// Everything a run measured, merged.
#[derive(Debug)]
pub struct Aggregate {
    pub workload: &'static str,
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
}

impl Aggregate {
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
            workload: self.workload.to_string(),
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
            (e.reset, "connections reset or closed by the server"),
            (e.timeout, "requests without a reply in time"),
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
        let e = &r.errors;
        writeln!(
            out,
            "  {:<12} connect {}, reset {}, timeout {}, mismatch {}, http_status {}",
            "errors", e.connect, e.reset, e.timeout, e.mismatch, e.http_status
        )?;
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
        Ok(())
    }
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

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
