//! The line a person can act on, first: for each workload, which model to pick and
//! why, in one clause, computed from the tiers. The pick is the model in tier 1 at the
//! most of the workload's levels, having served every client and held every connection
//! there (`idle: epoll: least CPU per request at 1,000 and 10,000 idle connections`).
//! Where the rounds cannot tell it from others at a level, the line says so; where they
//! cannot tell several such models apart, it names them all; where other models lead
//! at the remaining levels, it says where.

use super::{chart, grouped};
use crate::results::comparison::{Cell, Comparison};
use crate::results::db::is_db;
use crate::results::tiers::{held_short, median_cost, starved_or_failed};
use crate::results::work::is_work;

/// What leading a workload means, in words: (leads, is tied, leads elsewhere): `least
/// CPU per request`, `tied for least`, `cost less`; the work and database workloads
/// rank by req/s against a bound, higher being better.
fn leads(workload: &str) -> (&'static str, &'static str, &'static str) {
    if is_work(workload) {
        ("most of the ideal", "tied for most", "served more")
    } else if is_db(workload) {
        (
            "closest to PostgreSQL's own rate",
            "tied for closest",
            "came closer",
        )
    } else {
        ("least CPU per request", "tied for least", "cost less")
    }
}

/// One workload's pick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    pub workload: String,
    /// The model(s) and the reason: `uring: least CPU per request at 10 and 100 clients`.
    pub text: String,
}

/// Each workload's pick, in plan order; a workload where no model led gets none.
pub fn all(report: &Comparison) -> Vec<Pick> {
    report
        .workloads
        .iter()
        .filter_map(|(workload, levels)| {
            let text = pick(report, workload, levels)?;
            Some(Pick {
                workload: workload.clone(),
                text,
            })
        })
        .collect()
}

/// The picks as lines: `http: uring: least CPU ...`.
pub fn lines(report: &Comparison) -> Vec<String> {
    all(report)
        .into_iter()
        .map(|p| format!("{}: {}", p.workload, p.text))
        .collect()
}

/// Is a cell fit to recommend: a figure, every client served, every connection held?
fn sound(cell: &Cell) -> bool {
    let figures = cell.figures.map(|s| s.median);
    cell.error.is_none()
        && figures.is_some_and(|m| !starved_or_failed(&m) && chart::ranking(&m).is_some())
        && !held_short(cell)
}

/// The sound tier-1 models of one level, cheapest first.
fn leaders<'a>(report: &'a Comparison, workload: &str, level: usize) -> Vec<&'a Cell> {
    report
        .ranked(workload, level)
        .into_iter()
        .filter(|c| c.tier == Some(1) && sound(c))
        .collect()
}

/// A model and the levels it leads at.
struct Leader<'a> {
    name: &'a str,
    levels: Vec<usize>,
    /// Its median ranking figures at those levels, summed (to order the leaders).
    cost: f64,
}

fn pick(report: &Comparison, workload: &str, levels: &[usize]) -> Option<String> {
    let by_level: Vec<(usize, Vec<&Cell>)> = levels
        .iter()
        .map(|&l| (l, leaders(report, workload, l)))
        .collect();
    let mut board: Vec<Leader> = Vec::new();
    for (level, cells) in &by_level {
        for cell in cells {
            let cost = cell.figures.and_then(|s| median_cost(workload, &s.median));
            let at = match board.iter_mut().find(|l| l.name == cell.subject) {
                Some(at) => at,
                None => {
                    board.push(Leader {
                        name: &cell.subject,
                        levels: Vec::new(),
                        cost: 0.0,
                    });
                    board.last_mut().expect("just pushed")
                }
            };
            at.levels.push(*level);
            at.cost += cost.unwrap_or(0.0);
        }
    }
    let most = board.iter().map(|l| l.levels.len()).max()?;
    let mut best: Vec<&Leader> = board.iter().filter(|l| l.levels.len() == most).collect();
    best.sort_by(|a, b| a.cost.total_cmp(&b.cost));
    let mut text = if best.iter().all(|l| l.levels == best[0].levels) {
        agreed(report, workload, &best, &by_level)
    } else {
        split(report, workload, &by_level)
    };
    if report.repeat < 2 {
        text.push_str(" (one round: no spread to tell noise from a difference)");
    }
    Some(text)
}

