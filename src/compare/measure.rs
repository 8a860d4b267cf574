//! Carrying out a [`Plan`] in interleaved rounds.
//!
//! For each workload, every subject's server is started and warmed up once (once per
//! round for the workloads that hold connections, whose memory per held connection is
//! taken against the fresh server at rest). Then each
//! round measures the floor and runs every subject once at every level, in an order
//! rotated by one place per round, so a burst of load from elsewhere spoils one round of
//! every subject rather than every round of one; `x floor` is taken against the round's
//! own floor. Last, every server is stopped and checked for leftovers. A server that
//! dies costs the rest of its round, is started again for the next one, and its failure
//! stays as the cell's error; the comparison goes on. (The idle servers of the other
//! subjects wait in accept or poll meanwhile: less than 1% of a core together.)
//!
//! The database workloads (`db`, `queries`) differ in two ways. Each round measures
//! `pgbench -S` at every level after the floor, PostgreSQL's own rate, which the
//! round's x pgbench is taken against. And each subject's server runs for its turn
//! alone, started before it and stopped after: a server at rest still holds its
//! database connections (a pool's, a thread's), and with every server up the last ones
//! would find the database's `max_connections` taken by the others.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Result};
use indicatif::ProgressBar;

use super::child::{BenchChild, ServerChild};
use super::database::Postgres;
use super::idle::{self, IdleServer};
use super::plan::{self, CompareWorkload, Plan, Subject};
use super::remote::{self, Sampling};
use super::target;
use crate::hosts::Hosts;
use crate::results::comparison::{
    Cell, CpuAccounts, HostLoad, Round, RoundRun, StopCheck, SERVER_SAID_MAX,
};
use crate::results::db::{self, DbUsage, Pgbench};
use crate::results::figures::{Figures, Spread};
use crate::results::ideal::Bound;
use crate::results::run::BenchRun;
use crate::results::work::{self, WorkAmounts};
use crate::sample::{ProcessTree, Sampler, TreeSnapshot};
use crate::sys::affinity::list_arg;

/// How long the warm-up after a server starts runs.
const WARM_UP: Duration = Duration::from_millis(200);
/// Slack on top of a run's own duration before a hung load generator is killed.
pub(super) const BENCH_SLACK: Duration = Duration::from_secs(20);

/// Everything carrying out a plan measured.
#[derive(Debug)]
pub struct Measured {
    /// One per subject, workload and level, in plan order, without tiers yet.
    pub cells: Vec<Cell>,
    pub stops: Vec<StopCheck>,
    pub rounds: Vec<Round>,
}

/// What every step of one plan shares.
struct Ctx<'a> {
    plan: &'a Plan,
    hosts: &'a Hosts,
    bar: &'a ProgressBar,
    scratch: PathBuf,
    /// The database db and queries read, if the plan runs them.
    database: Option<&'a Postgres>,
}

/// The server a workload runs against.
struct Running {
    addr: SocketAddr,
    /// Its pid, to sample here; `None` for a server elsewhere or unknown.
    pid: Option<u32>,
    /// Its pid on the server host, to sample there.
    there: Option<u32>,
    /// Ours, to stop; `None` for an external target.
    child: Option<ServerChild>,
    /// Its process tree at rest, once warmed up: the base of memory per held
    /// connection.
    rest: Option<Box<TreeSnapshot>>,
}

/// One subject's server for one workload, across the rounds.
struct Slot<'a> {
    subject: &'a Subject,
    state: State,
}

/// Where a subject's server stands.
enum State {
    Up(Running),
    /// It could not start: every cell says why, every round.
    Refused(String),
    /// It died: the rest of the round says why; the next round starts it again.
    Died(String),
    /// Not running: a database workload starts each server for its turn alone.
    Down,
}

