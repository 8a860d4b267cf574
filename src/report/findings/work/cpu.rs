//! The CPU-bound finding: at 100 clients of the cpu workload (or the most measured),
//! which models used more than one core (the server's CPU per wall second), and by how
//! much their req/s beat the best single loop's (an event loop of one thread, which
//! can use one core at most). With async and async with `spawn_blocking` both run, what
//! the classic async mistake, the CPU work inline on the runtime's thread, costs.

use super::{apart, focus, listed, measured, not_told, rate, served_all, slowness, Finding};
use crate::model::Family;
use crate::report::{cell_name, chart};
use crate::results::comparison::{Cell, Comparison};
use crate::results::figures::Figures;
use crate::results::ideal::server_cores;
use crate::results::work::ASYNC_BLOCKING_POOL;

/// More cores than this per wall second is more than one thread can use (a thread
/// uses one at most; the margin is the sampling's).
const MORE_THAN_ONE_CORE: f64 = 1.1;

/// Which models used more than one core, and how they fared against the best single
/// loop.
pub(super) fn cpu_bound(report: &Comparison) -> Option<Finding> {
    let (_, level) = focus(report, "cpu", 100)?;
    let cells: Vec<(&Cell, Figures, f64)> = report
        .cells
        .iter()
        .filter(|c| c.workload == "cpu" && c.level == level && served_all(c))
        .filter_map(|c| {
            let figures = c.figures?.median;
            Some((c, figures, server_cores(&figures)?))
        })
        .collect();
    let mut multi: Vec<&(&Cell, Figures, f64)> = cells
        .iter()
        .filter(|(.., cores)| *cores > MORE_THAN_ONE_CORE)
        .collect();
    multi.sort_by(|a, b| b.1.throughput_per_s.total_cmp(&a.1.throughput_per_s));
    let single = cells
        .iter()
        .filter(|(cell, ..)| single_loop(cell))
        .max_by(|a, b| a.1.throughput_per_s.total_cmp(&b.1.throughput_per_s));
    let cores = report
        .placement
        .as_ref()
        .map_or(report.machine.cpus, |p| p.server_cpus.len());
    let work = report.work.map_or(String::new(), |w| {
        format!(" ({} µs of CPU a request, {cores} cores)", w.cpu_work_us)
    });
    let mut text = if multi.is_empty() {
        format!(
            "At {}{work}, no model used more than one core.",
            cell_name(report, "cpu", level)
        )
    } else {
        let used: Vec<String> = multi
            .iter()
            .map(|(cell, _, cores)| format!("{} {cores:.2}", cell.subject))
            .collect();
        format!(
            "At {}{work}, {} used more than one core, by the server's CPU per wall second: {}.",
            cell_name(report, "cpu", level),
            super::super::count(multi.len(), "model"),
            listed(&used)
        )
    };
    if let Some((loop_cell, loop_figures, loop_cores)) = single {
        text.push_str(&format!(
            " The best single loop, {}, served {} on {loop_cores:.2} cores",
            loop_cell.subject,
            rate(loop_figures)
        ));
        let beat: Vec<String> = multi
            .iter()
            .map(|(cell, figures, _)| {
                let times = figures.throughput_per_s / loop_figures.throughput_per_s;
                format!("{} {} ({times:.2}x)", cell.subject, rate(figures))
            })
            .collect();
        if beat.is_empty() {
            text.push('.');
        } else {
            text.push_str(&format!("; against it, {}.", listed(&beat)));
        }
        let alike: Vec<(&Cell, &Cell)> = multi
            .iter()
            .filter(|(cell, ..)| !apart(cell, loop_cell, &slowness))
            .map(|(cell, ..)| (*loop_cell, *cell))
            .collect();
        text.push_str(&not_told("req/s", &alike));
    }
    text.push_str(&async_mistake(report, level));
    Some(Finding {
        topic: "CPU-bound work: more than one core".to_string(),
        text,
    })
}

