//! `iomodels diff OLD.json NEW.json`: what changed between two comparisons, beyond
//! their spread, in the manner of critcmp and criterion's baselines.
//!
//! For every cell (workload and level) and model: the ranking figure in each report
//! (median `x floor`, with the rounds' min-max), the change, and whether it is beyond
//! the spread (the two reports' min-max ranges do not overlap). A report of one round
//! (`compare --quick`) has no spread: its models are compared by their values alone,
//! and the diff says so once instead of calling every change beyond the spread. Then the pairs of models
//! whose order reversed: of the pairs OLD put in different tiers, those NEW ranks the
//! other way round. Last, for each cell and in all: how many pairs OLD put in different
//! tiers, how many of those reversed, and Kendall's tau between the two reports' median
//! CPU per request.

use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::Result;

use super::args::DiffArgs;
use crate::error::usage;
use crate::results::comparison::{Cell, Comparison};
use crate::results::tiers::rank_order;

/// Runs `iomodels diff`: prints [`render`] of the two reports. A file that is not a
/// report of this version, or two reports of different cells, is a usage error.
pub fn run(args: &DiffArgs) -> Result<()> {
    let old = Comparison::load(&args.old).map_err(usage)?;
    let new = Comparison::load(&args.new).map_err(usage)?;
    same_cells(&old, &new).map_err(usage)?;
    std::io::stdout()
        .lock()
        .write_all(render(&old, &new).as_bytes())?;
    Ok(())
}

/// What one cell's comparison of two reports found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CellDiff {
    pub pairs: usize,
    /// Pairs OLD put in different tiers.
    pub apart: usize,
    /// Of those, the pairs NEW ranks the other way round.
    pub reversed: Vec<(String, String)>,
    /// Kendall's tau between the two reports' median CPU per request (`None` with
    /// fewer than two models measured in both).
    pub tau: Option<f64>,
    /// The tier-1 models of each report.
    pub winners: (Vec<String>, Vec<String>),
}

/// Checks that two reports measured the same cells; says how they differ otherwise.
pub fn same_cells(old: &Comparison, new: &Comparison) -> Result<(), String> {
    let cells = |r: &Comparison| {
        let mut keys: Vec<(String, usize, String)> = r
            .cells
            .iter()
            .map(|c| (c.workload.clone(), c.level, c.subject.clone()))
            .collect();
        keys.sort();
        keys
    };
    let (a, b) = (cells(old), cells(new));
    if a == b {
        return Ok(());
    }
    let only = |x: &[(String, usize, String)], y: &[(String, usize, String)]| {
        x.iter()
            .find(|k| !y.contains(k))
            .map(|(w, l, s)| format!("{s} at {w}/{l}"))
    };
    let example = only(&a, &b)
        .map(|k| format!("{k} is only in OLD"))
        .or_else(|| only(&b, &a).map(|k| format!("{k} is only in NEW")))
        .unwrap_or_default();
    Err(format!(
        "the two reports measured different cells ({example})"
    ))
}

/// The median ranking figure of a cell, with its min and max.
fn ranking(cell: &Cell) -> Option<(f64, f64, f64)> {
    let s = cell.figures?;
    Some((s.median.ranking()?, s.min.ranking()?, s.max.ranking()?))
}

/// Kendall's tau-a of two paired lists.
pub fn kendall_tau(pairs: &[(f64, f64)]) -> Option<f64> {
    let n = pairs.len();
    if n < 2 {
        return None;
    }
    let mut score = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            let a = (pairs[i].0 - pairs[j].0).signum();
            let b = (pairs[i].1 - pairs[j].1).signum();
            score += (a * b) as i64;
        }
    }
    Some(score as f64 / (n * (n - 1) / 2) as f64)
}

