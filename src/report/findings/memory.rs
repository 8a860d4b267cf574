//! The memory finding: what one more held connection costs the server, least and most,
//! at the most connections measured. Models within [`ALIKE`] of the least (or the most)
//! are named together; when every model is, the finding says they all grew alike.

use super::Finding;
use crate::report::grouped;
use crate::results::comparison::Comparison;

/// Sizes per connection closer than this (5%) read as one: models a few bytes in a
/// hundred apart are not ranked by it.
const ALIKE: f64 = 0.05;

/// Models by name, with what each held connection cost them in bytes.
type Sizes<'a> = [(&'a str, f64)];

/// Memory per held connection, least and most, at the most connections measured.
pub(super) fn memory(report: &Comparison) -> Option<Finding> {
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
    let holding = format!(
        "Holding {} {}connections, the server's private memory grew",
        grouped(level),
        if workload == "idle" { "idle " } else { "" }
    );
    let n = per_conn.len();
    let mut text = match least_and_most(&per_conn) {
        Some((least, most)) => format!(
            "{holding} least for {} and most for {}, of {n} models that held them all.",
            named(least),
            named(most)
        ),
        None => format!(
            "{holding} by {} for {} that held them all.",
            bytes(per_conn[0].1, per_conn[n - 1].1),
            if n == 2 {
                "both models".to_string()
            } else {
                format!("every one of the {n} models")
            }
        ),
    };
    if !fell_short.is_empty() {
        text.push_str(&format!(" Left out: {}.", fell_short.join(", ")));
    }
    Some(Finding {
        topic: "memory per held connection".to_string(),
        text,
    })
}

/// The models that grew least and those that grew most, of `sorted` (cheapest first):
/// each end with the models alike to it; `None` when every model is alike to the least.
fn least_and_most<'a>(sorted: &'a Sizes<'a>) -> Option<(&'a Sizes<'a>, &'a Sizes<'a>)> {
    let (lo, hi) = (sorted[0].1, sorted[sorted.len() - 1].1);
    let least = sorted.iter().take_while(|m| alike(lo, m.1)).count();
    let most = sorted[least..]
        .iter()
        .rev()
        .take_while(|m| alike(m.1, hi))
        .count();
    (most > 0).then(|| (&sorted[..least], &sorted[sorted.len() - most..]))
}

/// Are sizes `lo` <= `hi` alike: within [`ALIKE`], or printed the same?
fn alike(lo: f64, hi: f64) -> bool {
    hi <= lo * (1.0 + ALIKE) || amount(lo) == amount(hi)
}

/// Models by name with their sizes: `poll (142 B per connection)`, `epoll-et, epoll
/// (133-135 B per connection)`.
fn named(models: &Sizes) -> String {
    let names: Vec<&str> = models.iter().map(|m| m.0).collect();
    let (lo, hi) = (models[0].1, models[models.len() - 1].1);
    format!("{} ({})", names.join(", "), bytes(lo, hi))
}

/// A size in the unit it reads best in: (`740`, `B`), (`12.4`, `kB`).
pub(super) fn amount(b: f64) -> (String, &'static str) {
    if b >= 1000.0 {
        (format!("{:.1}", b / 1000.0), "kB")
    } else {
        (format!("{b:.0}"), "B")
    }
}

/// The sizes from `lo` to `hi` per connection: `142 B` where they print the same,
/// `133-135 B`, `980 B to 1.0 kB`.
fn bytes(lo: f64, hi: f64) -> String {
    let ((lo, lo_unit), (hi, hi_unit)) = (amount(lo), amount(hi));
    if (&lo, lo_unit) == (&hi, hi_unit) {
        format!("{lo} {lo_unit} per connection")
    } else if lo_unit == hi_unit {
        format!("{lo}-{hi} {hi_unit} per connection")
    } else {
        format!("{lo} {lo_unit} to {hi} {hi_unit} per connection")
    }
}

#[cfg(test)]
mod tests {
    use super::super::all;
    use crate::results::figures::Figures;
    use crate::results::testing::{cell, costs, report};

    /// The memory finding of a hold of 10,000 connections by models of these sizes.
    fn held(models: &[(&str, f64)]) -> String {
        let cells = models
            .iter()
            .map(|&(name, b)| {
                let figures = Figures {
                    held: Some(10_000.0),
                    private_per_conn_b: Some(b),
                    ..costs(1.0)
                };
                cell(name, "hold", 10_000, 1, figures)
            })
            .collect();
        let found = all(&report(&[("hold", &[10_000])], cells));
        let memory = found
            .iter()
            .find(|f| f.topic == "memory per held connection")
            .expect("a memory finding");
        memory.text.clone()
    }

    #[test]
    fn models_within_a_few_percent_grew_alike() {
        assert_eq!(
            held(&[("poll", 142.2), ("epoll", 141.9)]),
            "Holding 10,000 connections, the server's private memory grew by 142 B per connection for both models that held them all."
        );
        assert_eq!(
            held(&[("poll", 138.0), ("epoll", 142.0), ("selector", 142.0)]),
            "Holding 10,000 connections, the server's private memory grew by 138-142 B per connection for every one of the 3 models that held them all."
        );
    }

    #[test]
    fn models_that_tie_for_least_or_most_are_named_together() {
        assert_eq!(
            held(&[
                ("async-mt", 2505.0),
                ("epoll", 135.0),
                ("poll", 153.0),
                ("epoll-et", 133.0),
                ("async", 2489.0),
            ]),
            "Holding 10,000 connections, the server's private memory grew least for epoll-et, epoll (133-135 B per connection) and most for async, async-mt (2.5 kB per connection), of 5 models that held them all."
        );
        assert_eq!(
            held(&[("epoll", 980.0), ("uring", 1010.0), ("coroutines", 21266.0)]),
            "Holding 10,000 connections, the server's private memory grew least for epoll, uring (980 B to 1.0 kB per connection) and most for coroutines (21.3 kB per connection), of 3 models that held them all."
        );
    }
}
