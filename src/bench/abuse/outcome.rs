//! What a server did with a hostile connection, and the tally of outcomes per kind.
//!
//! The classification depends only on what the client can see: an HTTP status line
//! answered, the connection ending (end of file or reset), and when. A close soon after
//! the server had what it needed to judge the client (the connect for a client that
//! never completes a request, the last byte sent otherwise) is `closed`; a later one is
//! `timed out`; a connection still open when the abuse ends was `kept`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// A close within this long of the moment the server could judge the client counts as
/// immediate; anything later is a timeout (server timeouts are whole seconds).
pub const PROMPT: Duration = Duration::from_millis(500);

/// What the server did with one hostile connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fate {
    /// The connect failed or timed out: the server (or its backlog) did not take it.
    Refused,
    /// An HTTP answer with this status, whatever followed.
    Answered(u16),
    /// Closed (or reset) soon after the client gave it reason to.
    Closed,
    /// Closed after a wait: an idle, header or write timeout.
    TimedOut,
    /// Still open when the abuse ended.
    Kept,
    /// The client reset the connection itself, as planned (resets mid-pipeline).
    ClientReset,
}

impl Fate {
    /// The outcome of a connection that ended `after` the moment the server could judge
    /// it, having answered `status` (if it answered with an HTTP status line).
    pub fn of_close(status: Option<u16>, after: Duration) -> Fate {
        match status {
            Some(status) => Fate::Answered(status),
            None if after < PROMPT => Fate::Closed,
            None => Fate::TimedOut,
        }
    }

    /// The name in the summary and the JSON.
    pub fn label(self) -> String {
        match self {
            Fate::Refused => "refused".into(),
            Fate::Answered(status) => format!("answered {status}"),
            Fate::Closed => "closed".into(),
            Fate::TimedOut => "timed out".into(),
            Fate::Kept => "kept".into(),
            Fate::ClientReset => "reset by client".into(),
        }
    }
}

/// The HTTP status at the start of an answer, if the answer starts with a status line.
pub fn status_of(answer: &[u8]) -> Option<u16> {
    let rest = answer
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| answer.strip_prefix(b"HTTP/1.0 "))?;
    let code = std::str::from_utf8(rest.get(..3)?).ok()?;
    code.parse().ok()
}

/// The outcomes of every connection of one hostile kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub connections: u64,
    /// Fate label -> connections.
    pub outcomes: BTreeMap<String, u64>,
    /// The longest a connection lived before the server ended it, in seconds.
    pub longest_close_s: f64,
}

impl Tally {
    /// Counts one connection's outcome, and how long it lived if the server closed it.
    pub fn count(&mut self, outcome: Fate, lived: Option<Duration>) {
        self.connections += 1;
        *self.outcomes.entry(outcome.label()).or_default() += 1;
        if let Some(lived) = lived {
            self.longest_close_s = self.longest_close_s.max(lived.as_secs_f64());
        }
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Tally) {
        self.connections += other.connections;
        for (label, n) in &other.outcomes {
            *self.outcomes.entry(label.clone()).or_default() += n;
        }
        self.longest_close_s = self.longest_close_s.max(other.longest_close_s);
    }

    /// "answered 400 ×4, closed ×1", most frequent first.
    pub fn summary(&self) -> String {
        let mut counts: Vec<_> = self.outcomes.iter().collect();
        counts.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        counts
            .iter()
            .map(|(label, n)| format!("{label} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_closes() {
        let soon = Duration::from_millis(10);
        let late = Duration::from_secs(3);
        assert_eq!(Fate::of_close(None, soon), Fate::Closed);
        assert_eq!(Fate::of_close(None, late), Fate::TimedOut);
        assert_eq!(Fate::of_close(Some(431), late), Fate::Answered(431));
    }

    #[test]
    fn reads_status_lines() {
        assert_eq!(status_of(b"HTTP/1.1 400 Bad Request\r\n"), Some(400));
        assert_eq!(status_of(b"HTTP/1.0 431"), Some(431));
        assert_eq!(status_of(b"HTTP/1.1 4"), None);
        assert_eq!(status_of(b"garbage"), None);
    }

    #[test]
    fn tallies_and_summarises() {
        let mut tally = Tally::default();
        tally.count(Fate::Answered(400), Some(Duration::from_millis(5)));
        tally.count(Fate::Answered(400), None);
        tally.count(Fate::Kept, None);
        let mut total = Tally::default();
        total.add(&tally);
        assert_eq!(total.connections, 3);
        assert_eq!(total.summary(), "answered 400 ×2, kept ×1");
    }
}
