//! The printer: turns the aggregate of a run (merged recorders, the server's and the
//! client's usage) into the JSON document (`schema/bench.schema.json`) and the human
//! summary. It reads only the aggregate, never a worker.

use std::io::{self, Write};

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
        }
    }

    /// The human summary.
    pub fn print(&self, out: &mut impl Write) -> io::Result<()> {
        let r = &self.recorder;
        let unit = if self.workload == "echo" {
            "messages"
        } else {
            "requests"
        };
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
        summary_line(out, latency, &Summary::of(&r.latency))?;
        summary_line(out, "connect", &Summary::of(&r.connect))?;
        if self.workload == "echo" {
            summary_line(out, "session", &Summary::of(&r.session))?;
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
            writeln!(
                out,
                "  {:<12} cpu {:.2} s user + {:.2} s sys, peak PSS {} kB, {} processes, {} threads, \
                 ctx switches {} voluntary + {} involuntary",
                "server",
                s.cpu_user_s,
                s.cpu_sys_s,
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

fn summary_line(out: &mut impl Write, name: &str, s: &Summary) -> io::Result<()> {
    writeln!(
        out,
        "  {name:<12} {:>10.1} {:>8} {:>8} {:>8} {:>8} {:>8}",
        s.mean, s.p50, s.p90, s.p99, s.p999, s.max
    )
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
