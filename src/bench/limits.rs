//! What this machine allows a hold, checked before it starts: one [`LimitRow`] per limit
//! with the connections it allows, the figures it rests on and the setting that would
//! lift it; the row allowing the fewest binds first, and a count past it is refused in
//! one line ([`refusal`]). Pure arithmetic over a [`MachineLimits`], a [`ServerRoom`] and a
//! [`Demand`], so tests make the machines up.
//!
//! The limits, for C connections (E ends on this machine: 2 for a loopback target):
//!
//! - descriptors per process: bench spreads over processes of at most RLIMIT_NOFILE
//!   connections each, up to [`MAX_PROCESSES`]; the server, at most the descriptors its
//!   processes may still open (`--server-pid`).
//! - descriptors in all: E × C under `fs.file-max` less the files open (not enforced
//!   for a process with CAP_SYS_ADMIN).
//! - local ports: a quarter of `ip_local_port_range` per source address
//!   ([`super::fanout`]'s rule), times the addresses.
//! - kernel memory: E × C × the slab bytes of one end (`/proc/slabinfo`'s sizes) under
//!   `MemAvailable`.
//! - TCP buffers: if every ping waited its whole timeout, C × min(1, timeout / mean
//!   interval) requests would wait at once, a page of buffer each: under `tcp_mem`'s
//!   pressure threshold, less what TCP uses now.
//! - listen backlog: the ramp keeps up to processes × threads × [`MAX_OPENING`]
//!   handshakes waiting; the listeners on the port queue at most `somaxconn` each.
//! - conntrack: one entry per connection, if nf_conntrack is loaded and tracks any.
//! - CPU: the pings ask C / mean interval requests a second, at the CPU per request
//!   measured ([`super::calibrate`], both ends here), against the cores.
//!
//! The ping interval rule ([`default_interval`]): with no `--interval`, the mean
//! interval is the longer of 3 s and what keeps the pings within a sixth of the cores
//! at the CPU per request measured ([`PING_SHARE`]); the interval runs from a third of
//! the mean to five thirds (1 s..5 s at the floor, seed 003's rule). The server's idle
//! timeout must exceed its high end.

use std::time::Duration;

use super::config::MAX_OPENING;
use crate::results::hold::LimitRow;
use crate::sample::machine::{MachineLimits, ServerRoom};
use crate::units::grouped;

/// The most processes bench spreads over (`--processes`' bound).
pub const MAX_PROCESSES: u64 = 1024;
/// The share of the cores a derived ping interval asks of them at the CPU per request
/// measured before the hold. That measurement's connections are warm in the caches;
/// the pings of 100,000 held ones cost 1.3 to 2 times as much (docs/results.md, *C100K on 2 cores*), so
/// a sixth here is a quarter to a third once held: the rest is the ramp's, the
/// timers', and the machine's other work.
pub const PING_SHARE: f64 = 1.0 / 6.0;
/// The shortest mean interval the rule gives, and its interval (seed 003's).
pub const FLOOR_MEAN: Duration = Duration::from_secs(3);
pub const FLOOR_INTERVAL: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(5));
/// Loopback addresses bench may take as sources (127.0.0.2 to 127.255.255.254).
const LOOPBACK_SOURCES: u64 = (1 << 24) - 3;

/// What a hold asks of the machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    pub connections: u64,
    /// Both ends on this machine (a loopback target).
    pub local: bool,
    /// Bench's processes, the connections one may hold, and its threads each.
    pub processes: u64,
    pub fits: u64,
    pub threads: u64,
    /// Source addresses given (`--source`), or `None`: bench's choice, as many
    /// loopback addresses as it takes for a loopback target, else the kernel's one.
    pub sources: Option<u64>,
    /// The share of each source address's ports bench uses.
    pub ports_used: f64,
    pub interval_mean: Duration,
    pub timeout: Duration,
    /// CPU per request on this machine, both ends, in microseconds, or why it was not
    /// measured.
    pub cpu_us: Result<f64, String>,
    /// The target's port (for the listen backlog's detail).
    pub port: u16,
}

impl Demand {
    fn ends(&self) -> u64 {
        if self.local {
            2
        } else {
            1
        }
    }
}

/// The ping interval the rule gives `connections` on `cores` at `cpu_us` a request
/// (see the module documentation); the floor without a measured CPU per request.
pub fn default_interval(connections: u64, cores: u32, cpu_us: Option<f64>) -> (Duration, Duration) {
    let needed = cpu_us.map_or(0.0, |us| {
        connections as f64 * us / 1e6 / (PING_SHARE * f64::from(cores.max(1)))
    });
    // To the microsecond first, so that a whole number of seconds stays whole.
    let mean = FLOOR_MEAN
        .as_secs_f64()
        .max(((needed * 1e6).round() / 1e6).ceil());
    (
        Duration::from_millis((mean * 1000.0 / 3.0).round() as u64),
        Duration::from_millis((mean * 5000.0 / 3.0).round() as u64),
    )
}