/// The leaders share their levels: name them (one leader: where it leads alone, and
/// where the rounds cannot tell it from others), and say where other models lead.
fn agreed(
    report: &Comparison,
    workload: &str,
    best: &[&Leader],
    by_level: &[(usize, Vec<&Cell>)],
) -> String {
    let led = &best[0].levels;
    let names: Vec<&str> = best.iter().map(|l| l.name).collect();
    // Beside each level the leaders lead at, the other models in tier 1 there.
    let others = |level: usize| -> Vec<&str> {
        by_level
            .iter()
            .filter(|(l, _)| *l == level)
            .flat_map(|(_, cells)| cells.iter().map(|c| c.subject.as_str()))
            .filter(|s| !names.contains(s))
            .collect()
    };
    let mut text = if let [name] = names.as_slice() {
        let (alone, tied): (Vec<usize>, Vec<usize>) =
            led.iter().partition(|&&l| others(l).is_empty());
        let mut with: Vec<&str> = Vec::new();
        for other in tied.iter().flat_map(|&l| others(l)) {
            if !with.contains(&other) {
                with.push(other);
            }
        }
        let (lead, tie, _) = leads(workload);
        let mut parts = Vec::new();
        if !alone.is_empty() {
            parts.push(format!(
                "{lead} at {}",
                levels_phrase(report, workload, &alone)
            ));
        }
        if !tied.is_empty() {
            parts.push(format!(
                "{tie} at {} (with {})",
                levels_phrase(report, workload, &tied),
                with.join(", ")
            ));
        }
        format!("{name}: {}", parts.join(", "))
    } else {
        format!(
            "{}: the rounds cannot tell them apart at {}",
            or_list(&names),
            levels_phrase(report, workload, led)
        )
    };
    for (level, cells) in by_level.iter().filter(|(l, _)| !led.contains(l)) {
        let leading: Vec<&str> = cells.iter().map(|c| c.subject.as_str()).collect();
        if !leading.is_empty() {
            let at = levels_phrase(report, workload, &[*level]);
            let better = leads(workload).2;
            text.push_str(&format!("; at {at}, {} {better}", or_list(&leading)));
        }
    }
    text
}

