//! `iomodels diff OLD.json NEW.json`: what changed between two comparisons, beyond
//! their spread, in the manner of critcmp and criterion's baselines.
//!
//! For every cell (workload and level) and model: the ranking figure in each report
//! (median `x floor`, with the rounds' min-max), the change, and whether it is beyond
//! the spread (the two reports' min-max ranges do not overlap). Then the pairs of models
//! whose order reversed: of the pairs OLD put in different tiers, those NEW ranks the
//! other way round. Last, for each cell and in all: how many pairs OLD put in different
//! tiers, how many of those reversed, and Kendall's tau between the two reports' median
//! CPU per request.

use std::fmt::Write as _;

use crate::results::comparison::{Cell, Comparison};
use crate::results::tiers::rank_order;

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

/// One line per model of a cell: the ranking figure then and now, and the verdict.
fn model_lines(out: &mut String, old: &Comparison, new: &Comparison, workload: &str, level: usize) {
    let new_cells = new.ranked(workload, level);
    let tier = |c: &Cell| c.tier.map_or_else(|| "-".to_string(), |t| t.to_string());
    for a in old.ranked(workload, level) {
        let Some(b) = new_cells.iter().find(|c| c.subject == a.subject) else {
            continue;
        };
        let (Some((ma, lo_a, hi_a)), Some((mb, lo_b, hi_b))) = (ranking(a), ranking(b)) else {
            let _ = writeln!(out, "  {:<16} no figures to compare", a.subject);
            continue;
        };
        let change = (mb / ma - 1.0) * 100.0;
        let verdict = if hi_b < lo_a {
            "cheaper, beyond the spread"
        } else if lo_b > hi_a {
            "costlier, beyond the spread"
        } else {
            "within the spread"
        };
        let _ = writeln!(
            out,
            "  {:<16} tier {:>2} -> {:<2}  x floor {ma:6.2} ({lo_a:.2}-{hi_a:.2}) -> {mb:6.2} ({lo_b:.2}-{hi_b:.2})  {change:+6.1}%  {verdict}",
            a.subject,
            tier(a),
            tier(b)
        );
    }
}

/// The whole diff as text; the totals in its last lines.
pub fn render(old: &Comparison, new: &Comparison) -> String {
    let mut out = String::new();
    let (mut pairs, mut apart, mut reversed, mut taus) = (0, 0, 0, Vec::new());
    let mut winners_changed = 0;
    let mut cells = 0;
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
}
