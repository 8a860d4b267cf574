//! The finding on seed 002's claim that coroutines are efficient in an I/O-intensive
//! service, sometimes faster than threads: the two set against each other at 1,000
//! clients of the wait workload (or the most measured), by throughput, p99, memory per
//! connection and CPU per request.

use super::wait::{served, Wait};
use super::{cpu, listed, memory, p99, size, slowness, Finding};
use crate::results::figures::Figures;
use crate::results::tiers::{told_apart, told_apart_by, RoundFigure};

/// Seed 002's claim, coroutines against threads, at 1,000 clients (or the most).
pub(super) fn seed_002(wait: &Wait) -> Option<Finding> {
    let level = wait.level(1000);
    let (co_cell, co) = wait.at("coroutines", level)?;
    let (th_cell, th) = wait.at("threads", level)?;
    let each = |f: &Figures| {
        let mut parts = vec![served(f), format!("p99 {:.1} ms", f.p99_us / 1e3)];
        parts.extend(
            f.private_per_conn_b
                .map(|b| format!("{} per connection", size(b))),
        );
        parts.extend(
            f.cpu_us_per_req
                .map(|c| format!("{c:.1} µs of CPU per request")),
        );
        parts.join(", ")
    };
    let mut text = format!(
        "Seed 002 says coroutines are efficient in an I/O-intensive service, sometimes faster than threads. At {}: coroutines {}; threads {}.",
        wait.cell_words(level),
        each(&co),
        each(&th)
    );
    let figures: [(&str, RoundFigure); 4] = [
        ("req/s", &slowness),
        ("p99", &p99),
        ("memory per connection", &memory),
        ("CPU per request", &cpu),
    ];
    let (mut better, mut worse, mut alike) = (Vec::new(), Vec::new(), Vec::new());
    for (name, cost) in figures {
        if cost(&co).is_none() || cost(&th).is_none() {
            continue;
        }
        if told_apart_by(co_cell, th_cell, cost) {
            better.push(name.to_string());
        } else if told_apart_by(th_cell, co_cell, cost) {
            worse.push(name.to_string());
        } else {
            alike.push(name.to_string());
        }
    }
    let mut verdict = Vec::new();
    if !better.is_empty() {
        verdict.push(format!("better in {}", listed(&better)));
    }
    if !worse.is_empty() {
        verdict.push(format!("worse in {}", listed(&worse)));
    }
    if !verdict.is_empty() {
        text.push_str(&format!(" Coroutines did {}.", verdict.join(", ")));
    }
    if !alike.is_empty() {
        text.push_str(&format!(
            " The rounds cannot tell apart their {}.",
            listed(&alike)
        ));
    }
    text.push_str(
        match (told_apart(co_cell, th_cell), told_apart(th_cell, co_cell)) {
            (true, _) => " The claim holds here: coroutines served more of the ideal.",
            (_, true) => " The claim does not hold here: threads served more of the ideal.",
            _ => " Neither served more of the ideal here.",
        },
    );
    Some(Finding {
        topic: "seed 002: coroutines against threads".to_string(),
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{finding, measured, served, work_report};
    use crate::results::comparison::Cell;
    use crate::results::figures::Figures;

    const TOPIC: &str = "seed 002: coroutines against threads";

    /// A wait cell at 1,000 clients (ideal 100,000 req/s).
    fn at_1000(subject: &str, req_s: f64, p99_ms: f64, per_conn_b: f64, cpu_us: f64) -> Cell {
        let figures = Figures {
            private_per_conn_b: Some(per_conn_b),
            ..served(req_s, req_s / 100_000.0, cpu_us, p99_ms)
        };
        measured(subject, "wait", 1000, figures)
    }

    fn seed_002(cells: Vec<Cell>) -> Option<String> {
        finding(&work_report(&[("wait", &[100, 1000])], cells), TOPIC)
    }

    #[test]
    fn coroutines_that_serve_more_for_less_bear_the_claim_out() {
        let text = seed_002(vec![
            at_1000("coroutines", 41_000.0, 12.1, 9_100.0, 21.0),
            at_1000("threads", 38_000.0, 15.3, 18_300.0, 35.0),
        ])
        .expect("a finding");
        assert_eq!(
            text,
            "Seed 002 says coroutines are efficient in an I/O-intensive service, sometimes faster than threads. At wait, 1,000 clients (a 10 ms wait: the ideal is 100,000 req/s): coroutines 41,000 req/s (0.41x ideal), p99 12.1 ms, 9.1 kB per connection, 21.0 µs of CPU per request; threads 38,000 req/s (0.38x ideal), p99 15.3 ms, 18.3 kB per connection, 35.0 µs of CPU per request. Coroutines did better in req/s, p99, memory per connection and CPU per request. The claim holds here: coroutines served more of the ideal."
        );
    }

    #[test]
    fn figures_within_the_rounds_noise_are_not_called_better() {
        let text = seed_002(vec![
            at_1000("coroutines", 40_500.0, 12.1, 30_000.0, 21.0),
            at_1000("threads", 41_000.0, 12.2, 18_300.0, 21.5),
        ])
        .expect("a finding");
        assert!(
            text.ends_with(" Coroutines did worse in memory per connection. The rounds cannot tell apart their req/s, p99 and CPU per request. Neither served more of the ideal here."),
            "{text}"
        );
    }

    #[test]
    fn no_finding_without_both() {
        assert_eq!(
            seed_002(vec![at_1000("threads", 38_000.0, 15.3, 18_300.0, 35.0)]),
            None
        );
    }
}
