//! The threads finding: what running several threads costs an event loop when few
//! clients keep it busy. At the fewest clients of echo, http and http-close where both
//! kinds served every client, the event loops that run several threads are set against
//! the cheapest that runs one, by x floor and context switches per request.
//!
//! With few clients each thread often runs out of work, sleeps, and is woken (on another
//! CPU) for the next request, and the threads share the CPUs with the load generator
//! (unless `--pin separate` or another host keeps them apart): the price of the
//! mechanism, not of a model's code. A model costs more where the rounds tell it apart
//! from the single-threaded loop, as they do for tiers ([`told_apart`]). A workload gets
//! no sentence when none of its multi-threaded loops costs more, or when one costs less;
//! the explanation is given only when every one that costs more also switched context
//! more often.

use super::{against, counts_clients, ranking, served_all, Finding};
use crate::model::Family;
use crate::report::{cell_name, chart};
use crate::results::comparison::{Cell, Comparison};
use crate::results::tiers::told_apart;

/// Several threads against one at a cell: the cheapest single-threaded loop, and the
/// multi-threaded ones the rounds tell apart as costlier, and not.
struct Cost<'a> {
    workload: &'a str,
    level: usize,
    single: &'a Cell,
    costlier: Vec<&'a Cell>,
    alike: Vec<&'a Cell>,
}

/// The finding, from every workload that counts clients and has a [`Cost`] to show.
pub(super) fn threads(report: &Comparison) -> Option<Finding> {
    let costs: Vec<Cost> = report
        .workloads
        .iter()
        .filter(|(workload, _)| counts_clients(workload))
        .filter_map(|(workload, levels)| {
            let mut levels = levels.clone();
            levels.sort_unstable();
            let (level, (single, several)) = levels
                .iter()
                .find_map(|&level| Some((level, kinds(report, workload, level)?)))?;
            cost(workload, level, single, several)
        })
        .collect();
    if costs.is_empty() {
        return None;
    }
    let parts: Vec<String> = costs.iter().map(|c| in_words(report, c)).collect();
    let mut text = format!(
        "At the fewest clients, the event loops that run several threads cost more CPU per request than the cheapest that runs one. {}.",
        parts.join(". ")
    );
    let woken = costs
        .iter()
        .all(|c| c.costlier.iter().all(|m| switched_more(m, c.single)));
    if woken {
        let beside = if report.load_shares_server_cpus() {
            ", and the threads share the CPUs with the load generator"
        } else {
            ""
        };
        text.push_str(&format!(" With so few clients each thread often runs out of work, sleeps, and is woken (on another CPU) for the next request{beside}: the price of running several threads, not of a model's code."));
    }
    Some(Finding {
        topic: "threads at low concurrency".to_string(),
        text,
    })
}

/// Is the model of `cell` an event loop, one thread waiting on many connections? The
/// readiness, async and completion families. Coroutines are left out (their code reads
/// as blocking; may schedules it on threads of its own), and so are external servers.
fn event_loop(cell: &Cell) -> bool {
    matches!(
        chart::family(&cell.subject),
        Some(Family::Readiness | Family::Async | Family::Completion)
    )
}

/// Did the server of `cell` run several event loops, by the threads of its tree (summed
/// over its processes)? One loop is one thread, or two where it runs beside the thread
/// that started it (uring with one worker); several loops are started by a thread or a
/// process that then only waits, so more than two threads are two loops or more.
fn several_loops(cell: &Cell) -> Option<bool> {
    Some(cell.figures?.median.threads? > 2.0)
}

/// The event loops of one workload and level that served every client, by how many
/// threads they ran: the cheapest single-threaded one, and the multi-threaded ones,
/// cheapest first; `None` unless both kinds are there.
fn kinds<'a>(
    report: &'a Comparison,
    workload: &str,
    level: usize,
) -> Option<(&'a Cell, Vec<&'a Cell>)> {
    let mut cells: Vec<&Cell> = report
        .cells
        .iter()
        .filter(|c| c.workload == workload && c.level == level)
        .filter(|c| event_loop(c) && served_all(c) && ranking(c).is_some())
        .collect();
    let key = |cell: &Cell| ranking(cell).unwrap_or(f64::INFINITY);
    cells.sort_by(|a, b| key(a).total_cmp(&key(b)));
    let (several, single): (Vec<&Cell>, Vec<&Cell>) = cells
        .into_iter()
        .filter(|c| several_loops(c).is_some())
        .partition(|c| several_loops(c) == Some(true));
    Some((*single.first()?, several)).filter(|(_, several)| !several.is_empty())
}

