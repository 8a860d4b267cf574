//! Why a hold lost connections, as far as can be known: each kind of loss its bench
//! counted, with the cause the run's figures point to. The CPU was saturated when the
//! machine was busy [`SATURATED_PCT`] of the run (and by how much: the cores the pings
//! asked at the CPU per request measured before it); the kernel's counters
//! ([`TcpCounters`]) tell a full accept queue, TCP memory pressure and its aborts; the
//! error kinds tell ports and descriptors. Pure: the figures in, the lines out.

use crate::results::hold::{CpuLoad, Limits, LossCause, Losses, PingCost};
use crate::sample::netstat::TcpCounters;
use crate::sample::HostTimes;
use crate::stats::{Errors, Summary};
use crate::units::grouped;

/// Percent of the machine's CPU time busy over the run at which it counts as saturated.
pub const SATURATED_PCT: f64 = 95.0;

/// What a run gives to find its losses' causes.
#[derive(Debug, Clone, Copy)]
pub struct RunFigures<'a> {
    pub connections: u64,
    /// Connections held at the end.
    pub held: u64,
    pub errors: &'a Errors,
    pub latency: &'a Summary,
    pub connect: &'a Summary,
    /// The bench timeout, in seconds.
    pub timeout_s: f64,
    pub host: Option<&'a HostTimes>,
    pub cores: u32,
    pub limits: Option<&'a Limits>,
    pub kernel: TcpCounters,
    /// What the pings cost while every connection was held, measured.
    pub holding: Option<PingCost>,
}

/// Each kind of loss in `run`, with its cause; a saturated CPU and the kernel's events
/// get a line even when they lost nothing.
pub fn explain(run: &RunFigures<'_>) -> Losses {
    let cpu = cpu_load(run);
    let k = &run.kernel;
    let e = run.errors;
    let mut causes = Vec::new();
    let mut add = |kind: &str, count: u64, cause: String| {
        causes.push(LossCause {
            kind: kind.to_string(),
            count,
            cause,
        })
    };
    if let Some(cpu) = cpu.filter(|c| c.saturated) {
        add("cpu", 0, saturation(&cpu));
    }
    let unheld = run.connections.saturating_sub(run.held);
    if unheld > 0 {
        let slow = if cpu.is_some_and(|c| c.saturated) {
            " with the CPU saturated"
        } else {
            ""
        };
        add(
            "not_held",
            unheld,
            format!("not held when the run ended: the ramp had not reached them{slow} (connecting, or waiting for a first reply), or they were reopening after a loss below; a longer --duration"),
        );
    }
    if e.timeout > 0 {
        let mut why = Vec::new();
        if let Some(cpu) = cpu.filter(|c| c.saturated) {
            why.push(format!(
                "CPU saturated ({:.0}% busy): replies took up to {} (p99 {}) against a timeout of {:.0} s",
                cpu.busy_pct,
                ms(run.latency.max),
                ms(run.latency.p99),
                run.timeout_s
            ));
        }
        if k.listen_overflows > 0 {
            why.push(overflows(k));
        }
        if why.is_empty() {
            why.push(format!(
                "no saturated CPU, no full accept queue: the server answered late (latency p99 {}, max {}; connect p99 {})",
                ms(run.latency.p99),
                ms(run.latency.max),
                ms(run.connect.p99)
            ));
        }
        add("timeout", e.timeout, why.join("; "));
    } else if k.listen_overflows > 0 {
        add(
            "backlog",
            k.listen_overflows,
            format!("{}; no connect timed out", overflows(k)),
        );
    }
    if e.reset > 0 {
        let cause = if k.aborts_on_memory > 0 {
            format!(
                "tcp_mem's hard limit: the kernel reset {} connections (TCPAbortOnMemory; net.ipv4.tcp_mem)",
                grouped(k.aborts_on_memory as usize)
            )
        } else {
            "reset by the server (or its kernel) with TCP memory below its limit".to_string()
        };
        add("reset", e.reset, cause);
    }
    if k.memory_pressures > 0 {
        add(
            "tcp_mem",
            k.memory_pressures,
            "TCP memory entered pressure (TCPMemoryPressures; net.ipv4.tcp_mem): socket buffers were cut".into(),
        );
    }
    if e.closed > 0 {
        let high = run.limits.map_or(String::new(), |l| {
            format!(" than the interval's high end ({:.0} s)", l.interval_s[1])
        });
        add(
            "closed",
            e.closed,
            format!("closed by the server between requests: its idle timeout is shorter{high} (serve --timeout)"),
        );
    }
    let plain = [
        (e.refused, "refused", "no listener, or a full accept queue answered with a reset (net.ipv4.tcp_abort_on_overflow)"),
        (e.no_fds, "no_fds", "descriptors: EMFILE (RLIMIT_NOFILE, ulimit -n) or ENFILE (fs.file-max)"),
        (e.no_ports, "no_ports", "ports: no local port free towards the target (net.ipv4.ip_local_port_range; more --source addresses)"),
        (e.connect, "connect", "the connect failed otherwise (unreachable, no route)"),
        (e.mismatch, "mismatch", "replies that were not the expected ones"),
        (e.http_status, "http_status", "answers with a status other than 2xx or 3xx"),
    ];
    for (count, kind, cause) in plain {
        if count > 0 {
            add(kind, count, cause.to_string());
        }
    }
    Losses {
        cpu,
        kernel: run.kernel,
        causes,
    }
}