/// No model leads at as many levels as another with other levels: each level's own.
fn split(report: &Comparison, workload: &str, by_level: &[(usize, Vec<&Cell>)]) -> String {
    let each: Vec<String> = by_level
        .iter()
        .filter(|(_, cells)| !cells.is_empty())
        .map(|(level, cells)| {
            let names: Vec<&str> = cells.iter().map(|c| c.subject.as_str()).collect();
            format!(
                "{} at {}",
                or_list(&names),
                levels_phrase(report, workload, &[*level])
            )
        })
        .collect();
    format!("no one model leads at every level: {}", each.join("; "))
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// Levels with their unit: `10 and 100 clients`, `1,000 idle connections`; per host
/// where several hosts ran the load (idle's connections are held once).
fn levels_phrase(report: &Comparison, workload: &str, levels: &[usize]) -> String {
    let numbers: Vec<String> = levels.iter().map(|&l| grouped(l)).collect();
    let list = match numbers.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    };
    let unit = match workload {
        "hold" => "connections",
        "idle" => "idle connections",
        _ => "clients",
    };
    if report.load_hosts() > 1 && workload != "idle" {
        format!("{list} {unit} per host")
    } else {
        format!("{list} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::figures::Figures;
    use crate::results::testing::{cell, costs, holding, report};

    fn five_rounds(mut r: Comparison) -> Comparison {
        r.repeat = 5;
        r
    }

    #[test]
    fn a_database_workloads_pick_is_the_one_closest_to_postgresql() {
        let read = |x: f64| Figures {
            x_pgbench: Some(x),
            ..costs(3.0)
        };
        let r = five_rounds(report(
            &[("db", &[10, 100])],
            vec![
                cell("async", "db", 10, 1, read(0.80)),
                cell("epoll:--offload=8", "db", 10, 1, read(0.85)),
                cell("epoll:--offload=8", "db", 100, 1, read(0.9)),
                cell("threads", "db", 100, 2, read(0.5)),
            ],
        ));
        assert_eq!(
            lines(&r),
            ["db: epoll:--offload=8: closest to PostgreSQL's own rate at 100 clients, tied for closest at 10 clients (with async)"]
        );
        let wait = |x: f64| Figures {
            x_ideal: Some(x),
            ..costs(3.0)
        };
        let r = five_rounds(report(
            &[("wait", &[100])],
            vec![
                cell("threads", "wait", 100, 1, wait(0.9)),
                cell("async", "wait", 100, 1, wait(0.95)),
            ],
        ));
        assert_eq!(
            lines(&r),
            ["wait: async or threads: the rounds cannot tell them apart at 100 clients"],
            "the most of the ideal first"
        );
    }

    #[test]
    fn one_model_in_tier_one_at_every_level_is_the_pick() {
        let r = five_rounds(report(
            &[("http", &[10, 100])],
            vec![
                cell("epoll", "http", 10, 1, costs(1.1)),
                cell("uring", "http", 10, 1, costs(1.2)),
                cell("threads", "http", 10, 2, costs(2.0)),
                cell("epoll", "http", 100, 1, costs(1.0)),
                cell("uring", "http", 100, 2, costs(1.4)),
            ],
        ));
        assert_eq!(
            lines(&r),
            ["http: epoll: least CPU per request at 100 clients, tied for least at 10 clients (with uring)"]
        );
    }

    #[test]
    fn leaders_the_rounds_cannot_tell_apart_are_named_together() {
        let r = five_rounds(report(
            &[("echo", &[10])],
            vec![
                cell("poll", "echo", 10, 1, costs(1.3)),
                cell("uring", "echo", 10, 1, costs(1.2)),
                cell("fork", "echo", 10, 2, costs(3.0)),
            ],
        ));
        assert_eq!(
            lines(&r),
            ["echo: uring or poll: the rounds cannot tell them apart at 10 clients"]
        );
    }

    #[test]
    fn the_model_leading_at_most_levels_is_picked_and_the_rest_said() {
        let r = five_rounds(report(
            &[("idle", &[0, 1000, 10_000])],
            vec![
                cell("select", "idle", 0, 1, costs(1.19)),
                cell("poll", "idle", 0, 1, costs(1.2)),
                cell("epoll", "idle", 0, 2, costs(1.29)),
                // Held 960 of 1,000: never the pick, whatever its tier.
                cell("select", "idle", 1000, 1, holding(960.0, 1.0)),
                cell("epoll", "idle", 1000, 1, holding(1000.0, 1.31)),
                cell("epoll", "idle", 10_000, 1, holding(10_000.0, 1.27)),
                cell("poll", "idle", 10_000, 2, holding(10_000.0, 29.96)),
            ],
        ));
        assert_eq!(
            lines(&r),
            ["idle: epoll: least CPU per request at 1,000 and 10,000 idle connections; at 0 idle connections, select or poll cost less"]
        );
    }

    #[test]
    fn where_each_level_has_its_own_leader_the_line_says_so() {
        let mut r = report(
            &[("hold", &[1000, 10_000])],
            vec![
                cell("epoll", "hold", 1000, 1, costs(1.0)),
                cell("uring", "hold", 1000, 2, costs(1.5)),
                cell("uring", "hold", 10_000, 1, costs(1.1)),
                cell("epoll", "hold", 10_000, 2, costs(1.6)),
            ],
        );
        r.client_hosts = vec!["ssh://a".into(), "ssh://b".into()];
        assert_eq!(
            lines(&r),
            ["hold: no one model leads at every level: epoll at 1,000 connections per host; uring at 10,000 connections per host (one round: no spread to tell noise from a difference)"]
        );
    }

    #[test]
    fn a_workload_where_every_model_starved_has_no_pick() {
        let starving = Figures {
            starved: Some(5.0),
            ..costs(1.0)
        };
        let r = report(
            &[("http", &[10])],
            vec![cell("prefork", "http", 10, 1, starving)],
        );
        assert!(lines(&r).is_empty());
    }
}
