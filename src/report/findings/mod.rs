//! What a comparison found, in sentences computed from its cells: the questions the
//! seed articles ask, answered with this run's models and figures. A question the run
//! has no data for gets no sentence. In the order the report gives them:
//!
//! - `work`: what the seeds advise for handlers that wait or burn CPU, from the cpu and
//!   wait workloads (a blocking call inside an event loop, seed 004's hybrid, seed
//!   002's claim, CPU-bound work on more than one core);
//! - `db`: what the database workloads found (the model closest to PostgreSQL's own
//!   rate, a connection per client against a pool, seed 004's hybrid against
//!   thread-per-connection and async);
//! - here: which models are in tier 1 at the lowest and the highest concurrency, and at
//!   what multiple of the floor;
//! - `threads`: what running several threads costs an event loop at the fewest
//!   clients;
//! - here: which models starved clients;
//! - `idle`: how CPU per request moves for select, poll and epoll as idle connections
//!   grow, and what each idle connection adds to a request;
//! - `memory`: memory per held connection, least and most;
//! - `interference`: how many runs other processes disturbed, and where most.

mod db;
mod idle;
mod interference;
mod memory;
mod threads;
mod work;

use super::{cell_name, chart, grouped};
use crate::model::Family;
use crate::results::comparison::{Cell, Comparison};
use crate::results::tiers::starved_or_failed;

/// One finding: a few words that name it, and the sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub topic: String,
    pub text: String,
}

/// Every finding the report has data for, in the order above.
pub fn all(report: &Comparison) -> Vec<Finding> {
    let mut out = work::all(report);
    out.extend(db::all(report));
    for (workload, levels) in &report.workloads {
        if !counts_clients(workload) {
            continue;
        }
        let ends = [levels.first(), levels.last()];
        let mut ends: Vec<usize> = ends.into_iter().flatten().copied().collect();
        ends.dedup();
        out.extend(
            ends.into_iter()
                .filter_map(|l| tier_one(report, workload, l)),
        );
    }
    out.extend(threads::threads(report));
    out.extend(starving(report));
    out.extend(idle::idle_sweep(report));
    out.extend(memory::memory(report));
    out.extend(interference::interference(report));
    out
}

/// Does a workload's level count clients (echo, http, http-close), so that its lowest
/// and highest levels are few clients and many?
fn counts_clients(workload: &str) -> bool {
    matches!(workload, "echo" | "http" | "http-close")
}

/// What the ranking figure is a multiple of, after its label: ` the floor` (`1.06x the
/// floor`), or ` of CPU per request` (`5.3 µs of CPU per request`) without a floor.
fn against(report: &Comparison) -> &'static str {
    if report.floor_us_per_req.is_some() {
        " the floor"
    } else {
        " of CPU per request"
    }
}

/// The median ranking figure of a cell.
fn ranking(cell: &Cell) -> Option<f64> {
    cell.figures.and_then(|s| chart::ranking(&s.median))
}

/// Did every client of the cell get its replies?
fn served_all(cell: &Cell) -> bool {
    cell.figures.is_some_and(|s| !starved_or_failed(&s.median))
}

