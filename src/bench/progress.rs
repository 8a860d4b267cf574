//! The live progress line (indicatif), shown only when stderr is a terminal: elapsed
//! time, completed requests, their recent rate, errors and open connections.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::engine::LiveTotals;

/// Redraws at most this often.
const REFRESH: Duration = Duration::from_millis(250);

/// A progress line, or nothing when stderr is not a terminal.
pub struct ProgressLine {
    bar: Option<ProgressBar>,
    last: Instant,
    last_requests: u64,
}

impl ProgressLine {
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                    .expect("constant template is valid"),
            );
            bar
        });
        Self {
            bar,
            last: Instant::now(),
            last_requests: 0,
        }
    }

    /// Redraws the line from the live counters, if it is time to.
    pub fn tick(&mut self, live: LiveTotals) {
        let Some(bar) = &self.bar else { return };
        let now = Instant::now();
        let since = now - self.last;
        if since < REFRESH {
            return;
        }
        let rate =
            (live.requests - self.last_requests.min(live.requests)) as f64 / since.as_secs_f64();
        self.last = now;
        self.last_requests = live.requests;
        bar.set_message(format!(
            "{} done  {:.0}/s  {} errors  {} open",
            live.requests, rate, live.errors, live.open
        ));
        bar.tick();
    }

    /// Removes the line before the summary is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Default for ProgressLine {
    fn default() -> Self {
        Self::new()
    }
}
