//! What one bench worker thread records: counts, error kinds, and latency histograms.
//! Recorders are merged once, at the end of a run, into the aggregate the printer reads.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::histogram::{new_histogram, MAX_US};

/// Why a request or a connection failed. Each kind is counted in its own field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A connection could not be established (refused, unreachable, no time left).
    Connect,
    /// The server reset or closed the connection while a reply was owed.
    Reset,
    /// No complete reply within the per-request timeout.
    Timeout,
    /// A reply that is not the expected one: wrong echoed bytes, an unparsable response.
    Mismatch,
    /// An HTTP response whose status is not 2xx.
    HttpStatus,
}

/// Error counts by kind; the JSON `errors` object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Errors {
    pub connect: u64,
    pub reset: u64,
    pub timeout: u64,
    pub mismatch: u64,
    pub http_status: u64,
}

impl Errors {
    /// Counts `n` errors of `kind`.
    pub fn add(&mut self, kind: ErrorKind, n: u64) {
        let slot = match kind {
            ErrorKind::Connect => &mut self.connect,
            ErrorKind::Reset => &mut self.reset,
            ErrorKind::Timeout => &mut self.timeout,
            ErrorKind::Mismatch => &mut self.mismatch,
            ErrorKind::HttpStatus => &mut self.http_status,
        };
        *slot += n;
    }

    /// All errors, whatever their kind.
    pub fn total(&self) -> u64 {
        self.connect + self.reset + self.timeout + self.mismatch + self.http_status
    }

    fn merge(&mut self, other: &Self) {
        self.connect += other.connect;
        self.reset += other.reset;
        self.timeout += other.timeout;
        self.mismatch += other.mismatch;
        self.http_status += other.http_status;
    }
}

/// One worker thread's measurements. `latency` is the request (or echo round-trip)
/// latency, `connect` the connection set-up time, `session` the whole echo session
/// (connect to last verified byte); all in microseconds.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Requests (or echoed messages) that got a complete reply.
    pub requests: u64,
    /// Connections established.
    pub connections_opened: u64,
    /// Echo sessions completed (every message of every byte verified).
    pub sessions: u64,
    /// http: connections that got no reply at all during the run (a server serving a
    /// few clients at a time leaves the others waiting: the throughput alone hides it).
    pub starved: u64,
    pub errors: Errors,
    pub latency: Histogram<u64>,
    pub connect: Histogram<u64>,
    pub session: Histogram<u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Self {
            requests: 0,
            connections_opened: 0,
            sessions: 0,
            starved: 0,
            errors: Errors::default(),
            latency: new_histogram(),
            connect: new_histogram(),
            session: new_histogram(),
        }
    }

    /// A completed request and its latency.
    #[inline]
    pub fn request(&mut self, latency_us: u64) {
        self.requests += 1;
        self.latency.saturating_record(latency_us.min(MAX_US));
    }

    /// An established connection and how long it took.
    pub fn connected(&mut self, connect_us: u64) {
        self.connections_opened += 1;
        self.connect.saturating_record(connect_us.min(MAX_US));
    }

    /// A completed echo session and its total time.
    pub fn session(&mut self, total_us: u64) {
        self.sessions += 1;
        self.session.saturating_record(total_us.min(MAX_US));
    }

    /// Counts `n` errors of `kind`.
    pub fn error(&mut self, kind: ErrorKind, n: u64) {
        self.errors.add(kind, n);
    }

    /// Adds everything `other` recorded to this recorder.
    pub fn merge(&mut self, other: &Self) {
        self.requests += other.requests;
        self.connections_opened += other.connections_opened;
        self.sessions += other.sessions;
        self.starved += other.starved;
        self.errors.merge(&other.errors);
        // Same bounds everywhere (new_histogram), so adding cannot fail.
        self.latency
            .add(&other.latency)
            .expect("same-shape histograms");
        self.connect
            .add(&other.connect)
            .expect("same-shape histograms");
        self.session
            .add(&other.session)
            .expect("same-shape histograms");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_and_histograms() {
        let mut a = Recorder::new();
        a.request(10);
        a.error(ErrorKind::Reset, 2);
        let mut b = Recorder::new();
        b.request(30);
        b.connected(5);
        b.error(ErrorKind::HttpStatus, 1);
        a.merge(&b);
        assert_eq!(a.requests, 2);
        assert_eq!(a.latency.len(), 2);
        assert_eq!(a.connect.len(), 1);
        assert_eq!(a.errors.reset, 2);
        assert_eq!(a.errors.http_status, 1);
        assert_eq!(a.errors.total(), 3);
    }
}