fn tier_one(report: &Comparison, workload: &str, level: usize) -> Option<Finding> {
    let ranked = report.ranked(workload, level);
    let first: Vec<(&str, f64)> = ranked
        .iter()
        .filter(|c| c.tier == Some(1))
        .filter_map(|c| Some((c.subject.as_str(), ranking(c)?)))
        .collect();
    let (&(_, low), &(_, high)) = (first.first()?, first.last()?);
    let names: Vec<&str> = first.iter().map(|(name, _)| *name).collect();
    let against = against(report);
    let mut text = if first.len() == 1 {
        format!(
            "Tier 1 is {} alone, at {}{against}.",
            names[0],
            chart::ranking_label(report, low)
        )
    } else {
        // One round has no spread: say so rather than let the tier imply a test.
        let kin = if report.repeat < 2 {
            ", measured in one round, so with no spread to tell noise from a difference"
        } else {
            ""
        };
        format!(
            "Tier 1 holds {} models{kin}, at {}-{}{against}: {}.",
            first.len(),
            chart::ranking_label(report, low),
            chart::ranking_label(report, high),
            names.join(", ")
        )
    };
    let costliest = ranked
        .iter()
        .filter(|c| served_all(c))
        .filter_map(|c| Some((c, ranking(c)?)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((cell, value)) = costliest.filter(|(c, _)| c.tier != Some(1)) {
        text.push_str(&format!(
            " The costliest model that served every client is {} at {} (tier {}).",
            cell.subject,
            chart::ranking_label(report, value),
            cell.tier.unwrap_or(0)
        ));
    }
    Some(Finding {
        topic: cell_name(report, workload, level),
        text,
    })
}

/// Which models left clients without a reply, where, and how many.
fn starving(report: &Comparison) -> Option<Finding> {
    let measured = report
        .cells
        .iter()
        .any(|c| c.figures.is_some_and(|s| s.median.starved.is_some()));
    if !measured {
        return None;
    }
    let mut models: Vec<(String, Vec<String>)> = Vec::new();
    for cell in &report.cells {
        let Some(n) = cell
            .figures
            .and_then(|s| s.median.starved)
            .filter(|&n| n > 0.0)
        else {
            continue;
        };
        let place = format!(
            "{n:.0} of {} at {}",
            grouped(report.clients_in_all(&cell.workload, cell.level)),
            cell_name(report, &cell.workload, cell.level)
        );
        match models.iter_mut().find(|(m, _)| *m == cell.subject) {
            Some((_, places)) => places.push(place),
            None => models.push((cell.subject.clone(), vec![place])),
        }
    }
    let text = if models.is_empty() {
        "No model left a client without a reply.".to_string()
    } else {
        let list: Vec<String> = models
            .iter()
            .map(|(m, places)| format!("{m} ({})", places.join("; ")))
            .collect();
        let mut text = format!(
            "{} left clients without a single reply: {}.",
            count(models.len(), "model"),
            list.join(", ")
        );
        let pinned: Vec<&str> = models
            .iter()
            .map(|(m, _)| m.as_str())
            .filter(|m| chart::family(m) == Some(Family::Blocking))
            .collect();
        if !pinned.is_empty() {
            text.push_str(&format!(
                " {} a connection to a worker until the client closes it, so clients beyond the workers wait.",
                match pinned.len() {
                    1 => format!("{} gives", pinned[0]),
                    _ => format!("{} give", pinned.join(", ")),
                }
            ));
        }
        text.push_str(" They rank below every model that served all its clients.");
        text
    };
    Some(Finding {
        topic: "starved clients".to_string(),
        text,
    })
}

/// `1 model`, `4 models`.
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::figures::Figures;
    use crate::results::testing::{cell, costs, report};

    #[test]
    fn names_tier_one_with_its_span_and_the_costliest_model_that_served_all() {
        let starving = Figures {
            starved: Some(90.0),
            ..costs(2.1)
        };
        let mut r = report(
            &[("http", &[100])],
            vec![
                cell("epoll", "http", 100, 1, costs(1.06)),
                cell("select", "http", 100, 1, costs(1.03)),
                cell("fork", "http", 100, 3, costs(2.75)),
                cell("prefork", "http", 100, 4, starving),
            ],
        );
        r.repeat = 5;
        let found = all(&r);
        assert_eq!(found[0].topic, "http, 100 clients");
        assert_eq!(
            found[0].text,
            "Tier 1 holds 2 models, at 1.03x-1.06x the floor: select, epoll. The costliest model that served every client is fork at 2.75x (tier 3)."
        );
        assert_eq!(found[1].topic, "starved clients");
        assert!(
            found[1]
                .text
                == "1 model left clients without a single reply: prefork (90 of 100 at http, 100 clients). prefork gives a connection to a worker until the client closes it, so clients beyond the workers wait. They rank below every model that served all its clients.",
            "{}",
            found[1].text
        );
        assert_eq!(found.len(), 2, "no idle or memory data, no such sentence");
    }

    #[test]
    fn the_idle_sweep_says_how_each_models_cost_grows_and_why_one_stopped() {
        let held = |x: f64, per_conn: f64| Figures {
            held: Some(10_000.0),
            private_per_conn_b: Some(per_conn),
            ..costs(x)
        };
        let short = Figures {
            held: Some(1018.0),
            private_per_conn_b: Some(110.0),
            ..Figures::default()
        };
        let mut gone = cell("select", "idle", 10_000, 3, short);
        gone.server_said = vec!["select: descriptor 1024 is not below FD_SETSIZE".into()];
        let r = report(
            &[("idle", &[0, 10_000])],
            vec![
                cell("select", "idle", 0, 1, costs(1.1)),
                gone,
                cell("poll", "idle", 0, 1, costs(1.0)),
                cell("poll", "idle", 10_000, 2, held(20.0, 1500.0)),
                cell("epoll", "idle", 0, 1, costs(1.1)),
                cell("epoll", "idle", 10_000, 1, held(1.2, 700.0)),
            ],
        );
        let found = all(&r);
        let idle = found
            .iter()
            .find(|f| f.topic == "idle connections")
            .unwrap();
        assert_eq!(
            idle.text,
            "With 50 active clients and 0, then 10,000 idle connections, CPU per request goes: select 1.10x → no figure (held 1,018 of 10,000) (select: descriptor 1024 is not below FD_SETSIZE, at 10,000); poll 1.00x → 20.00x; epoll 1.10x → 1.20x. Each idle connection held adds to the CPU of every request: poll 9.5 ns, epoll 0.1 ns (the least-squares slope of CPU per request over the idle connections held). From 0 to 10,000 idle connections, the cost grew poll 20.0x, epoll 1.1x."
        );
        let memory = found
            .iter()
            .find(|f| f.topic == "memory per held connection")
            .unwrap();
        assert_eq!(
            memory.text,
            "Holding 10,000 idle connections, the server's private memory grew least for epoll (700 B per connection) and most for poll (1.5 kB per connection), of 2 models that held them all. Left out: select held only 1,018."
        );
    }

    #[test]
    fn a_run_without_figures_finds_nothing() {
        assert!(all(&report(&[("http", &[10])], Vec::new())).is_empty());
    }

    #[test]
    fn one_round_speaks_of_no_noise() {
        let r = report(
            &[("http", &[100])],
            vec![
                cell("epoll", "http", 100, 1, costs(1.06)),
                cell("select", "http", 100, 1, costs(1.03)),
            ],
        );
        assert_eq!(r.repeat, 1);
        let text = &all(&r)[0].text;
        assert!(!text.contains("noise of the"), "{text}");
        assert!(text.contains("measured in one round"), "{text}");
    }
}