/// The multi-threaded loops `several` against the single-threaded `single`; `None`
/// unless the rounds tell one of them apart as costlier and none as cheaper.
fn cost<'a>(
    workload: &'a str,
    level: usize,
    single: &'a Cell,
    several: Vec<&'a Cell>,
) -> Option<Cost<'a>> {
    if several.iter().any(|m| told_apart(m, single)) {
        return None;
    }
    let (costlier, alike): (Vec<&Cell>, Vec<&Cell>) =
        several.into_iter().partition(|m| told_apart(single, m));
    (!costlier.is_empty()).then_some(Cost {
        workload,
        level,
        single,
        costlier,
        alike,
    })
}

/// One cell's [`Cost`] in words: `At echo, 10 clients, against epoll's 1.39x the floor
/// and 0.06 context switches per request: reuseport 1.76x and 0.17, ...; select-threads
/// cannot be told apart from it`.
fn in_words(report: &Comparison, cost: &Cost) -> String {
    let figure = |cell: &Cell| {
        ranking(cell).map_or("no figure".to_string(), |v| chart::ranking_label(report, v))
    };
    let with_ctx = |cell: &Cell| match ctx(cell) {
        Some(ctx) => format!("{} and {ctx:.2}", figure(cell)),
        None => figure(cell),
    };
    let single = cost.single;
    let mut text = format!(
        "At {}, against {}'s {}{}",
        cell_name(report, cost.workload, cost.level),
        single.subject,
        figure(single),
        against(report)
    );
    if let Some(ctx) = ctx(single) {
        text.push_str(&format!(" and {ctx:.2} context switches per request"));
    }
    let costlier: Vec<String> = cost
        .costlier
        .iter()
        .map(|m| format!("{} {}", m.subject, with_ctx(m)))
        .collect();
    text.push_str(&format!(": {}", costlier.join(", ")));
    if !cost.alike.is_empty() {
        let names: Vec<&str> = cost.alike.iter().map(|m| m.subject.as_str()).collect();
        text.push_str(&format!(
            "; {} cannot be told apart from it",
            names.join(", ")
        ));
    }
    text
}

/// Did `cell` switch context more often per request than `than`, both measured?
fn switched_more(cell: &Cell, than: &Cell) -> bool {
    matches!((ctx(cell), ctx(than)), (Some(a), Some(b)) if a > b)
}

/// The median context switches per request of a cell.
fn ctx(cell: &Cell) -> Option<f64> {
    cell.figures?.median.ctx_per_req
}

#[cfg(test)]
mod tests {
    use super::super::all;
    use super::*;
    use crate::results::figures::Figures;
    use crate::results::testing::{cell_of_rounds, report};

    /// A cell of five rounds at `x` the floor, give or take 2%, with `ctx` context
    /// switches per request and `threads`/`processes`; every cell's rounds rise and fall
    /// together, so two cells 5% or more apart are told apart and closer ones are not.
    fn measured(subject: &str, level: usize, x: f64, ctx: f64, tp: (f64, f64)) -> Cell {
        let rounds: Vec<Figures> = [1.0, 1.02, 0.98, 1.01, 0.99]
            .iter()
            .map(|jitter| Figures {
                throughput_per_s: 1000.0,
                cpu_us_per_req: Some(x * jitter * 5.0),
                x_floor: Some(x * jitter),
                ctx_per_req: Some(ctx),
                starved: Some(0.0),
                threads: Some(tp.0),
                processes: Some(tp.1),
                ..Figures::default()
            })
            .collect();
        cell_of_rounds(subject, "echo", level, 1, &rounds)
    }

    /// A report of five rounds of echo at 10 and 100 clients.
    fn echo(cells: Vec<Cell>) -> Comparison {
        let mut r = report(&[("echo", &[10, 100])], cells);
        r.repeat = 5;
        r
    }

    fn threads_finding(cells: Vec<Cell>) -> Option<String> {
        found(&echo(cells))
    }

    fn found(r: &Comparison) -> Option<String> {
        let found = all(r);
        let threads = found
            .iter()
            .find(|f| f.topic == "threads at low concurrency")?;
        Some(threads.text.clone())
    }

    const ONE: (f64, f64) = (1.0, 1.0);
    const THREE: (f64, f64) = (3.0, 1.0);