/// Runs the plan, db and queries against `database`; returns every cell, how every
/// server stopped, and the rounds.
pub fn execute(
    plan: &Plan,
    hosts: &Hosts,
    bar: &ProgressBar,
    database: Option<&Postgres>,
) -> Measured {
    let ctx = Ctx {
        plan,
        hosts,
        bar,
        scratch: plan.out.join(".runs"),
        database,
    };
    let _ = std::fs::create_dir_all(&ctx.scratch);
    let mut measured = Measured {
        cells: empty_cells(plan),
        stops: Vec::new(),
        rounds: Vec::new(),
    };
    for (w, stage) in plan.stages.iter().enumerate() {
        let (workload, levels) = (stage.workload, &stage.levels);
        let one_at_a_time = db::is_db(workload.name());
        let mut slots: Vec<Slot> = stage
            .subjects
            .iter()
            .map(|&s| match one_at_a_time {
                true => Slot::down(&plan.subjects[s]),
                false => Slot::start(&ctx, &plan.subjects[s], workload, levels),
            })
            .collect();
        for round in 0..plan.repeat {
            let floor = round_floor(&ctx, workload, round);
            let pgbench = match one_at_a_time {
                true => round_pgbench(&ctx, workload, levels, round),
                false => Vec::new(),
            };
            let order = rotation(slots.len(), round);
            for &s in &order {
                if round > 0 && workload.holds_connections() {
                    measured
                        .stops
                        .extend(slots[s].restart(&ctx, workload, levels));
                }
                let at = CellsAt {
                    w,
                    s,
                    round,
                    floor,
                    pgbench: &pgbench,
                };
                run_round(
                    &ctx,
                    &mut slots[s],
                    workload,
                    levels,
                    at,
                    &mut measured.cells,
                );
                if one_at_a_time {
                    measured.stops.extend(slots[s].take_down(workload));
                }
            }
            measured.rounds.push(Round {
                workload: workload.name().to_string(),
                index: round,
                floor_us_per_req: floor,
                order: order
                    .iter()
                    .map(|&s| slots[s].subject.label().to_string())
                    .collect(),
                pgbench,
            });
        }
        for slot in slots {
            measured.stops.extend(slot.stop(workload));
        }
    }
    let _ = std::fs::remove_dir_all(&ctx.scratch);
    for cell in &mut measured.cells {
        let figures: Vec<Figures> = cell.rounds.iter().map(|r| r.figures).collect();
        cell.figures = Spread::of(&figures);
    }
    measured
}

/// Subject indices in the order round `round` runs them: rotated by one place a round.
fn rotation(subjects: usize, round: usize) -> Vec<usize> {
    (0..subjects)
        .map(|i| (i + round) % subjects.max(1))
        .collect()
}

/// The cells of a plan, empty, in plan order: workload, subject, level.
fn empty_cells(plan: &Plan) -> Vec<Cell> {
    let mut cells = Vec::new();
    for stage in &plan.stages {
        let workload = stage.workload;
        for subject in stage.subjects.iter().map(|&s| &plan.subjects[s]) {
            for &level in &stage.levels {
                cells.push(Cell {
                    subject: subject.label().to_string(),
                    workload: workload.name().to_string(),
                    level,
                    runs: Vec::new(),
                    rounds: Vec::new(),
                    figures: None,
                    tier: None,
                    error: None,
                    server_said: Vec::new(),
                });
            }
        }
    }
    cells
}

/// Where one subject's round writes: its stage and its place in the stage's subjects,
/// the round, its floor and (db and queries) its pgbench at each level.
#[derive(Debug, Clone, Copy)]
struct CellsAt<'p> {
    w: usize,
    s: usize,
    round: usize,
    floor: Option<f64>,
    pgbench: &'p [Pgbench],
}

impl CellsAt<'_> {
    /// The index of level number `l` of this workload and subject in [`empty_cells`].
    fn index(&self, plan: &Plan, l: usize) -> usize {
        let before: usize = plan.stages[..self.w]
            .iter()
            .map(|stage| stage.levels.len() * stage.subjects.len())
            .sum();
        before + self.s * plan.stages[self.w].levels.len() + l
    }
}

/// The floor at the start of a round, measured while no load of ours runs.
fn round_floor(ctx: &Ctx, workload: CompareWorkload, round: usize) -> Option<f64> {
    ctx.bar.set_message(format!(
        "{} round {}/{}: the floor",
        workload.name(),
        round + 1,
        ctx.plan.repeat
    ));
    if !ctx.plan.server_host.is_local() {
        return remote::floor_there(ctx.hosts, &ctx.plan.server_host).ok();
    }
    crate::floor::measure_floor(&crate::floor::FloorArgs::brief())
        .ok()
        .map(|floor| floor.cpu_us)
}