/// Is `cell` an event loop of one thread (one, or two beside the thread that started
/// it), which can use one core at most?
fn single_loop(cell: &Cell) -> bool {
    let family = chart::family(&cell.subject);
    let event_loop = matches!(
        family,
        Some(Family::Readiness | Family::Async | Family::Completion)
    );
    let threads = cell.figures.and_then(|s| s.median.threads);
    event_loop && threads.is_some_and(|t| t <= 2.0)
}

/// async with its CPU work inline against async with it on `spawn_blocking`, at
/// `level`: ` async with its CPU work on spawn_blocking (async:--offload=2) served ...`.
fn async_mistake(report: &Comparison, level: usize) -> String {
    let (Some((inline_cell, inline)), Some((pool_cell, pool))) = (
        measured(report, "async", "cpu", level),
        measured(report, ASYNC_BLOCKING_POOL, "cpu", level),
    ) else {
        return String::new();
    };
    let mut text = format!(
        " async with its CPU work on spawn_blocking ({ASYNC_BLOCKING_POOL}) served {}, {:.2}x async with it inline on the runtime's only thread ({}).",
        rate(&pool),
        pool.throughput_per_s / inline.throughput_per_s.max(1e-9),
        rate(&inline)
    );
    if !apart(pool_cell, inline_cell, &slowness) {
        text.push_str(&not_told("req/s", &[(inline_cell, pool_cell)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::super::testing::{finding, measured, served, work_report};
    use crate::results::comparison::Cell;

    const TOPIC: &str = "CPU-bound work: more than one core";

    /// A cpu cell at 100 clients that served `req_s` with `cpu_us` of CPU per request,
    /// its server running `threads` threads.
    fn burnt(subject: &str, req_s: f64, cpu_us: f64, threads: f64) -> Cell {
        let mut figures = served(req_s, req_s / 20_000.0, cpu_us, 10.0);
        figures.threads = Some(threads);
        measured(subject, "cpu", 100, figures)
    }

    fn cpu_bound(cells: Vec<Cell>) -> Option<String> {
        finding(&work_report(&[("cpu", &[10, 100])], cells), TOPIC)
    }

    #[test]
    fn models_on_both_cores_are_set_against_the_best_single_loop() {
        let text = cpu_bound(vec![
            burnt("epoll", 8_000.0, 125.0, 1.0),
            burnt("async", 7_800.0, 128.0, 1.0),
            burnt("threads", 12_400.0, 135.0, 101.0),
            burnt("reuseport", 13_000.0, 124.0, 3.0),
            burnt("async:--offload=2", 12_000.0, 150.0, 3.0),
        ])
        .expect("a finding");
        assert_eq!(
            text,
            "At cpu, 100 clients (100 µs of CPU a request, 2 cores), 3 models used more than one core, by the server's CPU per wall second: reuseport 1.61, threads 1.67 and async:--offload=2 1.80. The best single loop, epoll, served 8,000 req/s on 1.00 cores; against it, reuseport 13,000 req/s (1.62x), threads 12,400 req/s (1.55x) and async:--offload=2 12,000 req/s (1.50x). async with its CPU work on spawn_blocking (async:--offload=2) served 12,000 req/s, 1.54x async with it inline on the runtime's only thread (7,800 req/s)."
        );
    }

    #[test]
    fn a_model_within_the_rounds_noise_of_the_loop_is_said_to_be() {
        let text = cpu_bound(vec![
            burnt("epoll", 8_000.0, 125.0, 1.0),
            burnt("epoll-threads", 8_200.0, 140.0, 3.0),
        ])
        .expect("a finding");
        assert!(
            text.ends_with(
                "against it, epoll-threads 8,200 req/s (1.02x). The rounds cannot tell apart the req/s of epoll and epoll-threads."
            ),
            "{text}"
        );
    }

    #[test]
    fn a_run_on_one_core_says_so() {
        let text = cpu_bound(vec![burnt("epoll", 8_000.0, 125.0, 1.0)]).unwrap();
        assert_eq!(
            text,
            "At cpu, 100 clients (100 µs of CPU a request, 2 cores), no model used more than one core. The best single loop, epoll, served 8,000 req/s on 1.00 cores."
        );
    }
}