    #[test]
    fn multi_threaded_event_loops_that_cost_more_at_the_fewest_clients_are_named() {
        let text = threads_finding(vec![
            measured("epoll", 10, 1.39, 0.06, ONE),
            measured("poll", 10, 1.40, 0.03, ONE),
            measured("reuseport", 10, 1.76, 0.17, THREE),
            measured("epoll-threads", 10, 1.59, 0.37, THREE),
            measured("epoll-prefork", 10, 1.79, 0.14, (3.0, 3.0)),
            measured("async-mt", 10, 1.90, 0.18, THREE),
            measured("select-threads", 10, 1.42, 0.30, (5.0, 1.0)),
            // Not event loops: no part in it, however they cost.
            measured("coroutines", 10, 1.20, 0.04, THREE),
            measured("blocking", 10, 1.10, 1.00, ONE),
            // At 100 clients the threads cost more too; the finding speaks of 10.
            measured("epoll", 100, 1.33, 0.01, ONE),
            measured("reuseport", 100, 1.50, 0.05, THREE),
        ])
        .expect("a threads finding");
        assert_eq!(
            text,
            "At the fewest clients, the event loops that run several threads cost more CPU per request than the cheapest that runs one. At echo, 10 clients, against epoll's 1.39x the floor and 0.06 context switches per request: epoll-threads 1.59x and 0.37, reuseport 1.76x and 0.17, epoll-prefork 1.79x and 0.14, async-mt 1.90x and 0.18; select-threads cannot be told apart from it. With so few clients each thread often runs out of work, sleeps, and is woken (on another CPU) for the next request, and the threads share the CPUs with the load generator: the price of running several threads, not of a model's code."
        );
    }

    #[test]
    fn with_cpus_of_their_own_the_threads_do_not_share_them_with_the_load() {
        let mut r = echo(vec![
            measured("epoll", 10, 1.39, 0.06, ONE),
            measured("reuseport", 10, 1.76, 0.17, THREE),
        ]);
        assert!(found(&r)
            .unwrap()
            .contains("share the CPUs with the load generator"));
        r.placement = Some(crate::results::comparison::Placement {
            server_cpus: vec![0],
            client_cpus: vec![1],
        });
        let text = found(&r).unwrap();
        assert!(
            text.contains("is woken (on another CPU) for the next request: the price"),
            "{text}"
        );
    }

    #[test]
    fn a_loop_beside_the_thread_that_started_it_is_single_threaded() {
        let text = threads_finding(vec![
            // uring with one worker: its reactor thread and the main one.
            measured("uring", 10, 1.30, 0.20, (2.0, 1.0)),
            measured("epoll", 10, 1.39, 0.06, ONE),
            measured("uring:--workers=2", 10, 1.80, 0.10, THREE),
        ])
        .expect("a threads finding");
        assert!(
            text.contains("against uring's 1.30x the floor and 0.20 context switches per request: uring:--workers=2 1.80x and 0.10."),
            "{text}"
        );
        assert!(
            !text.contains("sleeps"),
            "fewer context switches than the single loop: no explanation by waking: {text}"
        );
    }

    #[test]
    fn no_sentence_where_the_threads_cost_no_more_or_one_kind_is_missing() {
        let alike = vec![
            measured("epoll", 10, 1.39, 0.06, ONE),
            measured("reuseport", 10, 1.42, 0.17, THREE),
        ];
        assert_eq!(threads_finding(alike), None, "within the rounds' spread");
        let cheaper = vec![
            measured("epoll", 10, 1.39, 0.06, ONE),
            measured("reuseport", 10, 1.20, 0.17, THREE),
            measured("async-mt", 10, 1.90, 0.18, THREE),
        ];
        assert_eq!(threads_finding(cheaper), None, "one of them costs less");
        let single_only = vec![
            measured("epoll", 10, 1.39, 0.06, ONE),
            measured("poll", 10, 1.80, 0.06, ONE),
        ];
        assert_eq!(threads_finding(single_only), None);
    }

    #[test]
    fn the_fewest_clients_where_both_kinds_served_everyone() {
        let mut starving = measured("epoll", 10, 1.39, 0.06, ONE);
        starving.figures.as_mut().unwrap().median.starved = Some(3.0);
        let text = threads_finding(vec![
            starving,
            measured("reuseport", 10, 1.76, 0.17, THREE),
            measured("epoll", 100, 1.33, 0.01, ONE),
            measured("reuseport", 100, 1.50, 0.05, THREE),
        ])
        .expect("a threads finding");
        assert!(
            text.contains("At echo, 100 clients, against epoll's 1.33x"),
            "{text}"
        );
    }
}