/// `pgbench -S` at every level of a database workload's round, after its floor and
/// before any server of the round runs.
fn round_pgbench(
    ctx: &Ctx,
    workload: CompareWorkload,
    levels: &[usize],
    round: usize,
) -> Vec<Pgbench> {
    let Some(database) = ctx.database else {
        return Vec::new();
    };
    levels
        .iter()
        .map(|&level| {
            ctx.bar.set_message(format!(
                "{} round {}/{}: pgbench at {level}",
                workload.name(),
                round + 1,
                ctx.plan.repeat
            ));
            database.pgbench(level, ctx.plan.duration)
        })
        .collect()
}

/// One subject's turn in a round: every level once, on the server started for the
/// workload (started again first if it died in an earlier round, or started now for a
/// database workload's turn).
fn run_round(
    ctx: &Ctx,
    slot: &mut Slot,
    workload: CompareWorkload,
    levels: &[usize],
    at: CellsAt,
    cells: &mut [Cell],
) {
    if matches!(slot.state, State::Died(_) | State::Down) {
        *slot = Slot::start(ctx, slot.subject, workload, levels);
    }
    for (l, &level) in levels.iter().enumerate() {
        let cell = &mut cells[at.index(ctx.plan, l)];
        ctx.bar.set_message(format!(
            "{} {} at {level}, round {}/{}",
            slot.subject.label(),
            workload.name(),
            at.round + 1,
            ctx.plan.repeat
        ));
        match slot.measure(ctx, workload, level, at) {
            Ok((run, figures, host)) => {
                cell.runs.push(run);
                cell.rounds.push(RoundRun {
                    round: at.round,
                    figures,
                    host,
                });
            }
            Err(why) => {
                let why = format!("round {}: {why}", at.round + 1);
                cell.error.get_or_insert(why);
            }
        }
        if let State::Up(Running {
            child: Some(child), ..
        }) = &mut slot.state
        {
            keep_said(&mut cell.server_said, child.new_lines());
        }
        ctx.bar.inc(1);
    }
}

impl<'a> Slot<'a> {
    /// A slot whose server is not started yet.
    fn down(subject: &'a Subject) -> Self {
        Slot {
            subject,
            state: State::Down,
        }
    }

    /// Stops the server, if it is up, leaving the slot down (to be started for its next
    /// turn); returns how it stopped.
    fn take_down(&mut self, workload: CompareWorkload) -> Option<StopCheck> {
        let state = std::mem::replace(&mut self.state, State::Down);
        Slot {
            subject: self.subject,
            state,
        }
        .stop(workload)
    }

    /// Starts the subject's server for `workload` and warms it up.
    fn start(ctx: &Ctx, subject: &'a Subject, workload: CompareWorkload, levels: &[usize]) -> Self {
        match start(ctx, subject, workload) {
            Ok(mut running) => {
                ctx.bar.set_message(format!(
                    "{} {}: warming up",
                    subject.label(),
                    workload.name()
                ));
                warm_up(ctx, workload, levels, &running);
                running.rest = match running.there {
                    Some(pid) => remote::at_rest_there(ctx.hosts, &ctx.plan.server_host, pid),
                    None => snapshot(running.pid),
                }
                .map(Box::new);
                Slot {
                    subject,
                    state: State::Up(running),
                }
            }
            Err(err) => Slot {
                subject,
                state: State::Refused(err.to_string()),
            },
        }
    }

    /// Stops the server and starts a fresh one, so memory a server keeps after its
    /// connections close (an allocator rarely gives it back) is not in the base of the
    /// next round's memory per held connection; returns how the old one stopped.
    fn restart(
        &mut self,
        ctx: &Ctx,
        workload: CompareWorkload,
        levels: &[usize],
    ) -> Option<StopCheck> {
        let state = std::mem::replace(&mut self.state, State::Refused(String::new()));
        let stopped = Slot {
            subject: self.subject,
            state,
        }
        .stop(workload);
        *self = Slot::start(ctx, self.subject, workload, levels);
        stopped
    }

