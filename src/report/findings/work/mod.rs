//! The findings of the work workloads, computed from their cells: what the seeds advise
//! for handlers that wait or burn CPU, measured. In the order the report gives them:
//!
//! - [`blocking`]: a blocking call inside an event loop (epoll with the wait in its
//!   loop, against a pool, its own timer and threads);
//! - [`hybrid`]: seed 004's hybrid (how many pool threads the ideal takes, and what
//!   each costs);
//! - [`coroutines`]: seed 002's claim (coroutines against threads at the most
//!   clients);
//! - [`cpu`]: which models use more than one core for CPU-bound work, and by how much
//!   they beat the best single loop.
//!
//! The first three read the wait workload through [`wait`].
//!
//! Each sentence says where the rounds cannot tell two of its figures apart, by the
//! rule tiers use ([`told_apart_by`]), paired by round on each figure.

mod blocking;
mod coroutines;
mod cpu;
mod hybrid;
mod wait;

use super::{served_all, Finding};
use crate::report::grouped;
use crate::results::comparison::{Cell, Comparison};
use crate::results::figures::Figures;
use crate::results::tiers::{told_apart_by, RoundFigure};

/// Every finding of the work workloads the report has data for.
pub(super) fn all(report: &Comparison) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(wait) = wait::Wait::of(report) {
        out.extend(blocking::blocking_loop(&wait));
        out.extend(hybrid::hybrid(&wait));
        out.extend(coroutines::seed_002(&wait));
    }
    out.extend(cpu::cpu_bound(report));
    out
}

/// The cell of `subject` at one workload and level, with its median figures, if it
/// has them.
pub(super) fn measured<'a>(
    report: &'a Comparison,
    subject: &str,
    workload: &str,
    level: usize,
) -> Option<(&'a Cell, Figures)> {
    let cell = report.cell(subject, workload, level)?;
    Some((cell, cell.figures?.median))
}

/// The levels of `workload` in the report, and the one a finding speaks of: `preferred`
/// if it was measured, else the most clients.
pub(super) fn focus(
    report: &Comparison,
    workload: &str,
    preferred: usize,
) -> Option<(Vec<usize>, usize)> {
    let (_, levels) = report.workloads.iter().find(|(w, _)| w == workload)?;
    let mut levels = levels.clone();
    levels.sort_unstable();
    let level = if levels.contains(&preferred) {
        preferred
    } else {
        *levels.last()?
    };
    Some((levels, level))
}

/// Can the rounds tell `a` and `b` apart by `cost` (lower is better), either way?
pub(super) fn apart(a: &Cell, b: &Cell, cost: RoundFigure) -> bool {
    told_apart_by(a, b, cost) || told_apart_by(b, a, cost)
}

/// Requests per second as a cost: its reciprocal.
pub(super) fn slowness(figures: &Figures) -> Option<f64> {
    (figures.throughput_per_s > 0.0).then(|| 1.0 / figures.throughput_per_s)
}

/// The p99 latency, a cost.
fn p99(figures: &Figures) -> Option<f64> {
    Some(figures.p99_us)
}

/// CPU per request, a cost.
fn cpu(figures: &Figures) -> Option<f64> {
    figures.cpu_us_per_req
}

/// Memory per client connection, a cost.
fn memory(figures: &Figures) -> Option<f64> {
    figures.private_per_conn_b
}

/// Requests per second in words: `9,512 req/s`.
pub(super) fn rate(figures: &Figures) -> String {
    format!(
        "{} req/s",
        grouped(figures.throughput_per_s.round() as usize)
    )
}

/// A size in bytes in words: `740 B`, `12.4 kB`.
fn size(bytes: f64) -> String {
    let (number, unit) = super::memory::amount(bytes);
    format!("{number} {unit}")
}

/// `a, b and c`.
pub(super) fn listed(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The sentence that says which pairs the rounds cannot tell apart by one figure:
/// ` The rounds cannot tell apart the req/s of a and b, of c and d.`; empty for none.
pub(super) fn not_told(figure: &str, pairs: &[(&Cell, &Cell)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = pairs
        .iter()
        .map(|(a, b)| format!("{} and {}", a.subject, b.subject))
        .collect();
    format!(
        " The rounds cannot tell apart the {figure} of {}.",
        pairs.join(", of ")
    )
}

#[cfg(test)]
pub(super) mod testing {
    //! Cells of the work workloads made by hand: five rounds whose figures rise and
    //! fall together by 2%, so two cells 5% apart or more are told apart, and closer
    //! ones are not.

    use crate::results::comparison::{Cell, Comparison};
    use crate::results::figures::Figures;
    use crate::results::testing::{cell_of_rounds, report};
    use crate::results::work::WorkAmounts;

    /// A cell of `workload` at `level` whose rounds are `figures` give or take 2%
    /// (x ideal, req/s, CPU per request, p99 and memory alike).
    pub fn measured(subject: &str, workload: &str, level: usize, figures: Figures) -> Cell {
        let rounds: Vec<Figures> = [1.0, 1.02, 0.98, 1.01, 0.99]
            .iter()
            .map(|j| Figures {
                throughput_per_s: figures.throughput_per_s * j,
                x_ideal: figures.x_ideal.map(|x| x * j),
                cpu_us_per_req: figures.cpu_us_per_req.map(|c| c * j),
                p99_us: figures.p99_us * j,
                private_per_conn_b: figures.private_per_conn_b.map(|b| b * j),
                pss_peak_kb: figures.pss_peak_kb.map(|kb| kb * j),
                ..figures
            })
            .collect();
        cell_of_rounds(subject, workload, level, 1, &rounds)
    }

    /// Figures of a run that served every client `req_s` requests per second, at `x`
    /// of the ideal, with `cpu_us` of CPU per request and a p99 of `p99_ms`.
    pub fn served(req_s: f64, x: f64, cpu_us: f64, p99_ms: f64) -> Figures {
        Figures {
            throughput_per_s: req_s,
            x_ideal: Some(x),
            cpu_us_per_req: Some(cpu_us),
            p99_us: p99_ms * 1000.0,
            starved: Some(0.0),
            threads: Some(1.0),
            processes: Some(1.0),
            ..Figures::default()
        }
    }

    /// A cell of the wait workload (10 ms) at `level` clients that served `req_s`,
    /// with 30 µs of CPU per request and a p99 of 15 ms.
    pub fn waited(subject: &str, level: usize, req_s: f64) -> Cell {
        let x = req_s * 0.01 / level as f64;
        measured(subject, "wait", level, served(req_s, x, 30.0, 15.0))
    }

    /// A report of five rounds of these workloads and cells, with a 10 ms wait and
    /// 100 µs of CPU per request.
    pub fn work_report(workloads: &[(&str, &[usize])], cells: Vec<Cell>) -> Comparison {
        let mut r = report(workloads, cells);
        r.repeat = 5;
        r.work = Some(WorkAmounts {
            cpu_work_us: 100.0,
            wait_ms: 10.0,
        });
        r
    }

    /// The text of the finding on `topic`, if the report has it.
    pub fn finding(r: &Comparison, topic: &str) -> Option<String> {
        super::super::all(r)
            .into_iter()
            .find(|f| f.topic == topic)
            .map(|f| f.text)
    }
}
