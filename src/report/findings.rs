//! What a comparison found, in sentences computed from its cells: the questions the
//! seed articles ask, answered with this run's models and figures. Which models are in
//! tier 1 at the lowest and the highest concurrency, and at what multiple of the floor;
//! which models starved clients; how CPU per request moves for select, poll and epoll
//! as idle connections grow, and what each idle connection adds to a request; memory per held connection, least and most. A question
//! the run has no data for gets no sentence.

use super::{cell_name, chart, grouped, why_no_figure};
use crate::model::Family;
use crate::results::comparison::{
    active_clients, Cell, Comparison, IDLE_ACTIVE_CLIENTS, IDLE_QUESTION_MODELS,
};
use crate::results::tiers::{held_short, starved_or_failed};

/// One finding: a few words that name it, and the sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub topic: String,
    pub text: String,
}

/// Every finding the report has data for, in the order above.
pub fn all(report: &Comparison) -> Vec<Finding> {
    let mut out = Vec::new();
    for (workload, levels) in &report.workloads {
        if !matches!(workload.as_str(), "echo" | "http" | "http-close") {
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
    out.extend(starving(report));
    out.extend(idle_sweep(report));
    out.extend(memory(report));
    out
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
    let against = if report.floor_us_per_req.is_some() {
        " the floor"
    } else {
        " of CPU per request"
    };
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
        topic: cell_name(workload, level),
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
            active_clients(&cell.workload, cell.level),
            cell_name(&cell.workload, cell.level)
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

/// How CPU per request moves for select, poll and epoll as idle connections grow.
fn idle_sweep(report: &Comparison) -> Option<Finding> {
    let (_, levels) = report.workloads.iter().find(|(w, _)| w == "idle")?;
    if levels.len() < 2 {
        return None;
    }
    let mut parts = Vec::new();
    let mut growth = Vec::new();
    let mut slopes = Vec::new();
    for model in IDLE_QUESTION_MODELS {
        let Some((part, grew)) = model_sweep(report, model, levels) else {
            continue;
        };
        parts.push(part);
        growth.extend(grew.map(|g| format!("{model} {g}")));
        slopes.extend(
            ns_per_idle_connection(report, model, levels).map(|ns| format!("{model} {ns:.1} ns")),
        );
    }
    if parts.is_empty() {
        return None;
    }
    let steps: Vec<String> = levels.iter().map(|&l| grouped(l)).collect();
    let mut text = format!(
        "With {IDLE_ACTIVE_CLIENTS} active clients and {} idle connections, CPU per request goes: {}.",
        steps.join(", then "),
        parts.join("; ")
    );
    if !slopes.is_empty() {
        text.push_str(&format!(
            " Each idle connection held adds to the CPU of every request: {} (the least-squares slope of CPU per request over the idle connections held).",
            slopes.join(", ")
        ));
    }
    if !growth.is_empty() {
        text.push_str(&format!(
            " From {} to {} idle connections, the cost grew {}.",
            steps[0],
            steps[steps.len() - 1],
            growth.join(", ")
        ));
    }
    Some(Finding {
        topic: "idle connections".to_string(),
        text,
    })
}

/// One model's idle sweep in words (`poll 1.18x → 1.72x → 24.32x`, with why a level
/// has no figure and how many idle connections a level held when fewer than asked),
/// and how much its cost grew from the first level to the last (`3.7x`, `3.7x (holding
/// 960)`), when both have a figure; `None` if the model has no figure at all.
fn model_sweep(
    report: &Comparison,
    model: &str,
    levels: &[usize],
) -> Option<(String, Option<String>)> {
    let cell = |level: usize| report.cell(model, "idle", level);
    let values: Vec<Option<f64>> = levels.iter().map(|&l| cell(l).and_then(ranking)).collect();
    if values.iter().all(Option::is_none) {
        return None;
    }
    let steps: Vec<String> = levels
        .iter()
        .zip(&values)
        .map(|(&level, v)| {
            let figure = v.map_or("no figure".to_string(), |v| chart::ranking_label(report, v));
            match cell(level).filter(|c| held_short(c)).and_then(held) {
                Some(held) => format!("{figure} (held {} of {})", grouped(held), grouped(level)),
                None => figure,
            }
        })
        .collect();
    let mut part = format!("{model} {}", steps.join(" → "));
    let missing = levels.iter().zip(&values).find(|(_, v)| v.is_none());
    if let Some((&level, _)) = missing {
        if let Some(why) = cell(level).and_then(why_no_figure) {
            part.push_str(&format!(" ({why}, at {})", grouped(level)));
        }
    }
    let grew = match (values.first(), values.last()) {
        (Some(Some(first)), Some(Some(last))) => Some(format!("{:.1}x", last / first)),
        _ => None,
    };
    let last = levels
        .last()
        .and_then(|&l| cell(l))
        .filter(|c| held_short(c));
    let grew = match (grew, last.and_then(held)) {
        (Some(grew), Some(held)) => Some(format!("{grew} (holding {})", grouped(held))),
        (grew, _) => grew,
    };
    Some((part, grew))
}

/// The idle connections a cell held, by its median.
fn held(cell: &Cell) -> Option<usize> {
    Some(cell.figures?.median.held? as usize)
}

/// The CPU (ns) each idle connection held adds to a request: the least-squares slope of
/// the model's median CPU per request over the idle connections it held, across the
/// levels where it served every active client.
fn ns_per_idle_connection(report: &Comparison, model: &str, levels: &[usize]) -> Option<f64> {
    let points: Vec<(f64, f64)> = levels
        .iter()
        .filter_map(|&level| {
            let cell = report
                .cell(model, "idle", level)
                .filter(|c| served_all(c))?;
            let median = cell.figures?.median;
            let idle = median.held.unwrap_or(level as f64);
            Some((idle, median.cpu_us_per_req? * 1000.0))
        })
        .collect();
    slope(&points)
}

/// The least-squares slope of `y` over `x`; `None` without two distinct `x`.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Memory per held connection, least and most, at the most connections measured.
fn memory(report: &Comparison) -> Option<Finding> {
    let (workload, levels) = report
        .workloads
        .iter()
        .find(|(w, _)| w == "hold")
        .or_else(|| report.workloads.iter().find(|(w, _)| w == "idle"))?;
    let level = *levels.last()?;
    let mut per_conn: Vec<(&str, f64)> = Vec::new();
    let mut fell_short: Vec<String> = Vec::new();
    for cell in report
        .cells
        .iter()
        .filter(|c| &c.workload == workload && c.level == level)
    {
        let Some(m) = cell.figures.map(|s| s.median) else {
            continue;
        };
        let (Some(held), Some(bytes)) = (m.held, m.private_per_conn_b) else {
            continue;
        };
        if held < level as f64 {
            fell_short.push(format!(
                "{} held only {}",
                cell.subject,
                grouped(held as usize)
            ));
        } else {
            per_conn.push((cell.subject.as_str(), bytes));
        }
    }
    if per_conn.len() < 2 {
        return None;
    }
    per_conn.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (least, most) = (per_conn[0], per_conn[per_conn.len() - 1]);
    let mut text = format!(
        "Holding {} {}connections, the server's private memory grew least for {} ({}) and most for {} ({}), of {} models that held them all.",
        grouped(level),
        if workload == "idle" { "idle " } else { "" },
        least.0,
        bytes(least.1),
        most.0,
        bytes(most.1),
        per_conn.len()
    );
    if !fell_short.is_empty() {
        text.push_str(&format!(" Left out: {}.", fell_short.join(", ")));
    }
    Some(Finding {
        topic: "memory per held connection".to_string(),
        text,
    })
}

/// `740 B`, `12.4 kB` per connection.
fn bytes(b: f64) -> String {
    if b >= 1000.0 {
        format!("{:.1} kB per connection", b / 1000.0)
    } else {
        format!("{b:.0} B per connection")
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
    fn select_below_its_ceiling_has_a_slope_over_the_connections_it_held() {
        let held = |n: f64, x: f64| Figures {
            held: Some(n),
            ..costs(x)
        };
        let r = report(
            &[("idle", &[0, 1000, 10_000])],
            vec![
                cell("select", "idle", 0, 1, costs(1.0)),
                cell("select", "idle", 1000, 2, held(960.0, 4.84)),
                cell("select", "idle", 10_000, 2, held(960.0, 4.84)),
            ],
        );
        let found = all(&r);
        let idle = &found
            .iter()
            .find(|f| f.topic == "idle connections")
            .unwrap()
            .text;
        assert!(
            idle.contains("select 1.00x → 4.84x (held 960 of 1,000) → 4.84x (held 960 of 10,000)"),
            "{idle}"
        );
        // 5 µs at none, 24.2 µs at 960: 20 ns per idle connection.
        assert!(idle.contains("select 20.0 ns"), "{idle}");
        assert!(
            idle.contains("the cost grew select 4.8x (holding 960)"),
            "{idle}"
        );
        assert_eq!(slope(&[(0.0, 1.0)]), None, "one point has no slope");
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
