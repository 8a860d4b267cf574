//! The `idle` workload's measurement: what a server's scan of every descriptor costs
//! its active clients as idle connections pile up.
//!
//! The active clients must hold the low descriptors, whatever the idle connections get:
//! `select` serves only descriptors below FD_SETSIZE, and active clients that came after
//! a thousand idle ones would get none of those and starve. A server takes the lowest
//! free descriptor on accept, so compare first opens as many placeholder connections as
//! there are active clients, then starts the idle holder (`bench hold`, silent
//! connections), then closes the placeholders and starts the active clients, which take
//! the descriptors the placeholders freed. A model with a descriptor ceiling of its own
//! (select's FD_SETSIZE) is given as many idle connections as fit below it beside the
//! active clients; the holder's count of the connections it held is the cell's `held`.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::child::BenchChild;
use super::measure::BENCH_SLACK;
use super::plan::{self, CompareWorkload, Plan};
use crate::results::comparison::IDLE_ACTIVE_CLIENTS;
use crate::results::run::BenchRun;
use crate::sample::procfs::{open_descriptors, process_cpu_ns};
use crate::sample::ProcessTree;

/// Descriptors left free below a ceiling beside the active clients' (the load
/// generator's probe connection, a connection the server has not closed yet).
const SPARE_DESCRIPTORS: usize = 8;
/// How long the server is given to accept or close the placeholder connections.
const PLACEHOLDERS_MAX: Duration = Duration::from_secs(1);

/// The server an idle measurement runs against.
#[derive(Debug, Clone, Copy)]
pub struct IdleServer {
    pub addr: SocketAddr,
    pub pid: Option<u32>,
    /// The descriptors the model can serve at most (`None`: no limit of its own).
    pub ceiling: Option<usize>,
}

/// Holds `level` silent connections (fewer where the server's ceiling leaves less
/// room), then measures the active clients with `run_active` (their arguments, the
/// JSON file, a time limit: the caller samples the server where it runs); the run's
/// `held` is the holder's count.
pub fn measure(
    plan: &Plan,
    scratch: &Path,
    level: usize,
    server: IdleServer,
    json: PathBuf,
    run_active: impl FnOnce(&[String], PathBuf, Duration) -> Result<BenchRun>,
) -> Result<BenchRun> {
    let before = descriptors(server.pid);
    // A server that accepts none leaves them in its backlog; one whose backlog is full
    // leaves the rest unconnected: the active clients then have fewer places kept.
    let placeholders: Vec<TcpStream> = (0..IDLE_ACTIVE_CLIENTS)
        .map_while(|_| TcpStream::connect_timeout(&server.addr, PLACEHOLDERS_MAX).ok())
        .collect();
    let reserved = before.map(|n| n + placeholders.len());
    wait_for_descriptors(server.pid, |n| reserved.is_some_and(|r| n >= r));
    let kept = placeholders.len();
    let idle = idle_connections(level, server.ceiling, descriptors(server.pid));
    let ramp = plan::ramp_time(idle) + Duration::from_millis(300);
    let lifetime = ramp + plan.duration + Duration::from_secs(1);
    let holder_args =
        super::measure::bench_args(plan, plan::idle_holder_args(idle, server.addr, lifetime));
    let holder = BenchChild::start(
        &holder_args,
        None,
        scratch.join("holder.json"),
        lifetime + BENCH_SLACK,
    )?;
    std::thread::sleep(ramp);
    let holding = descriptors(server.pid);
    drop(placeholders);
    wait_for_descriptors(server.pid, |n| holding.is_some_and(|h| n + kept <= h));
    let args = super::measure::bench_args(
        plan,
        plan::bench_args(
            CompareWorkload::Idle,
            level,
            server.addr,
            plan.duration,
            &plan.handlers,
            &plan.path(CompareWorkload::Idle),
        ),
    );
    let active = run_active(&args, json, plan.duration + BENCH_SLACK);
    // Its lifetime is an upper bound; it is done once the active clients are.
    let held = holder.stop()?;
    settle(server.pid);
    let mut run = active?;
    run.held = held.held;
    Ok(run)
}

/// The idle connections to hold at `level`: all of them, or as many as fit below the
/// server's descriptor ceiling beside the `open` descriptors it has now (the active
/// clients' placeholders among them) and a few spare.
pub fn idle_connections(level: usize, ceiling: Option<usize>, open: Option<usize>) -> usize {
    let Some(ceiling) = ceiling else {
        return level;
    };
    // Without a count of its descriptors, assume the listener, stdio and the clients.
    let open = open.unwrap_or(IDLE_ACTIVE_CLIENTS + 4);
    level.min(ceiling.saturating_sub(open + SPARE_DESCRIPTORS))
}

/// The descriptors the server's whole process tree has open.
fn descriptors(pid: Option<u32>) -> Option<usize> {
    let pids = ProcessTree::new(pid?).ok()?.pids().ok()?;
    Some(pids.into_iter().filter_map(open_descriptors).sum())
}

/// Waits until the server's descriptor count meets `done`, at most
/// [`PLACEHOLDERS_MAX`] (a server whose count cannot be read is not waited for).
fn wait_for_descriptors(pid: Option<u32>, done: impl Fn(usize) -> bool) {
    let started = Instant::now();
    while started.elapsed() < PLACEHOLDERS_MAX {
        match descriptors(pid) {
            Some(n) if !done(n) => std::thread::sleep(Duration::from_millis(5)),
            _ => return,
        }
    }
}

/// How long [`settle`] waits at most.
const SETTLE_MAX: Duration = Duration::from_secs(2);
/// A server using less CPU than this share of a core has settled.
const SETTLED_SHARE: f64 = 0.05;

/// Waits until the server has done with the connections the holder closed (a poll
/// server takes a while over ten thousand), so that work does not land in the next
/// measurement, of this server or another.
fn settle(pid: Option<u32>) {
    let Some(pid) = pid else { return };
    let step = Duration::from_millis(20);
    let started = Instant::now();
    let mut last = process_cpu_ns(pid);
    while started.elapsed() < SETTLE_MAX {
        std::thread::sleep(step);
        let now = process_cpu_ns(pid);
        let (Some(before), Some(after)) = (last, now) else {
            return;
        };
        if (after.saturating_sub(before) as f64) < SETTLED_SHARE * step.as_nanos() as f64 {
            return;
        }
        last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ceiling_leaves_room_for_the_active_clients() {
        assert_eq!(idle_connections(10_000, None, Some(60)), 10_000);
        assert_eq!(idle_connections(1000, Some(1024), Some(55)), 961);
        assert_eq!(idle_connections(10_000, Some(1024), Some(55)), 961);
        assert_eq!(idle_connections(500, Some(1024), Some(55)), 500);
        assert_eq!(idle_connections(1000, Some(1024), None), 962);
        assert_eq!(idle_connections(1000, Some(40), Some(55)), 0);
    }
}