/// Compares one cell of two reports.
pub fn cell_diff(old: &Comparison, new: &Comparison, workload: &str, level: usize) -> CellDiff {
    let (a, b) = (old.ranked(workload, level), new.ranked(workload, level));
    let find = |cells: &[&'_ Cell], name: &str| cells.iter().position(|c| c.subject == name);
    let mut diff = CellDiff::default();
    for i in 0..a.len() {
        for j in i + 1..a.len() {
            diff.pairs += 1;
            let (x, y) = (a[i], a[j]);
            if x.tier.is_none() || y.tier.is_none() || x.tier == y.tier {
                continue;
            }
            diff.apart += 1;
            let (Some(nx), Some(ny)) = (find(&b, &x.subject), find(&b, &y.subject)) else {
                continue;
            };
            if rank_order(b[nx], b[ny]).is_gt() {
                diff.reversed.push((x.subject.clone(), y.subject.clone()));
            }
        }
    }
    let cpu = |c: &Cell| c.figures.and_then(|s| s.median.cpu_us_per_req);
    let paired: Vec<(f64, f64)> = a
        .iter()
        .filter_map(|x| Some((cpu(x)?, cpu(b[find(&b, &x.subject)?])?)))
        .collect();
    diff.tau = kendall_tau(&paired);
    let winners = |cells: &[&Cell]| -> Vec<String> {
        cells
            .iter()
            .filter(|c| c.tier == Some(1))
            .map(|c| c.subject.clone())
            .collect()
    };
    diff.winners = (winners(&a), winners(&b));
    diff
}

/// Whether both reports have a spread to judge by: more than one round each.
fn both_spread(old: &Comparison, new: &Comparison) -> bool {
    old.repeat > 1 && new.repeat > 1
}

/// The line that says a report has no spread, or `None` when both have one.
fn no_spread_line(old: &Comparison, new: &Comparison) -> Option<String> {
    let single: Vec<&str> = [("OLD", old), ("NEW", new)]
        .into_iter()
        .filter(|(_, r)| r.repeat < 2)
        .map(|(name, _)| name)
        .collect();
    let (who, has) = match single.as_slice() {
        [] => return None,
        [one] => (*one, "has"),
        _ => ("OLD and NEW", "each have"),
    };
    Some(format!(
        "{who} {has} one round (compare --quick): no spread to judge by, so each model is \
         compared by its values alone, and no change can be told from noise"
    ))
}

/// How a model's ranking figure moved: against the spread when both reports have one,
/// else by its values alone.
fn verdict(
    spread: bool,
    (ma, lo_a, hi_a): (f64, f64, f64),
    (mb, lo_b, hi_b): (f64, f64, f64),
) -> &'static str {
    match (spread, mb.total_cmp(&ma)) {
        (true, _) if hi_b < lo_a => "cheaper, beyond the spread",
        (true, _) if lo_b > hi_a => "costlier, beyond the spread",
        (true, _) => "within the spread",
        (false, std::cmp::Ordering::Less) => "cheaper, by value",
        (false, std::cmp::Ordering::Greater) => "costlier, by value",
        (false, std::cmp::Ordering::Equal) => "the same value",
    }
}

/// One line per model of a cell: the ranking figure then and now, and the verdict.
fn model_lines(out: &mut String, old: &Comparison, new: &Comparison, workload: &str, level: usize) {
    let new_cells = new.ranked(workload, level);
    let tier = |c: &Cell| c.tier.map_or_else(|| "-".to_string(), |t| t.to_string());
    let spread = both_spread(old, new);
    let figure = |(m, lo, hi): (f64, f64, f64)| match spread {
        true => format!("{m:6.2} ({lo:.2}-{hi:.2})"),
        false => format!("{m:6.2}"),
    };
    for a in old.ranked(workload, level) {
        let Some(b) = new_cells.iter().find(|c| c.subject == a.subject) else {
            continue;
        };
        let (Some(then), Some(now)) = (ranking(a), ranking(b)) else {
            let _ = writeln!(out, "  {:<16} no figures to compare", a.subject);
            continue;
        };
        let change = (now.0 / then.0 - 1.0) * 100.0;
        let _ = writeln!(
            out,
            "  {:<16} tier {:>2} -> {:<2}  x floor {} -> {}  {change:+6.1}%  {}",
            a.subject,
            tier(a),
            tier(b),
            figure(then),
            figure(now),
            verdict(spread, then, now)
        );
    }
}