    /// One measurement at `level`; a server found dead is dropped, to be started again
    /// for the next round, and the rest of its round says why.
    fn measure(
        &mut self,
        ctx: &Ctx,
        workload: CompareWorkload,
        level: usize,
        at: CellsAt,
    ) -> Result<(BenchRun, Figures, HostLoad), String> {
        let running = match &mut self.state {
            State::Up(running) => running,
            State::Refused(why) | State::Died(why) => return Err(why.clone()),
            State::Down => return Err("the server was not started".into()),
        };
        let ceiling = match self.subject {
            Subject::Model { model, .. } => {
                crate::model::find(model).and_then(|info| info.descriptor_ceiling)
            }
            Subject::Target { .. } => None,
        };
        let measured = measure_once(ctx, workload, level, running, ceiling);
        if let Some(child) = running.child.as_mut() {
            if let Some(how) = child.exited() {
                let why = format!("server died ({how}): {}", child.last_words());
                self.state = State::Died(why.clone());
                return Err(why);
            }
        }
        let (mut run, database) = measured.map_err(|err| err.to_string())?;
        let mut figures = Figures::of(&run, running.rest.as_deref(), at.floor);
        if work::is_work(workload.name()) {
            let amounts = WorkAmounts::from(ctx.plan.handlers);
            let bound = Bound::of(workload.name(), level, &amounts, ctx.plan.server_cores());
            work::add_figures(&mut figures, &run, running.rest.as_deref(), bound.as_ref());
        }
        if let Some(rows) = db::rows_per_request(workload.name(), ctx.plan.queries) {
            let reference = at.pgbench.iter().find(|p| p.level == level);
            db::add_figures(&mut figures, &run, rows, reference, database.as_ref());
        }
        let host = host_load(&run, ctx.plan.cpus);
        // The summaries are kept; every run's histogram would only swell report.json.
        run.histogram = None;
        Ok((run, figures, host))
    }

    /// Stops the server, if it is ours and alive, and checks what it left behind.
    fn stop(self, workload: CompareWorkload) -> Option<StopCheck> {
        let State::Up(running) = self.state else {
            return None;
        };
        let child = running.child?;
        let stopped = child.stop();
        Some(StopCheck {
            subject: self.subject.label().to_string(),
            workload: workload.name().to_string(),
            stop_ms: stopped.took.as_secs_f64() * 1e3,
            status: stopped.status,
            left_behind: stopped.left_behind,
        })
    }
}

/// What else used the machine during a run: other processes' CPU, over the run's wall
/// time (the machine's time over its CPUs); and what no process's clock accounts for.
fn host_load(run: &BenchRun, cpus: usize) -> HostLoad {
    let Some(host) = run.host else {
        return HostLoad::default();
    };
    let server = run.server.map_or(0, |s| s.cpu_ns);
    let ours = server + run.client.cpu_ns;
    let wall = host.total_ns / cpus.max(1) as u64;
    HostLoad::of(CpuAccounts {
        busy_ns: host.busy_ns,
        steal_ns: host.steal_ns,
        total_ns: host.total_ns,
        ours_ns: ours,
        others_ns: host.others_ns,
        wall_ns: wall,
    })
}

/// Adds the lines a server printed to what its cell keeps: distinct, without the
/// program-name prefix, at most [`SERVER_SAID_MAX`].
fn keep_said(said: &mut Vec<String>, lines: Vec<String>) {
    for line in lines {
        let line = line.trim_start_matches("iomodels: ").trim().to_string();
        if !line.is_empty() && !said.contains(&line) && said.len() < SERVER_SAID_MAX {
            said.push(line);
        }
    }
}

fn start(ctx: &Ctx, subject: &Subject, workload: CompareWorkload) -> Result<Running> {
    let (plan, host) = (ctx.plan, &ctx.plan.server_host);
    match subject {
        Subject::Model { model, flags, .. } => {
            let mut flags = flags.clone();
            flags.extend(plan.work_flags(workload));
            if let Some(database) = ctx.database.filter(|_| db::is_db(workload.name())) {
                flags.extend(["--database".into(), database.url().to_string()]);
            }
            if let Some(placement) = &plan.placement {
                flags.extend(["--cpus".into(), list_arg(&placement.server_cpus)]);
            }
            let at = ctx.plan.server_ip;
            let child = ServerChild::start(ctx.hosts, host, at, model, workload.proto(), &flags)?;
            let pid = Some(child.pid());
            Ok(Running {
                addr: child.addr,
                pid: pid.filter(|_| host.is_local()),
                there: pid.filter(|_| !host.is_local()),
                child: Some(child),
                rest: None,
            })
        }
        Subject::Target { .. } if workload == CompareWorkload::Echo => Err(anyhow!(
            "not measured: an external target is assumed to speak HTTP"
        )),
        Subject::Target { .. } if work::is_work(workload.name()) => Err(anyhow!(
            "not measured: an external target's /cpu and /wait are not --cpu-work and --wait"
        )),
        Subject::Target { .. } if db::is_db(workload.name()) => Err(anyhow!(
            "not measured: an external target does not read this comparison's database"
        )),
        Subject::Target { addr, pid, .. } => Ok(Running {
            addr: *addr,
            pid: pid.or_else(|| target::listener_pid(*addr)),
            there: None,
            child: None,
            rest: None,
        }),
    }
}