/// The machine's CPU over the run, and the cores the pings asked for.
fn cpu_load(run: &RunFigures<'_>) -> Option<CpuLoad> {
    let host = run.host.filter(|h| h.total_ns > 0)?;
    let busy_pct = host.busy_ns as f64 * 100.0 / host.total_ns as f64;
    let asked_cores = run.limits.and_then(|l| {
        let us = l.cpu_per_request?.here_us();
        let mean = (l.interval_s[0] + l.interval_s[1]) / 2.0;
        Some(run.connections as f64 / mean * us / 1e6)
    });
    let others_pct = host.others_ns as f64 * 100.0 / host.total_ns as f64;
    Some(CpuLoad {
        cores: run.cores,
        busy_pct: (busy_pct * 10.0).round() / 10.0,
        others_pct: (others_pct * 10.0).round() / 10.0,
        asked_cores: asked_cores.map(|c| (c * 100.0).round() / 100.0),
        saturated: busy_pct >= SATURATED_PCT,
        holding: run.holding,
    })
}

/// The one line that says the CPU was saturated, and by how much.
fn saturation(cpu: &CpuLoad) -> String {
    let by = match cpu.asked_cores {
        Some(asked) => format!(
            "; the pings asked {asked:.2} cores' worth at the CPU per request measured before the run, {:.1}x the {} there are",
            asked / f64::from(cpu.cores.max(1)),
            cpu.cores
        ),
        None => String::new(),
    };
    let measured = cpu.holding.map_or(String::new(), |p| {
        format!(
            "; while all were held the pings took {:.2} cores ({:.1} us a request)",
            p.cores, p.cpu_us_per_request
        )
    });
    format!(
        "CPU saturated: the {} cores were {:.1}% busy over the run ({:.1}% other processes'){by}{measured}",
        cpu.cores, cpu.busy_pct, cpu.others_pct
    )
}

fn overflows(k: &TcpCounters) -> String {
    format!(
        "the accept queue overflowed {} times (ListenOverflows; ListenDrops {}): handshakes dropped until their SYNs were sent again (net.core.somaxconn, the server's backlog)",
        grouped(k.listen_overflows as usize),
        grouped(k.listen_drops as usize)
    )
}

