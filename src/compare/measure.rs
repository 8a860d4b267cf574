//! Carrying out a [`Plan`]: for each subject and workload, start the server, warm it
//! up, run every level `repeat` times, watch that it stays alive, stop it and check
//! that nothing of it is left. A subject that fails becomes cells that say why; the
//! comparison goes on.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Result};
use indicatif::ProgressBar;

use super::child::{BenchChild, ServerChild};
use super::plan::{self, CompareWorkload, Plan, Subject};
use super::target;
use crate::results::comparison::{Cell, Figures, Spread, StopCheck, SERVER_SAID_MAX};
use crate::results::run::BenchRun;
use crate::sample::ProcessTree;

/// How long the warm-up before each workload runs.
const WARM_UP: Duration = Duration::from_millis(200);
/// Slack on top of a run's own duration before a hung load generator is killed.
const BENCH_SLACK: Duration = Duration::from_secs(20);

/// The server a workload runs against.
struct Running {
    addr: SocketAddr,
    pid: Option<u32>,
    /// Ours, to stop; `None` for an external target.
    child: Option<ServerChild>,
}

/// Runs the plan; returns every cell and how every server stopped.
pub fn execute(plan: &Plan, bar: &ProgressBar) -> (Vec<Cell>, Vec<StopCheck>) {
    let scratch = plan.out.join(".runs");
    let _ = std::fs::create_dir_all(&scratch);
    let mut cells = Vec::new();
    let mut stops = Vec::new();
    for subject in &plan.subjects {
        for (workload, levels) in &plan.workloads {
            let steps = (levels.len() * plan.repeat) as u64;
            let failed = |why: String| -> Vec<Cell> {
                levels
                    .iter()
                    .map(|&level| {
                        cell(
                            subject,
                            *workload,
                            level,
                            Vec::new(),
                            None,
                            Some(why.clone()),
                        )
                    })
                    .collect()
            };
            let mut live = match start(subject, *workload) {
                Ok(live) => live,
                Err(err) => {
                    cells.extend(failed(err.to_string()));
                    bar.inc(steps);
                    continue;
                }
            };
            bar.set_message(format!(
                "{} {}: warming up",
                subject.label(),
                workload.name()
            ));
            warm_up(*workload, levels, &live, &scratch);
            let mut dead: Option<String> = None;
            for &level in levels {
                let mut runs = Vec::new();
                let mut figures = Vec::new();
                let mut error = dead.clone();
                let mut attempted = 0;
                for round in 0..plan.repeat {
                    if error.is_some() {
                        break;
                    }
                    attempted += 1;
                    bar.set_message(format!(
                        "{} {} at {level}, run {}/{}",
                        subject.label(),
                        workload.name(),
                        round + 1,
                        plan.repeat
                    ));
                    match measure_once(*workload, level, &live, plan.duration, &scratch) {
                        Ok((mut run, base)) => {
                            // The summaries are kept; every run's histogram would
                            // only swell report.json.
                            run.histogram = None;
                            figures.push(Figures::of(&run, base));
                            runs.push(run);
                        }
                        Err(err) => error = Some(err.to_string()),
                    }
                    if let Some(child) = live.child.as_mut() {
                        if let Some(how) = child.exited() {
                            let why = format!("server died ({how}): {}", child.last_words());
                            error = Some(why.clone());
                            dead = Some(why);
                        }
                    }
                    bar.inc(1);
                }
                bar.inc((plan.repeat - attempted) as u64);
                let mut done = cell(subject, *workload, level, runs, Spread::of(&figures), error);
                if let Some(child) = live.child.as_mut() {
                    done.server_said = distinct(child.new_lines());
                }
                cells.push(done);
            }
            if let Some(child) = live.child.take() {
                let stopped = child.stop();
                stops.push(StopCheck {
                    subject: subject.label().to_string(),
                    workload: workload.name().to_string(),
                    stop_ms: stopped.took.as_secs_f64() * 1e3,
                    status: stopped.status,
                    left_behind: stopped.left_behind,
                });
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    (cells, stops)
}

fn cell(
    subject: &Subject,
    workload: CompareWorkload,
    level: usize,
    runs: Vec<BenchRun>,
    figures: Option<Spread>,
    error: Option<String>,
) -> Cell {
    Cell {
        subject: subject.label().to_string(),
        workload: workload.name().to_string(),
        level,
        runs,
        figures,
        error,
        server_said: Vec::new(),
    }
}

/// The distinct lines a server printed, without the program-name prefix.
fn distinct(lines: Vec<String>) -> Vec<String> {
    let mut said: Vec<String> = Vec::new();
    for line in lines {
        let line = line.trim_start_matches("iomodels: ").trim().to_string();
        if !line.is_empty() && !said.contains(&line) && said.len() < SERVER_SAID_MAX {
            said.push(line);
        }
    }
    said
}

fn start(subject: &Subject, workload: CompareWorkload) -> Result<Running> {
    match subject {
        Subject::Model { model, flags, .. } => {
            let child = ServerChild::start(model, workload.proto(), flags)?;
            Ok(Running {
                addr: child.addr,
                pid: Some(child.pid()),
                child: Some(child),
            })
        }
        Subject::Target { .. } if workload == CompareWorkload::Echo => Err(anyhow!(
            "not measured: an external target is assumed to speak HTTP"
        )),
        Subject::Target { addr, pid, .. } => Ok(Running {
            addr: *addr,
            pid: pid.or_else(|| target::listener_pid(*addr)),
            child: None,
        }),
    }
}

/// A short run at the lowest level, so first-touch costs (page faults, thread and
/// buffer creation) are not counted in the first measurement.
fn warm_up(workload: CompareWorkload, levels: &[usize], live: &Running, scratch: &Path) {
    let warm = match workload {
        CompareWorkload::Hold => return,
        CompareWorkload::Idle => CompareWorkload::Http,
        other => other,
    };
    let level = levels.first().copied().unwrap_or(10).clamp(1, 100);
    let args = plan::bench_args(warm, level, live.addr, WARM_UP);
    if let Ok(bench) = BenchChild::start(
        &args,
        None,
        scratch.join("warm.json"),
        WARM_UP + BENCH_SLACK,
    ) {
        let _ = bench.finish();
    }
}

/// The server tree's memory now (PSS summed over the tree), in kB.
fn pss_kb(pid: Option<u32>) -> Option<u64> {
    let tree = ProcessTree::new(pid?).ok()?;
    Some(tree.sample().ok()?.pss_kb)
}

/// One measurement; returns the run and the server's memory before it.
fn measure_once(
    workload: CompareWorkload,
    level: usize,
    live: &Running,
    duration: Duration,
    scratch: &Path,
) -> Result<(BenchRun, Option<u64>)> {
    let base = pss_kb(live.pid);
    let json = scratch.join("run.json");
    if workload != CompareWorkload::Idle || level == 0 {
        let args = plan::bench_args(workload, level, live.addr, duration);
        let limit = duration + plan::ramp_time(level) + BENCH_SLACK;
        let run = BenchChild::start(&args, live.pid, json, limit)?.finish()?;
        return Ok((run, base));
    }
    // Idle: hold `level` silent connections, then measure the active clients.
    let ramp = plan::ramp_time(level) + Duration::from_millis(300);
    let lifetime = ramp + duration + Duration::from_secs(1);
    let holder_args = plan::idle_holder_args(level, live.addr, lifetime);
    let holder = BenchChild::start(
        &holder_args,
        None,
        scratch.join("holder.json"),
        lifetime + BENCH_SLACK,
    )?;
    std::thread::sleep(ramp);
    let args = plan::bench_args(CompareWorkload::Idle, level, live.addr, duration);
    let active = BenchChild::start(&args, live.pid, json, duration + BENCH_SLACK)?.finish();
    let held = holder.finish()?;
    let mut run = active?;
    run.held = held.held;
    Ok((run, base))
}