/// Every limit, for `demand` on `machine` against `server`.
pub fn check(machine: &MachineLimits, server: &ServerRoom, demand: &Demand) -> Vec<LimitRow> {
    vec![
        process_descriptors(machine, demand),
        server_descriptors(server, demand),
        all_descriptors(machine, demand),
        ports(machine, demand),
        kernel_memory(machine, demand),
        tcp_buffers(machine, demand),
        backlog(machine, server, demand),
        conntrack(machine),
        cpu(machine, demand),
    ]
}

/// The row that allows the fewest connections, if any sets a bound.
pub fn binding(rows: &[LimitRow]) -> Option<&LimitRow> {
    rows.iter()
        .filter(|r| r.allows.is_some())
        .min_by_key(|r| r.allows)
}

/// The one line that refuses `connections`, if the binding limit allows fewer.
pub fn refusal(rows: &[LimitRow], connections: u64) -> Option<String> {
    let row = binding(rows).filter(|r| r.allows.is_some_and(|n| n < connections))?;
    Some(format!(
        "this machine cannot hold {} connections: {} allows {} ({}); to lift it: {}",
        grouped(connections as usize),
        row.name,
        grouped(row.allows.unwrap_or(0) as usize),
        row.detail,
        row.lift
    ))
}

fn row(name: &str, allows: Option<u64>, detail: String, lift: &str) -> LimitRow {
    LimitRow {
        name: name.to_string(),
        allows,
        detail,
        lift: lift.to_string(),
    }
}

fn n(x: u64) -> String {
    grouped(x as usize)
}

fn process_descriptors(m: &MachineLimits, d: &Demand) -> LimitRow {
    let lift = if m.can_raise_nofile {
        "a higher hard limit (ulimit -Hn), at most fs.nr_open".to_string()
    } else {
        "none here: the hard limit cannot be raised without CAP_SYS_RESOURCE; bench uses more processes".to_string()
    };
    row(
        "descriptors per process",
        Some(MAX_PROCESSES * d.fits),
        format!(
            "RLIMIT_NOFILE {} (hard), fs.nr_open {}: {} bench process(es) of at most {} connections, up to {MAX_PROCESSES}",
            n(m.nofile.1),
            m.nr_open.map_or("-".into(), n),
            d.processes,
            n(d.fits)
        ),
        &lift,
    )
}

fn server_descriptors(s: &ServerRoom, d: &Demand) -> LimitRow {
    let lift = "more server processes (serve --workers) or a higher RLIMIT_NOFILE for the server";
    match (s.processes, s.descriptors) {
        (Some(p), Some(room)) => row(
            "server descriptors",
            Some(room),
            format!(
                "its {p} process(es) may open {} more (each its RLIMIT_NOFILE less what it holds), if its connections spread evenly",
                n(room)
            ),
            lift,
        ),
        _ => row(
            "server descriptors",
            None,
            if d.local {
                "not checked: give --server-pid".into()
            } else {
                "on the server's machine".into()
            },
            lift,
        ),
    }
}

fn all_descriptors(m: &MachineLimits, d: &Demand) -> LimitRow {
    let lift = "sysctl -w fs.file-max=N";
    let Some(max) = m.file_max else {
        return row(
            "descriptors in all",
            None,
            "fs.file-max unreadable".into(),
            lift,
        );
    };
    let room = max.saturating_sub(m.files_open);
    let detail = format!(
        "fs.file-max {}, {} open: {} per connection here",
        n(max),
        n(m.files_open),
        d.ends()
    );
    if m.file_max_enforced {
        row("descriptors in all", Some(room / d.ends()), detail, lift)
    } else {
        let detail = format!("{detail}; not enforced for this process (CAP_SYS_ADMIN)");
        row("descriptors in all", None, detail, lift)
    }
}

fn ports(m: &MachineLimits, d: &Demand) -> LimitRow {
    let per_source = ((m.ports as f64 * d.ports_used) as u64).max(1);
    let (sources, whose) = match d.sources {
        Some(s) => (s.max(1), format!("{s} source address(es)")),
        None if d.local => (
            LOOPBACK_SOURCES,
            "loopback source addresses, as many as it takes".into(),
        ),
        None => (1, "one source address".into()),
    };
    row(
        "local ports",
        Some(sources.saturating_mul(per_source)),
        format!(
            "{} of each address's {} ports (ip_local_port_range; bench uses {:.0}%), from {whose}",
            n(per_source),
            n(m.ports),
            d.ports_used * 100.0
        ),
        "more source addresses (--source) or a wider net.ipv4.ip_local_port_range",
    )
}

