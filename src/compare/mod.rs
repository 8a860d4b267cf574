//! `iomodels compare`: every model through the seeds' workloads, in one report.
//!
//! Compare only orchestrates. For each workload it starts the real `iomodels serve` for
//! each subject (a model, or an external `--target`) as a child process, then runs
//! `--repeat` interleaved rounds of the real `iomodels bench` (which samples the
//! server's whole process tree) over every subject and level, with the floor measured
//! in each round, stops the servers and checks that nothing of them is left. It gives
//! every cell its tier ([`crate::results::tiers`]) and returns a [`Comparison`];
//! [`crate::report`] presents it.
//!
//! - [`args`]: the flags, turned into a [`plan::Plan`].
//! - [`plan`]: subjects × workloads × levels, and the bench command line of each step.
//! - [`child`]: the `serve` and `bench` child processes.
//! - [`measure`]: carrying out the plan in rounds; failures become cells that say why.
//! - [`idle`]: the `idle` workload's measurement: the active clients' descriptors
//!   first, then the idle connections.
//! - [`clients`]: the load from several hosts at once (`--client-host`), merged.
//! - [`database`]: the PostgreSQL db and queries read (`--database`, or a private
//!   cluster started and stopped here), sampled beside the servers, and pgbench's rate.
//! - [`remote`]: a server on another host (`--server-host`), sampled and put against
//!   the floor there.
//! - [`target`]: an external server, checked before the run, and its process found
//!   from its listening socket.

pub mod args;
pub mod child;
pub mod clients;
pub mod database;
pub mod idle;
pub mod measure;
pub mod plan;
pub mod remote;
pub mod target;

use std::io::IsTerminal;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use self::database::Postgres;
use self::plan::{Plan, Subject};
use crate::hosts::{Host, Hosts};
use crate::results::comparison::{Comparison, Machine, Round, VERSION};
use crate::results::figures::median;

/// Where the CPU figures come from, for the report.
const CPU_SOURCE: &str = "CPU per request is the server tree's CPU over the run in nanoseconds: each process's CPU clock (clock_getcpuclockid(3): every thread, live or exited, as the scheduler accounts it) plus the children it reaped (cutime + cstime, in 10 ms ticks); for db and queries against a private cluster, PostgreSQL's processes (the postmaster's tree) are sampled the same way, apart";

/// Carries out a comparison's plan and returns what it measured; [`crate::report`]
/// presents it.
pub fn run(plan: &Plan) -> Result<Comparison> {
    let started = Instant::now();
    let started_unix_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Targets and hosts first: one that cannot be reached ends the run before it
    // writes anything.
    for subject in &plan.subjects {
        if let Subject::Target { label, addr, pid } = subject {
            target::check(label, *addr, *pid).map_err(crate::error::usage)?;
        }
    }
    let mut hosts = Hosts::new(plan.reach.clone());
    for host in std::iter::once(&plan.server_host).chain(&plan.client_hosts) {
        hosts
            .open(host)
            .map_err(|err| crate::error::usage(err.to_string()))?;
    }
    std::fs::create_dir_all(&plan.out)
        .with_context(|| format!("cannot create the report directory {}", plan.out.display()))?;
    let database = match plan.runs_db() {
        true => Some(Postgres::open(plan.database.as_deref(), plan.queries)?),
        false => None,
    };
    let bar = progress_bar(plan.steps());
    let measured = measure::execute(plan, &hosts, &bar, database.as_ref());
    drop(hosts);
    bar.finish_and_clear();
    let recorded = database.as_ref().map(Postgres::record);
    if let Some(Err(err)) = database.map(Postgres::close) {
        // The measurements stand; what is left of the cluster must be said.
        eprintln!("iomodels: warning: {err:#}");
    }
    let mut floors: Vec<f64> = measured
        .rounds
        .iter()
        .filter_map(|r| r.floor_us_per_req)
        .collect();
    let floor_of = |round: Option<&Round>| round.and_then(|r| r.floor_us_per_req);
    let mut comparison = Comparison {
        version: VERSION,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        machine: machine(),
        started_unix_s,
        floor_us_per_req: (!floors.is_empty()).then(|| median(&mut floors)),
        floor_before_us_per_req: floor_of(measured.rounds.first()),
        floor_after_us_per_req: floor_of(measured.rounds.last()),
        wall_s: started.elapsed().as_secs_f64(),
        duration_ms: plan.duration.as_millis() as u64,
        repeat: plan.repeat,
        workloads: plan
            .stages
            .iter()
            .map(|s| (s.workload.name().to_string(), s.levels.clone()))
            .collect(),
        subjects: plan
            .subjects
            .iter()
            .map(|s| s.label().to_string())
            .collect(),
        cells: measured.cells,
        stops: measured.stops,
        rounds: measured.rounds,
        placement: plan.placement.clone(),
        ranked_by: String::new(),
        tier_rule: String::new(),
        cpu_source: CPU_SOURCE.to_string(),
        server_host: (!plan.server_host.is_local()).then(|| plan.server_host.to_string()),
        client_hosts: plan.client_hosts.iter().map(Host::to_string).collect(),
        work: plan.runs_work().then(|| plan.handlers.into()),
        database: recorded,
    };
    comparison.assign_tiers();
    Ok(comparison)
}

fn progress_bar(steps: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(steps);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} step {pos}/{len} {elapsed_precise} {msg}")
            .expect("a valid template"),
    );
    bar
}

/// What the report says about the machine.
fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |text: &str, key: &str| -> String {
        text.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let mem_kb: f64 = field(&meminfo, "MemTotal")
        .trim_end_matches(" kB")
        .parse()
        .unwrap_or(0.0);
    let kernel = nix::sys::utsname::uname()
        .map(|u| {
            format!(
                "{} {}",
                u.sysname().to_string_lossy(),
                u.release().to_string_lossy()
            )
        })
        .unwrap_or_default();
    Machine {
        cpus: crate::model::cpus(),
        kernel,
        cpu_model: field(&cpuinfo, "model name"),
        memory_gib: mem_kb / (1024.0 * 1024.0),
        nofile: Some(crate::sys::limits::raise_nofile()),
    }
}