/// The `bench` arguments for one step, pinned where the plan places the client.
pub(super) fn bench_args(plan: &Plan, mut args: Vec<String>) -> Vec<String> {
    if let Some(placement) = &plan.placement {
        args.extend(["--cpus".into(), list_arg(&placement.client_cpus)]);
    }
    args
}

/// A short run at the lowest level, so first-touch costs (page faults, thread and
/// buffer creation) are not counted in the first measurement.
fn warm_up(ctx: &Ctx, workload: CompareWorkload, levels: &[usize], live: &Running) {
    let warm = match workload {
        CompareWorkload::Hold => return,
        CompareWorkload::Idle => CompareWorkload::Http,
        other => other,
    };
    let level = levels.first().copied().unwrap_or(10).clamp(1, 100);
    let handlers = &ctx.plan.handlers;
    let path = ctx.plan.path(warm);
    let args = bench_args(
        ctx.plan,
        plan::bench_args(warm, level, live.addr, WARM_UP, handlers, &path),
    );
    let json = ctx.scratch.join("warm.json");
    if let Ok(bench) = BenchChild::start(&args, None, json, WARM_UP + BENCH_SLACK) {
        let _ = bench.finish();
    }
}

/// The server tree now: its memory at rest.
fn snapshot(pid: Option<u32>) -> Option<TreeSnapshot> {
    ProcessTree::new(pid?).ok()?.sample().ok()
}

/// One measurement, and what PostgreSQL's processes did meanwhile (db and queries
/// against a private cluster); `ceiling` is the descriptors the model can serve at
/// most, if it has a limit of its own.
fn measure_once(
    ctx: &Ctx,
    workload: CompareWorkload,
    level: usize,
    live: &Running,
    ceiling: Option<usize>,
) -> Result<(BenchRun, Option<DbUsage>)> {
    let (plan, scratch, duration) = (ctx.plan, &ctx.scratch, ctx.plan.duration);
    let json = scratch.join("run.json");
    if workload != CompareWorkload::Idle || level == 0 {
        let path = plan.path(workload);
        let step = plan::bench_args(workload, level, live.addr, duration, &plan.handlers, &path);
        let args = bench_args(plan, step);
        let limit = duration + plan::ramp_time(level) + BENCH_SLACK;
        let database = ctx.database.filter(|_| db::is_db(workload.name()));
        let sampler = database.and_then(Postgres::sampler);
        let run = sampled_run(ctx, live, &args, json, limit);
        let usage = sampler.map(Sampler::finish);
        let usage = database.zip(usage).map(|(d, u)| d.usage(u));
        return run.map(|run| (run, usage));
    }
    let server = IdleServer {
        addr: live.addr,
        pid: live.pid,
        ceiling,
    };
    idle::measure(plan, scratch, level, server, json, |args, json, limit| {
        sampled_run(ctx, live, args, json, limit)
    })
    .map(|run| (run, None))
}

/// One bench run against `live`, its server sampled where it runs.
fn sampled_run(
    ctx: &Ctx,
    live: &Running,
    args: &[String],
    json: PathBuf,
    limit: Duration,
) -> Result<BenchRun> {
    let sampling = match live.there {
        Some(pid) => Sampling::There(pid),
        None => Sampling::Here(live.pid),
    };
    let (host, clients) = (&ctx.plan.server_host, &ctx.plan.client_hosts);
    remote::bench_run(ctx.hosts, host, clients, sampling, args, json, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_round_starts_one_place_further() {
        assert_eq!(rotation(3, 0), [0, 1, 2]);
        assert_eq!(rotation(3, 1), [1, 2, 0]);
        assert_eq!(rotation(3, 4), [1, 2, 0]);
        assert!(rotation(0, 2).is_empty());
    }
}