fn kernel_memory(m: &MachineLimits, d: &Demand) -> LimitRow {
    let lift = "more memory";
    let (Some(end), Some(kb)) = (m.socket_end_b, m.mem_available_kb) else {
        return row(
            "kernel memory",
            None,
            "unknown: /proc/slabinfo is readable by root only".into(),
            lift,
        );
    };
    let per_conn = end * d.ends() as f64;
    row(
        "kernel memory",
        Some((kb as f64 * 1024.0 / per_conn.max(1.0)) as u64),
        format!(
            "MemAvailable {:.1} GB at {per_conn:.0} B a connection ({} end(s) of {end:.0} B: socket, inode, dentry, file, epoll entry, from /proc/slabinfo)",
            kb as f64 / 1e6,
            d.ends()
        ),
        lift,
    )
}

fn tcp_buffers(m: &MachineLimits, d: &Demand) -> LimitRow {
    let lift = "sysctl net.ipv4.tcp_mem, or a longer --interval";
    let Some([_, pressure, _]) = m.tcp_mem else {
        return row("TCP buffers", None, "tcp_mem unreadable".into(), lift);
    };
    let room = pressure.saturating_sub(m.tcp_pages_used);
    let waiting = (d.timeout.as_secs_f64() / d.interval_mean.as_secs_f64().max(1e-3)).min(1.0);
    row(
        "TCP buffers",
        Some((room as f64 / waiting) as u64),
        format!(
            "tcp_mem pressure at {} pages, {} in use: if every ping waited its whole timeout ({:.0} s), {} requests would wait at once, a page each",
            n(pressure),
            n(m.tcp_pages_used),
            d.timeout.as_secs_f64(),
            n((d.connections as f64 * waiting) as u64)
        ),
        lift,
    )
}

fn backlog(m: &MachineLimits, s: &ServerRoom, d: &Demand) -> LimitRow {
    let lift = "sysctl net.core.somaxconn and the server's backlog (serve --backlog), or more listeners (SO_REUSEPORT workers)";
    let (Some(listeners), Some(somaxconn), true) = (s.listeners, m.somaxconn, d.local) else {
        let why = if d.local {
            "no listener seen on the port"
        } else {
            "on the server's machine"
        };
        return row("listen backlog", None, why.into(), lift);
    };
    let each = match (m.syncookies, m.syn_backlog) {
        (false, Some(syn)) => somaxconn.min(syn),
        _ => somaxconn,
    };
    let queue = u64::from(listeners) * each;
    let per_process = d.threads.max(1) * MAX_OPENING as u64;
    let cookies = if m.syncookies {
        "; a full SYN queue answers with SYN cookies"
    } else {
        "; syncookies off: tcp_max_syn_backlog caps each SYN queue"
    };
    row(
        "listen backlog",
        Some(queue / per_process * d.fits),
        format!(
            "{listeners} listener(s) on port {}, each queuing at most somaxconn {} handshakes (fewer if the server asked less): {}; the ramp keeps up to {} waiting ({} process(es) x {} thread(s) x {MAX_OPENING}){cookies}",
            d.port,
            n(somaxconn),
            n(queue),
            n(d.processes * per_process),
            d.processes,
            d.threads.max(1)
        ),
        lift,
    )
}

fn conntrack(m: &MachineLimits) -> LimitRow {
    let lift = "sysctl net.netfilter.nf_conntrack_max";
    match m.conntrack {
        None => row("conntrack", None, "nf_conntrack not loaded".into(), lift),
        Some(c) if c.count == 0 => row(
            "conntrack",
            None,
            format!(
                "nf_conntrack loaded with a table of {}, tracking nothing (no rule uses it)",
                n(c.max)
            ),
            lift,
        ),
        Some(c) => row(
            "conntrack",
            Some(c.max.saturating_sub(c.count)),
            format!(
                "{} of {} entries in use, one per connection",
                n(c.count),
                n(c.max)
            ),
            lift,
        ),
    }
}

fn cpu(m: &MachineLimits, d: &Demand) -> LimitRow {
    let us = match &d.cpu_us {
        Ok(us) if *us > 0.0 => *us,
        Ok(_) => return row("CPU for the pings", None, "measured as nothing".into(), "-"),
        Err(why) => {
            return row(
                "CPU for the pings",
                None,
                why.clone(),
                "a longer --interval",
            )
        }
    };
    let mean = d.interval_mean.as_secs_f64();
    let cores = f64::from(m.cores.max(1));
    let rate = d.connections as f64 / mean;
    let asked = rate * us / 1e6;
    let mean_needed = d.connections as f64 * us / 1e6 / cores;
    row(
        "CPU for the pings",
        Some((cores * mean / us * 1e6) as u64),
        format!(
            "{} core(s); a ping every {mean:.1} s on average asks {} requests/s at {us:.1} us each ({}) = {asked:.2} cores",
            m.cores,
            n(rate.round() as u64),
            if d.local { "both ends here" } else { "the client's end" }
        ),
        &format!(
            "a longer --interval (a mean over {mean_needed:.1} s; without --interval bench derives one that takes a sixth of the cores), or more cores"
        ),
    )
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
