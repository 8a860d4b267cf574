//! The finding on a blocking call inside an event loop: at 100 clients of the wait
//! workload (or the most measured), epoll with the wait inside its loop
//! ([`LOOP_INLINE`]) against the same loop with a pool, with its own timer, and
//! threads; and why it serves one wait at a time, when its req/s says it did.

use super::wait::{served, whole, Wait, LOOP, ONE_AT_A_TIME};
use super::{listed, not_told, Finding};
use crate::report::grouped;
use crate::results::comparison::Cell;
use crate::results::figures::Figures;
use crate::results::ideal::p99_over_handler;
use crate::results::tiers::told_apart;
use crate::results::work::LOOP_INLINE;

/// The blocking call inside an event loop: [`LOOP_INLINE`] against its loop with a
/// pool and with its timer, and threads.
pub(super) fn blocking_loop(wait: &Wait) -> Option<Finding> {
    let level = wait.level(100);
    let (inline_cell, inline) = wait.at(LOOP_INLINE, level)?;
    let mut others: Vec<(&Cell, Figures, String)> = Vec::new();
    for (cell, figures, threads) in wait.pools(level) {
        let what = format!("{} (a pool of {threads} threads)", cell.subject);
        others.push((cell, figures, what));
    }
    for (subject, what) in [(LOOP, "epoll (its own timer)"), ("threads", "threads")] {
        if let Some((cell, figures)) = wait.at(subject, level) {
            others.push((cell, figures, what.to_string()));
        }
    }
    if others.is_empty() {
        return None;
    }
    let against: Vec<String> = others
        .iter()
        .map(|(_, figures, what)| format!("{what} {}", served(figures)))
        .collect();
    let mut text = format!(
        "At {}, epoll with the wait inside its loop ({LOOP_INLINE}) served {}, p99 {:.1}x the wait, against {}.",
        wait.cell_words(level),
        served(&inline),
        p99_over_handler(&inline, wait.wait_s),
        listed(&against)
    );
    text.push_str(&why_one_at_a_time(wait, &inline));
    let alike: Vec<(&Cell, &Cell)> = others
        .iter()
        .filter(|(cell, ..)| !told_apart(inline_cell, cell) && !told_apart(cell, inline_cell))
        .map(|(cell, ..)| (inline_cell, *cell))
        .collect();
    text.push_str(&not_told("x ideal", &alike));
    Some(Finding {
        topic: "a blocking call inside an event loop".to_string(),
        text,
    })
}

/// Why [`LOOP_INLINE`] served `inline`: one wait at a time, when its req/s says so,
/// with its req/s at every level; else that its loop did not block.
fn why_one_at_a_time(wait: &Wait, inline: &Figures) -> String {
    let limit = wait.one_at_a_time();
    if inline.throughput_per_s > limit * ONE_AT_A_TIME {
        return format!(
            " That is more than one wait at a time would serve (1 / {} = {} req/s): its loop did not block on the wait.",
            wait.wait_words(),
            whole(limit)
        );
    }
    let mut text = format!(
        " A blocking call inside an event loop serves one wait at a time: while a request waits, the loop's only thread waits with it and every other connection waits behind it, so it serves at most 1 / {} = {} req/s, whatever the clients",
        wait.wait_words(),
        whole(limit)
    );
    let each: Vec<(usize, f64)> = wait
        .levels
        .iter()
        .filter_map(|&l| Some((l, wait.at(LOOP_INLINE, l)?.1.throughput_per_s)))
        .collect();
    if each.len() > 1 {
        let rates: Vec<String> = each.iter().map(|&(_, r)| whole(r)).collect();
        let levels: Vec<String> = each.iter().map(|&(l, _)| grouped(l)).collect();
        text.push_str(&format!(
            " ({} req/s at {} clients)",
            listed(&rates),
            listed(&levels)
        ));
    }
    text.push('.');
    text
}

#[cfg(test)]
mod tests {
    use super::super::testing::{finding, waited, work_report};
    use crate::results::comparison::Cell;

    const TOPIC: &str = "a blocking call inside an event loop";

    fn at(cells: Vec<Cell>) -> Option<String> {
        finding(&work_report(&[("wait", &[10, 100, 1000])], cells), TOPIC)
    }

    #[test]
    fn the_loop_that_blocks_is_set_against_its_pool_its_timer_and_threads() {
        let text = at(vec![
            waited("epoll:--offload=0", 10, 96.0),
            waited("epoll:--offload=0", 100, 99.0),
            waited("epoll:--offload=0", 1000, 98.0),
            waited("epoll:--offload=8", 100, 790.0),
            waited("epoll", 100, 9_800.0),
            waited("threads", 100, 9_500.0),
        ])
        .expect("a finding");
        assert_eq!(
            text,
            "At wait, 100 clients (a 10 ms wait: the ideal is 10,000 req/s), epoll with the wait inside its loop (epoll:--offload=0) served 99 req/s (0.010x ideal), p99 1.5x the wait, against epoll:--offload=8 (a pool of 8 threads) 790 req/s (0.079x ideal), epoll (its own timer) 9,800 req/s (0.98x ideal) and threads 9,500 req/s (0.95x ideal). A blocking call inside an event loop serves one wait at a time: while a request waits, the loop's only thread waits with it and every other connection waits behind it, so it serves at most 1 / 10 ms = 100 req/s, whatever the clients (96, 99 and 98 req/s at 10, 100 and 1,000 clients)."
        );
    }

    #[test]
    fn a_loop_that_served_more_than_one_wait_at_a_time_did_not_block() {
        let text = at(vec![
            waited("epoll:--offload=0", 100, 5_000.0),
            waited("threads", 100, 9_500.0),
        ])
        .expect("a finding");
        assert!(
            text.contains("That is more than one wait at a time would serve (1 / 10 ms = 100 req/s): its loop did not block on the wait."),
            "{text}"
        );
        assert!(!text.contains("serves one wait at a time"), "{text}");
    }

    #[test]
    fn figures_the_rounds_cannot_tell_apart_are_said_to_be() {
        let text = at(vec![
            waited("epoll:--offload=0", 100, 99.0),
            waited("epoll", 100, 101.0),
            waited("threads", 100, 9_500.0),
        ])
        .expect("a finding");
        assert!(
            text.ends_with(
                " The rounds cannot tell apart the x ideal of epoll:--offload=0 and epoll."
            ),
            "{text}"
        );
    }

    #[test]
    fn no_finding_without_the_loop_that_blocks_or_anything_to_set_it_against() {
        assert_eq!(at(vec![waited("threads", 100, 9_500.0)]), None);
        assert_eq!(at(vec![waited("epoll:--offload=0", 100, 99.0)]), None);
        let mut r = work_report(
            &[("wait", &[100])],
            vec![
                waited("epoll:--offload=0", 100, 99.0),
                waited("threads", 100, 9_500.0),
            ],
        );
        r.work = None;
        assert_eq!(finding(&r, TOPIC), None, "no wait recorded, no bound");
    }
}
