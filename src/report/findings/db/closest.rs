//! The model closest to PostgreSQL's own rate: at 100 clients (or the most) of a
//! database workload, of the models that served every client, the one whose x pgbench
//! is highest, the next two, and what a request cost it against what a lookup cost
//! PostgreSQL under pgbench.

use super::super::work::{apart, focus, listed, not_told};
use super::super::{served_all, Finding};
use super::{distance, rows, served, total_cpu, x_of};
use crate::report::ideal::x_figure;
use crate::report::{cell_name, grouped};
use crate::results::comparison::{Cell, Comparison};
use crate::results::figures::Figures;

/// The model closest to PostgreSQL's own rate at 100 clients (or the most), of those
/// that served every client; the next two; what a request cost it against what a
/// lookup cost PostgreSQL under pgbench.
pub(super) fn closest(report: &Comparison, workload: &str) -> Option<Finding> {
    let (_, level) = focus(report, workload, 100)?;
    let (tps, clients) = report.pgbench_median(workload, level)?;
    let mut cells: Vec<(&Cell, Figures)> = report
        .ranked(workload, level)
        .into_iter()
        .filter_map(|c| Some((c, c.figures?.median)))
        .filter(|(_, f)| f.x_pgbench.is_some())
        .collect();
    cells.sort_by(|a, b| x_of(&b.1).total_cmp(&x_of(&a.1)));
    let all_served = cells.iter().any(|(c, _)| served_all(c));
    // The nearest of all, when it left clients without a reply or failed requests.
    let nearer = cells
        .first()
        .filter(|(c, _)| all_served && !served_all(c))
        .copied();
    if all_served {
        cells.retain(|(c, _)| served_all(c));
    }
    let (best, figures) = *cells.first()?;
    let rows = rows(report, workload);
    let mut text = format!(
        "pgbench -S read {} rows/s at {} clients here, PostgreSQL's own rate for the same lookup. At {}, {} came closest to it, at {}",
        grouped(tps.round() as usize),
        grouped(clients as usize),
        cell_name(report, workload, level),
        best.subject,
        served(&figures, rows)
    );
    let next: Vec<String> = cells[1..]
        .iter()
        .take(2)
        .filter_map(|(c, f)| Some(format!("{} {}x", c.subject, x_figure(f.x_pgbench?))))
        .collect();
    if !next.is_empty() {
        text.push_str(&format!(", ahead of {}", listed(&next)));
    }
    text.push('.');
    if !all_served {
        text.push_str(" No model served every client there without an error.");
    }
    if let Some((cell, f)) = nearer {
        text.push_str(&format!(
            " {} read more ({}x pgbench) but {}.",
            cell.subject,
            x_figure(x_of(&f)),
            shortfall(report, cell, &f)
        ));
    }
    let pgbench_cpu = report
        .rounds
        .iter()
        .filter(|r| r.workload == workload)
        .find_map(|r| {
            r.pgbench
                .iter()
                .find(|p| p.level == level)?
                .db_cpu_us_per_tx
        });
    if let (Some(total), Some(server)) = (total_cpu(&figures), figures.cpu_us_per_req) {
        let per = if rows > 1.0 {
            format!(" ({:.1} µs a row)", total / rows)
        } else {
            String::new()
        };
        text.push_str(&format!(
            " A request cost it {total:.1} µs of CPU{per}, server and PostgreSQL together ({server:.1} µs the server's)"
        ));
        match pgbench_cpu {
            Some(lookup) => text.push_str(&format!(
                ", against {lookup:.1} µs of PostgreSQL's per lookup under pgbench."
            )),
            None => text.push('.'),
        }
    }
    if let Some((second, _)) = cells.get(1) {
        if !apart(best, second, &distance) {
            text.push_str(&not_told("x pgbench", &[(best, second)]));
        }
    }
    Some(Finding {
        topic: format!(
            "{}: closest to PostgreSQL",
            cell_name(report, workload, level)
        ),
        text,
    })
}

/// What a cell that read fast failed to do: `left 92 of 100 clients without a reply`,
/// `failed 12 requests`.
fn shortfall(report: &Comparison, cell: &Cell, figures: &Figures) -> String {
    let starved = figures.starved.unwrap_or(0.0);
    let mut words = Vec::new();
    if starved > 0.0 {
        words.push(format!(
            "left {} of {} clients without a reply",
            grouped(starved.round() as usize),
            grouped(report.clients_in_all(&cell.workload, cell.level))
        ));
    }
    if figures.errors > 0.0 {
        words.push(format!(
            "failed {} requests",
            grouped(figures.errors.round() as usize)
        ));
    }
    if cell.error.is_some() {
        words.push("failed in a round".to_string());
    }
    listed(&words)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{db_report, finding, read};
    use crate::results::db::LOOP_POOL;

    #[test]
    fn names_the_model_closest_to_postgresqls_own_rate() {
        let r = db_report(
            &[10, 100],
            vec![
                read("threads", 100, 24_000.0, (30.0, 25.0), 100.0),
                read(LOOP_POOL, 100, 34_000.0, (20.0, 22.0), 8.0),
                read("async", 100, 33_000.0, (18.0, 22.0), 16.0),
                read("epoll", 10, 9_000.0, (20.0, 22.0), 1.0),
            ],
        );
        let text = finding(&r, "db, 100 clients: closest to PostgreSQL").expect("a finding");
        assert_eq!(
            text,
            "pgbench -S read 40,000 rows/s at 100 clients here, PostgreSQL's own rate for the same lookup. At db, 100 clients, epoll:--offload=8 came closest to it, at 34,000 req/s (0.85x pgbench), ahead of async 0.82x and threads 0.60x. A request cost it 42.0 µs of CPU, server and PostgreSQL together (20.0 µs the server's), against 20.0 µs of PostgreSQL's per lookup under pgbench. The rounds cannot tell apart the x pgbench of epoll:--offload=8 and async."
        );
    }

    #[test]
    fn a_model_that_failed_requests_is_not_the_closest() {
        let mut failing = read("threads", 100, 39_000.0, (30.0, 25.0), 100.0);
        for round in &mut failing.rounds {
            round.figures.errors = 12.0;
        }
        failing.figures = crate::results::figures::Spread::of(
            &failing.rounds.iter().map(|r| r.figures).collect::<Vec<_>>(),
        );
        let r = db_report(
            &[100],
            vec![
                failing,
                read("threadpool", 100, 20_000.0, (30.0, 25.0), 8.0),
            ],
        );
        let text = finding(&r, "db, 100 clients: closest to PostgreSQL").unwrap();
        assert!(text.contains("threadpool came closest"), "{text}");
        assert!(
            text.contains(" threads read more (0.97x pgbench) but failed 12 requests."),
            "{text}"
        );
    }
}