/// The whole diff as text; the totals in its last lines.
pub fn render(old: &Comparison, new: &Comparison) -> String {
    let mut out = String::new();
    let (mut pairs, mut apart, mut reversed, mut taus) = (0, 0, 0, Vec::new());
    let mut winners_changed = 0;
    let mut cells = 0;
    if let Some(line) = no_spread_line(old, new) {
        let _ = writeln!(out, "{line}\n");
    }
    for (workload, levels) in &old.workloads {
        for &level in levels {
            cells += 1;
            let d = cell_diff(old, new, workload, level);
            let _ = writeln!(out, "{workload}: {level}");
            model_lines(&mut out, old, new, workload, level);
            for (x, y) in &d.reversed {
                let _ = writeln!(
                    out,
                    "  reversed: OLD ranked {x} above {y} in a higher tier; NEW ranks {y} above"
                );
            }
            let tau = d.tau.map_or_else(|| "-".into(), |t| format!("{t:.2}"));
            let _ = writeln!(
                out,
                "  {} pairs, {} in different tiers, {} of them reversed; tau {tau}; tier 1: {} -> {}\n",
                d.pairs,
                d.apart,
                d.reversed.len(),
                d.winners.0.join(", "),
                d.winners.1.join(", ")
            );
            pairs += d.pairs;
            apart += d.apart;
            reversed += d.reversed.len();
            taus.extend(d.tau);
            winners_changed += usize::from(d.winners.0 != d.winners.1);
        }
    }
    let pct = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
    let mean_tau = taus.iter().sum::<f64>() / taus.len().max(1) as f64;
    let min_tau = taus.iter().copied().fold(f64::INFINITY, f64::min);
    let _ = writeln!(
        out,
        "in all: {pairs} pairs; OLD put {apart} ({:.1}%) in different tiers; {reversed} of those ({:.1}%) are in the opposite order in NEW",
        pct(apart, pairs),
        pct(reversed, apart)
    );
    let _ = writeln!(
        out,
        "kendall tau of median CPU per request: mean {mean_tau:.2}, lowest {min_tau:.2} over {} cells; tier 1 changed in {winners_changed} of {cells} cells",
        taus.len()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tau_of_the_same_and_the_opposite_order() {
        assert_eq!(
            kendall_tau(&[(1.0, 10.0), (2.0, 20.0), (3.0, 30.0)]),
            Some(1.0)
        );
        assert_eq!(
            kendall_tau(&[(1.0, 30.0), (2.0, 20.0), (3.0, 10.0)]),
            Some(-1.0)
        );
        let one_swap = kendall_tau(&[(1.0, 1.0), (2.0, 3.0), (3.0, 2.0)]).unwrap();
        assert!((one_swap - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(kendall_tau(&[(1.0, 1.0)]), None);
    }

    fn http_report(repeat: usize, epoll: f64, select: f64) -> Comparison {
        use crate::results::testing::{cell, costs, report};
        let mut r = report(
            &[("http", &[10])],
            vec![
                cell("epoll", "http", 10, 1, costs(epoll)),
                cell("select", "http", 10, 2, costs(select)),
            ],
        );
        r.repeat = repeat;
        r
    }

    #[test]
    fn one_round_reports_are_compared_by_value() {
        let text = render(&http_report(1, 1.0, 2.0), &http_report(1, 1.5, 1.2));
        assert!(!text.contains("beyond the spread"), "{text}");
        assert!(
            text.starts_with("OLD and NEW each have one round"),
            "{text}"
        );
        assert!(text.contains("costlier, by value"), "{text}");
        assert!(text.contains("cheaper, by value"), "{text}");
        let text = render(&http_report(5, 1.0, 2.0), &http_report(1, 1.5, 1.2));
        assert!(text.starts_with("NEW has one round"), "{text}");
        assert!(!text.contains("beyond the spread"), "{text}");
    }

    #[test]
    fn reports_of_several_rounds_are_judged_by_their_spread() {
        let text = render(&http_report(5, 1.0, 2.0), &http_report(5, 1.5, 2.0));
        assert!(!text.contains("one round"), "{text}");
        assert!(text.contains("costlier, beyond the spread"), "{text}");
        assert!(text.contains("within the spread"), "{text}");
    }
}
