//! The parts of the human summary only a hold has: the limits before it starts, and
//! after it what holding cost in memory (the server's, the load generator's, the
//! kernel's by cache and end) and why connections were lost.

use std::io::{self, Write};

use crate::results::hold::{HoldMemory, Limits, Losses};
use crate::sample::machine::MachineLimits;
use crate::units::grouped;

/// The limits of a hold of `connections`, the one that binds first, and the ping
/// interval.
pub fn print_limits(
    out: &mut impl Write,
    limits: &Limits,
    connections: u64,
    machine: &MachineLimits,
) -> io::Result<()> {
    writeln!(
        out,
        "limits for {} connections ({} cores, RLIMIT_NOFILE {}):",
        grouped(connections as usize),
        machine.cores,
        grouped(machine.nofile.1 as usize)
    )?;
    for row in &limits.rows {
        let allows = row.allows.map_or("-".to_string(), |n| grouped(n as usize));
        writeln!(out, "  {:<24} {:>14}  {}", row.name, allows, row.detail)?;
    }
    let binding = limits
        .binding
        .as_ref()
        .and_then(|name| limits.rows.iter().find(|r| &r.name == name));
    if let Some(row) = binding {
        let allows = row.allows.unwrap_or(0);
        writeln!(
            out,
            "  binds first: {}, at {} connections ({:.0}% of it asked); to lift it: {}",
            row.name,
            grouped(allows as usize),
            connections as f64 * 100.0 / allows.max(1) as f64,
            row.lift
        )?;
    }
    let [low, high] = limits.interval_s;
    let cpu = limits.cpu_per_request.map_or(String::new(), |c| {
        format!(
            ": {:.1} us of CPU a request here ({:.1} client + {:.1} server{}, {} requests measured)",
            c.here_us(),
            c.client_us,
            c.server_us,
            if c.server_measured { "" } else { " taken as the client's" },
            grouped(c.requests as usize)
        )
    });
    writeln!(
        out,
        "  ping interval {low}s..{high}s, {}{cpu}; the server's idle timeout must exceed {high} s",
        if limits.interval_derived {
            "derived"
        } else {
            "given"
        }
    )
}

/// What holding cost in memory.
pub fn print_memory(out: &mut impl Write, m: &HoldMemory) -> io::Result<()> {
    if let Some(b) = m.server_private_per_conn_b {
        writeln!(
            out,
            "  {:<12} server {b:.0} B private memory per held connection",
            "memory"
        )?;
    }
    if let (Some(kb), Some(per_conn)) = (m.client_pss_kb, m.client_per_conn_b) {
        writeln!(
            out,
            "  {:<12} load generator {:.1} MB in {} process(es) (PSS, with {} held): {per_conn:.0} B per held connection",
            "memory",
            kb as f64 / 1024.0,
            m.client_processes.unwrap_or(1),
            grouped(m.held_at_reading as usize)
        )?;
    }
    writeln!(
        out,
        "  {:<12} kernel, with {} held (both ends of a connection count when on one machine):",
        "memory",
        grouped(m.held_at_reading as usize)
    )?;
    writeln!(
        out,
        "  {:<12}   TCP buffers {} kB -> {} kB: {:.0} B per connection",
        "", m.kernel_tcp_before_kb, m.kernel_tcp_holding_kb, m.kernel_tcp_per_conn_b
    )?;
    writeln!(
        out,
        "  {:<12}   slab {} kB -> {} kB: {:.0} B per connection",
        "", m.kernel_slab_before_kb, m.kernel_slab_holding_kb, m.kernel_slab_per_conn_b
    )?;
    print_caches(out, m)
}

/// The connection caches' growth, one line each, and their sum by end.
fn print_caches(out: &mut impl Write, m: &HoldMemory) -> io::Result<()> {
    let (Some(held), Some(total)) = (m.held_at_census, m.kernel_caches_per_conn_b) else {
        return Ok(());
    };
    writeln!(
        out,
        "  {:<12}   its connection caches (/proc/slabinfo, with {} held), B per connection: all = server + client + other",
        "",
        grouped(held as usize)
    )?;
    for c in &m.kernel_caches {
        let ends = match (c.server_per_conn_b, c.client_per_conn_b, c.other_per_conn_b) {
            (Some(s), Some(cl), Some(o)) => format!("{s:>6.0} + {cl:>6.0} + {o:>6.0}"),
            _ => format!("{:>24}", "-"),
        };
        let mut note = Vec::new();
        if !c.holds.is_empty() {
            note.push(format!("holds {}", c.holds.join(", ")));
        }
        if !c.shared_with.is_empty() {
            note.push(format!("shared with {}", c.shared_with.join(", ")));
        }
        writeln!(
            out,
            "  {:<12}     {:<20} {:>7.0} = {ends}  ({} objects of {:.0} B{}{})",
            "",
            c.cache,
            c.per_conn_b,
            grouped(c.objects as usize),
            c.object_b,
            if note.is_empty() { "" } else { "; " },
            note.join("; ")
        )?;
    }
    let ends = match (
        m.kernel_server_per_conn_b,
        m.kernel_client_per_conn_b,
        m.kernel_other_per_conn_b,
    ) {
        (Some(s), Some(c), Some(o)) => format!("{s:>6.0} + {c:>6.0} + {o:>6.0}"),
        _ => "the ends not told apart: give --server-pid".to_string(),
    };
    writeln!(out, "  {:<12}     {:<20} {total:>7.0} = {ends}", "", "all")
}

/// What the pings cost while every connection was held, then each kind of lost
/// connection with its cause.
pub fn print_losses(out: &mut impl Write, losses: &Losses) -> io::Result<()> {
    if let Some(p) = losses.cpu.and_then(|c| c.holding) {
        writeln!(
            out,
            "  {:<12} while all were held ({:.1} s): {}/s at {:.1} us of CPU each ({}) = {:.2} cores",
            "pings",
            p.seconds,
            grouped(p.requests_per_s as usize),
            p.cpu_us_per_request,
            if p.server_counted { "both ends" } else { "bench's end" },
            p.cores
        )?;
    }
    for c in &losses.causes {
        let count = if c.count > 0 {
            format!(" {}", grouped(c.count as usize))
        } else {
            String::new()
        };
        writeln!(out, "  {:<12} {}{count}: {}", "losses", c.kind, c.cause)?;
    }
    Ok(())
}
