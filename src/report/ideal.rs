//! What the report shows of the work workloads (`cpu`, `wait`) beside what every
//! workload shows: x ideal, the figure they rank by (req/s over the ideal bound,
//! [`crate::results::ideal`]; higher is better), p99 over the handler's own time, and
//! the server's memory per client connection. The tables, the summary, the charts and
//! the page's header take them from here.

use super::grouped;
use crate::results::comparison::Comparison;
use crate::results::figures::Figures;
use crate::results::ideal::p99_over_handler;
use crate::results::work::is_work;

/// The columns a work workload's table adds, each after the column it follows.
const COLUMNS: [(&str, &[&str]); 2] = [
    ("p99 ms", &["x ideal", "p99 / work"]),
    ("PSS MB", &["B/conn"]),
];

/// Where a work workload's table puts its own columns: an index into the row and what
/// goes there, in the order they are inserted.
#[derive(Debug, Clone)]
pub struct Columns {
    at: Vec<(usize, &'static str)>,
    handler_s: Option<f64>,
}

impl Columns {
    /// The columns of a table of `workload` whose other columns are `headers`; `None`
    /// for a workload that asks no work.
    pub fn of(report: &Comparison, workload: &str, headers: &[&str]) -> Option<Columns> {
        if !is_work(workload) {
            return None;
        }
        let at = super::columns::placed(headers, &COLUMNS);
        let handler_s = report.work.and_then(|w| w.handler_s(workload));
        Some(Columns { at, handler_s })
    }

    /// `headers` with these columns inserted.
    pub fn add_headers(&self, headers: &mut Vec<&'static str>) {
        super::columns::insert_headers(&self.at, headers);
    }

    /// A row of `figures` (the median of a cell) with these columns' values inserted.
    pub fn add_values(&self, row: &mut Vec<String>, figures: &Figures) {
        for &(i, name) in &self.at {
            let value = match name {
                "x ideal" => figures.x_ideal.map(x_figure),
                "p99 / work" => self
                    .handler_s
                    .map(|h| format!("{:.1}", p99_over_handler(figures, h))),
                _ => figures
                    .private_per_conn_b
                    .or(figures.pss_per_conn_b)
                    .map(|b| format!("{b:.0}")),
            };
            row.insert(i.min(row.len()), value.unwrap_or_else(|| "-".into()));
        }
    }
}

/// A multiple (x ideal, x pgbench) as the report writes it: two decimals, three below
/// 0.1, where an event loop that serves one wait at a time falls (0.007, not 0.01).
pub fn x_figure(x: f64) -> String {
    if x < 0.1 {
        format!("{x:.3}")
    } else {
        format!("{x:.2}")
    }
}

/// What a workload's summary figure is a multiple of: `x ideal`, `x pgbench` or `x the
/// floor`.
pub fn shown_as(workload: &str) -> &'static str {
    if is_work(workload) {
        "x ideal"
    } else if crate::results::db::is_db(workload) {
        "x pgbench"
    } else {
        "x the floor"
    }
}

/// The axis title of a work workload's charts.
pub const AXIS: &str = "req/s over the ideal bound, x ideal (higher is better)";

/// What x ideal and p99 / work are in this report, with its amounts: one line for the
/// header of the tables and the page; `None` for a report without the work workloads.
pub fn explanation(report: &Comparison) -> Option<String> {
    let amounts = report.work?;
    let ran = |name: &str| report.workloads.iter().any(|(w, _)| w == name);
    let mut bounds = Vec::new();
    if ran("wait") {
        bounds.push(format!(
            "wait (each request waits {} ms on the server): clients / {} ms, {} req/s at 100 clients",
            amounts.wait_ms,
            amounts.wait_ms,
            grouped((100.0 / (amounts.wait_ms / 1e3)).round() as usize)
        ));
    }
    if ran("cpu") {
        bounds.push(format!(
            "cpu (each request burns {} µs of the server's CPU): the cores the load generator leaves the servers (its CPU seconds per wall second taken off when it shares them) / {} µs, no more than one core a client",
            amounts.cpu_work_us, amounts.cpu_work_us
        ));
    }
    Some(format!(
        "x ideal: req/s over the ideal bound, the most any server could serve: {}; higher is better, and cpu and wait rank by it; p99 / work: p99 latency over the handler's own time (the wait, the burn); B/conn there: the server's memory growth per client connection",
        bounds.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::testing::{costs, report};
    use crate::results::work::WorkAmounts;

    #[test]
    fn a_work_table_puts_x_ideal_after_p99_and_memory_after_pss() {
        let mut r = report(&[("wait", &[100])], Vec::new());
        r.work = Some(WorkAmounts {
            cpu_work_us: 100.0,
            wait_ms: 10.0,
        });
        let base = [
            "#",
            "model",
            "req/s",
            "p99 ms",
            "CPU us/req",
            "PSS MB",
            "thr/proc",
        ];
        let columns = Columns::of(&r, "wait", &base).expect("wait adds columns");
        let mut headers = base.to_vec();
        columns.add_headers(&mut headers);
        assert_eq!(
            headers,
            [
                "#",
                "model",
                "req/s",
                "p99 ms",
                "x ideal",
                "p99 / work",
                "CPU us/req",
                "PSS MB",
                "B/conn",
                "thr/proc"
            ]
        );
        let mut row: Vec<String> = base.iter().map(|h| h.to_string()).collect();
        let figures = Figures {
            x_ideal: Some(0.953),
            p99_us: 14_000.0,
            private_per_conn_b: Some(9_100.0),
            ..costs(1.0)
        };
        columns.add_values(&mut row, &figures);
        assert_eq!(row[4..6], ["0.95", "1.4"]);
        assert_eq!(x_figure(0.0071), "0.007");
        assert_eq!(row[8], "9100");
        assert!(Columns::of(&r, "http", &base).is_none());
    }

    #[test]
    fn the_summary_and_the_charts_of_a_work_workload_speak_of_x_ideal() {
        use crate::results::testing::cell;
        let served = |x: f64| Figures {
            x_ideal: Some(x),
            ..costs(20.0)
        };
        let mut r = report(
            &[("wait", &[10, 100])],
            vec![
                cell("threads", "wait", 100, 1, served(0.95)),
                cell("epoll:--offload=0", "wait", 100, 2, served(0.0099)),
                cell("threads", "wait", 10, 1, served(0.96)),
            ],
        );
        r.subjects = vec!["threads".into(), "epoll:--offload=0".into()];
        let lines = super::super::summary::lines(&r);
        assert!(
            lines.contains(&"wait, 100 clients: tier 1 (x ideal): threads 0.95x".to_string()),
            "{lines:?}"
        );
        for chart in super::super::chart::all(&r).unwrap() {
            assert!(chart.svg.contains(AXIS), "{}", chart.file);
            assert!(!chart.svg.contains("x the floor"), "{}", chart.file);
        }
        let ranked = super::super::chart::ranked::chart(&r, "wait", 100).unwrap();
        assert!(ranked.svg.contains("0.95x"), "the bar is x ideal");
    }

    #[test]
    fn the_header_says_what_the_bounds_are_only_where_they_were_run() {
        let mut r = report(&[("wait", &[100])], Vec::new());
        assert_eq!(explanation(&r), None, "no amounts recorded");
        r.work = Some(WorkAmounts {
            cpu_work_us: 100.0,
            wait_ms: 10.0,
        });
        let line = explanation(&r).unwrap();
        assert!(
            line.contains("clients / 10 ms, 10,000 req/s at 100 clients"),
            "{line}"
        );
        assert!(!line.contains("burns"), "no cpu workload ran: {line}");
    }
}