fn ms(us: u64) -> String {
    format!("{:.0} ms", us as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::hold::CpuPerRequest;

    fn limits(interval_s: [f64; 2], us: f64) -> Limits {
        Limits {
            interval_s,
            interval_derived: false,
            cpu_per_request: Some(CpuPerRequest {
                client_us: us / 2.0,
                server_us: us / 2.0,
                server_measured: true,
                requests: 2000,
            }),
            rows: Vec::new(),
            binding: None,
        }
    }

    fn host(busy_pct: u64) -> HostTimes {
        HostTimes {
            busy_ns: busy_pct * 3_000_000_000,
            steal_ns: 0,
            total_ns: 300_000_000_000,
            others_ns: 3_000_000_000,
        }
    }

    fn figures<'a>(
        errors: &'a Errors,
        host: &'a HostTimes,
        limits: &'a Limits,
        latency: &'a Summary,
    ) -> RunFigures<'a> {
        RunFigures {
            connections: 500_000,
            held: 500_000,
            errors,
            latency,
            connect: latency,
            timeout_s: 5.0,
            host: Some(host),
            cores: 2,
            limits: Some(limits),
            kernel: TcpCounters::default(),
            holding: None,
        }
    }

    /// The 500,000 run of issue 29: pings every 1-5 s, both cores busy, timeouts and
    /// resets: one line says the CPU was saturated and by how much, and the timeouts
    /// carry it as their cause.
    #[test]
    fn a_saturated_cpu_is_named_with_how_much_was_asked() {
        let errors = Errors {
            timeout: 2_731,
            reset: 116,
            ..Errors::default()
        };
        let latency = Summary {
            p50: 577_000,
            p99: 3_600_000,
            max: 4_990_000,
            ..Summary::default()
        };
        let (h, l) = (host(99), limits([1.0, 5.0], 30.0));
        let losses = explain(&figures(&errors, &h, &l, &latency));
        let cpu = losses.cpu.unwrap();
        assert!(cpu.saturated);
        assert_eq!(cpu.asked_cores, Some(5.0));
        let kinds: Vec<&str> = losses.causes.iter().map(|c| c.kind.as_str()).collect();
        assert_eq!(kinds, ["cpu", "timeout", "reset"]);
        assert_eq!(
            losses.causes[0].cause,
            "CPU saturated: the 2 cores were 99.0% busy over the run (1.0% other processes'); the pings asked 5.00 cores' worth at the CPU per request measured before the run, 2.5x the 2 there are"
        );
        assert!(losses.causes[1]
            .cause
            .starts_with("CPU saturated (99% busy): replies took up to 4990 ms (p99 3600 ms)"));
        assert!(losses.causes[2]
            .cause
            .contains("TCP memory below its limit"));
    }

    #[test]
    fn the_kernel_counters_name_overflows_memory_and_aborts() {
        let errors = Errors {
            timeout: 40,
            reset: 3,
            ..Errors::default()
        };
        let latency = Summary::default();
        let (h, l) = (host(60), limits([20.0, 100.0], 30.0));
        let mut run = figures(&errors, &h, &l, &latency);
        run.kernel = TcpCounters {
            listen_overflows: 1_536,
            listen_drops: 1_536,
            memory_pressures: 2,
            aborts_on_memory: 3,
            ..TcpCounters::default()
        };
        let losses = explain(&run);
        assert!(!losses.cpu.unwrap().saturated);
        let kinds: Vec<&str> = losses.causes.iter().map(|c| c.kind.as_str()).collect();
        assert_eq!(kinds, ["timeout", "reset", "tcp_mem"]);
        assert!(losses.causes[0]
            .cause
            .starts_with("the accept queue overflowed 1,536 times"));
        assert!(losses.causes[1]
            .cause
            .contains("reset 3 connections (TCPAbortOnMemory"));
        // Overflows without a timeout still get their line.
        let none = Errors::default();
        run.errors = &none;
        let losses = explain(&run);
        assert_eq!(losses.causes[0].kind, "backlog");
        assert_eq!(losses.causes[0].count, 1_536);
    }

    #[test]
    fn the_other_kinds_name_their_limit_and_a_clean_run_has_no_line() {
        let errors = Errors {
            closed: 20,
            no_ports: 5,
            no_fds: 1,
            timeout: 2,
            ..Errors::default()
        };
        let latency = Summary {
            p99: 4_000,
            max: 9_000,
            ..Summary::default()
        };
        let (h, l) = (host(40), limits([20.0, 100.0], 30.0));
        let losses = explain(&figures(&errors, &h, &l, &latency));
        let kinds: Vec<&str> = losses.causes.iter().map(|c| c.kind.as_str()).collect();
        assert_eq!(kinds, ["timeout", "closed", "no_fds", "no_ports"]);
        assert!(losses.causes[0]
            .cause
            .contains("the server answered late (latency p99 4 ms"));
        assert!(losses.causes[1]
            .cause
            .contains("shorter than the interval's high end (100 s)"));
        assert!(losses.causes[3].cause.contains("ip_local_port_range"));
        let clean = Errors::default();
        assert!(explain(&figures(&clean, &h, &l, &latency))
            .causes
            .is_empty());
    }
}
