//! The wait workload as its findings see it, where each request waits D on the server
//! as on a backend: its wait, its levels, its cells, and the words its findings share.
//! The findings themselves: [`super::blocking`], [`super::hybrid`],
//! [`super::coroutines`].

use super::{focus, measured, rate};
use crate::report::ideal::x_figure;
use crate::report::{cell_name, grouped};
use crate::results::comparison::{Cell, Comparison};
use crate::results::figures::Figures;

/// A loop whose req/s is within this factor of 1 / D serves one wait at a time.
pub(super) const ONE_AT_A_TIME: f64 = 1.25;

/// The event loop whose variants are set against each other; without `--offload`, it
/// waits with its own timer.
pub(super) const LOOP: &str = "epoll";

/// The wait workload of a report: its wait and its levels.
pub(super) struct Wait<'a> {
    pub report: &'a Comparison,
    /// D, in seconds.
    pub wait_s: f64,
    /// Ascending.
    pub levels: Vec<usize>,
}

impl<'a> Wait<'a> {
    /// The wait workload of `report`, if it ran one and recorded its wait.
    pub fn of(report: &'a Comparison) -> Option<Self> {
        let wait_s = report.work?.handler_s("wait")?;
        let (levels, _) = focus(report, "wait", 0)?;
        Some(Wait {
            report,
            wait_s,
            levels,
        })
    }

    /// `preferred` clients if they were measured, else the most.
    pub fn level(&self, preferred: usize) -> usize {
        focus(self.report, "wait", preferred).map_or(preferred, |(_, level)| level)
    }

    /// The cell of `subject` at `level`, with its median figures.
    pub fn at(&self, subject: &str, level: usize) -> Option<(&'a Cell, Figures)> {
        measured(self.report, subject, "wait", level)
    }

    /// The pools of the [`LOOP`] model measured at `level`, with their figures and
    /// threads (`epoll:--offload=8`: 8), in the report's order.
    pub fn pools(&self, level: usize) -> Vec<(&'a Cell, Figures, usize)> {
        self.report
            .cells
            .iter()
            .filter(|c| c.workload == "wait" && c.level == level && of_loop(&c.subject))
            .filter_map(|c| Some((c, c.figures?.median, pool_threads(&c.subject)?)))
            .collect()
    }

    /// What one thread that serves one wait at a time serves: 1 / D.
    pub fn one_at_a_time(&self) -> f64 {
        1.0 / self.wait_s
    }

    /// The ideal bound at `level` clients: C / D.
    pub fn ideal(&self, level: usize) -> f64 {
        level as f64 / self.wait_s
    }

    /// `wait, 100 clients (a 10 ms wait: the ideal is 10,000 req/s)`.
    pub fn cell_words(&self, level: usize) -> String {
        format!(
            "{} (a {} wait: the ideal is {} req/s)",
            cell_name(self.report, "wait", level),
            self.wait_words(),
            whole(self.ideal(level))
        )
    }

    /// `10 ms`.
    pub fn wait_words(&self) -> String {
        format!("{} ms", self.wait_s * 1e3)
    }
}

/// A count in words, rounded: `10,000`.
pub(super) fn whole(x: f64) -> String {
    grouped(x.round().max(0.0) as usize)
}

/// The pool threads a subject was served with (`epoll:--offload=8`: 8); `None`
/// without a pool.
fn pool_threads(subject: &str) -> Option<usize> {
    subject
        .split(':')
        .skip(1)
        .find_map(|flag| flag.strip_prefix("--offload=")?.parse().ok())
        .filter(|&n| n > 0)
}

/// Is `subject` the [`LOOP`] model, with whatever flags?
fn of_loop(subject: &str) -> bool {
    subject.split(':').next() == Some(LOOP)
}

/// `9,512 req/s (0.95x ideal)`.
pub(super) fn served(figures: &Figures) -> String {
    match figures.x_ideal {
        Some(x) => format!("{} ({}x ideal)", rate(figures), x_figure(x)),
        None => rate(figures),
    }
}
