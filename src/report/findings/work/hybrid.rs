//! The finding on seed 004's hybrid, an event loop with a pool of threads for the
//! blocking calls: at 100 clients of the wait workload (or the most measured), what one
//! pool thread serves, so how many the ideal takes, and what a pool thread costs in
//! memory and CPU per request against the loop with its own timer.

use super::wait::{served, whole, Wait, LOOP, ONE_AT_A_TIME};
use super::{apart, cpu, not_told, size, Finding};
use crate::report::grouped;
use crate::results::comparison::Cell;
use crate::results::figures::Figures;
use crate::results::tiers::{told_apart_by, RoundFigure};
use crate::results::work::LOOP_INLINE;

/// Seed 004's hybrid: what a pool thread serves, so the pool the ideal takes, and
/// what a pool thread costs against the loop's own timer.
pub(super) fn hybrid(wait: &Wait) -> Option<Finding> {
    let level = wait.level(100);
    let pools = wait.pools(level);
    let (cell, figures, threads) = pools
        .iter()
        .max_by(|a, b| a.1.throughput_per_s.total_cmp(&b.1.throughput_per_s))?;
    let per_thread = figures.throughput_per_s / *threads as f64;
    let limit = wait.one_at_a_time();
    let mut text = format!(
        "Seed 004 pairs an event loop with threads for the blocking calls. At {}, {} with a pool of {threads} threads served {}: {} req/s per pool thread, against {} req/s (1 / {}) for a thread that serves one wait at a time.",
        wait.cell_words(level),
        cell.subject,
        served(figures),
        whole(per_thread),
        whole(limit),
        wait.wait_words()
    );
    if per_thread > 0.0 {
        let needed = |c: usize| whole(wait.ideal(c) / per_thread);
        let one_each = (per_thread / limit).max(limit / per_thread) <= ONE_AT_A_TIME;
        text.push_str(&format!(
            " {}the ideal takes a pool of about {} threads{}",
            if one_each {
                "Each pool thread holds a request for its whole wait, so N threads serve N waits at once, and "
            } else {
                "At that rate, "
            },
            needed(level),
            if one_each { ", one per client" } else { "" }
        ));
        let most = *wait.levels.last().unwrap_or(&level);
        if most != level {
            text.push_str(&format!(" ({} at {} clients)", needed(most), grouped(most)));
        }
        text.push('.');
    }
    text.push_str(&pool_cost(wait, level, cell, figures, *threads));
    Some(Finding {
        topic: "seed 004's hybrid: a loop and a pool".to_string(),
        text,
    })
}

/// What a pool of `threads` costs against the loop with its own timer (or with the
/// wait inside it): memory per pool thread, and CPU per request.
fn pool_cost(wait: &Wait, level: usize, pool: &Cell, with: &Figures, threads: usize) -> String {
    let Some((base, without)) = wait.at(LOOP, level).or_else(|| wait.at(LOOP_INLINE, level)) else {
        return String::new();
    };
    let mut text = String::new();
    let pss: RoundFigure = &|f: &Figures| f.pss_peak_kb;
    if let (Some(a), Some(b)) = (with.pss_peak_kb, without.pss_peak_kb) {
        let per_thread = (a - b) * 1024.0 / threads as f64;
        if per_thread > 0.0 && told_apart_by(base, pool, pss) {
            text.push_str(&format!(
                " Each pool thread costs {} of memory (the pool's peak PSS over {}'s, over its {threads} threads)",
                size(per_thread),
                base.subject
            ));
        } else {
            text.push_str(&format!(
                " The rounds tell no memory the pool costs apart from {}'s",
                base.subject
            ));
        }
    }
    if let (Some(a), Some(b)) = (with.cpu_us_per_req, without.cpu_us_per_req) {
        let ctx = match (with.ctx_per_req, without.ctx_per_req) {
            (Some(x), Some(y)) => format!(", {x:.2} against {y:.2} context switches"),
            _ => String::new(),
        };
        let sep = if text.is_empty() {
            " Handing"
        } else {
            "; handing"
        };
        text.push_str(&format!(
            "{sep} each wait to the pool and back takes {a:.1} µs of CPU per request against {b:.1} µs for {}{ctx}",
            base.subject
        ));
    }
    if !text.is_empty() {
        text.push('.');
    }
    let cpu_alike = !apart(pool, base, &cpu);
    if cpu_alike && with.cpu_us_per_req.is_some() {
        text.push_str(&not_told("CPU per request", &[(pool, base)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::super::testing::{finding, waited, work_report};
    use crate::results::comparison::Cell;

    const TOPIC: &str = "seed 004's hybrid: a loop and a pool";

    /// A wait cell whose server's peak PSS was `pss_kb`, with `cpu_us` per request.
    fn costing(subject: &str, req_s: f64, pss_kb: f64, cpu_us: f64) -> Cell {
        let mut cell = waited(subject, 100, req_s);
        for round in &mut cell.rounds {
            round.figures.pss_peak_kb = Some(pss_kb);
            round.figures.cpu_us_per_req = Some(cpu_us);
            round.figures.ctx_per_req = Some(1.5);
        }
        let all: Vec<_> = cell.rounds.iter().map(|r| r.figures).collect();
        cell.figures = crate::results::figures::Spread::of(&all);
        cell
    }

    #[test]
    fn a_pool_thread_serves_one_wait_at_a_time_so_the_ideal_takes_one_per_client() {
        let r = work_report(
            &[("wait", &[100, 1000])],
            vec![
                costing("epoll:--offload=8", 790.0, 2_600.0, 30.0),
                costing("epoll", 9_800.0, 2_400.0, 20.0),
            ],
        );
        let text = finding(&r, TOPIC).expect("a finding");
        assert_eq!(
            text,
            "Seed 004 pairs an event loop with threads for the blocking calls. At wait, 100 clients (a 10 ms wait: the ideal is 10,000 req/s), epoll:--offload=8 with a pool of 8 threads served 790 req/s (0.079x ideal): 99 req/s per pool thread, against 100 req/s (1 / 10 ms) for a thread that serves one wait at a time. Each pool thread holds a request for its whole wait, so N threads serve N waits at once, and the ideal takes a pool of about 101 threads, one per client (1,013 at 1,000 clients). Each pool thread costs 25.6 kB of memory (the pool's peak PSS over epoll's, over its 8 threads); handing each wait to the pool and back takes 30.0 µs of CPU per request against 20.0 µs for epoll, 1.50 against 1.50 context switches."
        );
    }

    #[test]
    fn costs_the_rounds_cannot_tell_apart_are_said_to_be() {
        let r = work_report(
            &[("wait", &[100])],
            vec![
                costing("epoll:--offload=8", 790.0, 2_401.0, 20.5),
                costing("epoll", 9_800.0, 2_400.0, 20.0),
            ],
        );
        let text = finding(&r, TOPIC).expect("a finding");
        assert!(
            text.contains("The rounds tell no memory the pool costs apart from epoll's"),
            "{text}"
        );
        assert!(
            text.ends_with(
                " The rounds cannot tell apart the CPU per request of epoll:--offload=8 and epoll."
            ),
            "{text}"
        );
    }

    #[test]
    fn no_finding_without_a_pool() {
        let r = work_report(&[("wait", &[100])], vec![waited("epoll", 100, 9_800.0)]);
        assert_eq!(finding(&r, TOPIC), None);
    }
}
