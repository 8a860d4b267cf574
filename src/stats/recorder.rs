//! What one bench worker thread records: counts, error kinds, and latency histograms.
//! Recorders are added together once, at the end of a run, into the aggregate the
//! printer reads.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::histogram::{new_histogram, MAX_US};

/// Why a request or a connection failed. Each kind is counted in its own field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A connection could not be established for a reason none of the kinds below
    /// names (unreachable, no route, ...).
    Connect,
    /// The connect was refused (ECONNREFUSED): no listener, or a full backlog on a
    /// system that answers an overflowing queue with a reset.
    Refused,
    /// The server reset the connection, or closed it while a reply was owed.
    Reset,
    /// The server closed a connection that owed nothing (hold: a held connection
    /// between its requests, as an idle timeout does).
    Closed,
    /// No complete reply, or no connect, within the timeout.
    Timeout,
    /// This process had no descriptor left for a socket (EMFILE, ENFILE).
    NoDescriptors,
    /// No local port was left towards the target (EADDRNOTAVAIL, EADDRINUSE).
    NoPorts,
    /// A reply that is not the expected one: wrong echoed bytes, an unparsable response.
    Mismatch,
    /// An HTTP response whose status is not 2xx.
    HttpStatus,
}

/// Error counts by kind; the JSON `errors` object. The kinds added after the first
/// five read as 0 from reports written before them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Errors {
    pub connect: u64,
    pub reset: u64,
    pub timeout: u64,
    pub mismatch: u64,
    pub http_status: u64,
    #[serde(default)]
    pub refused: u64,
    #[serde(default)]
    pub closed: u64,
    #[serde(default)]
    pub no_fds: u64,
    #[serde(default)]
    pub no_ports: u64,
}

impl Errors {
    /// Counts `n` errors of `kind`.
    pub fn count(&mut self, kind: ErrorKind, n: u64) {
        let slot = match kind {
            ErrorKind::Connect => &mut self.connect,
            ErrorKind::Refused => &mut self.refused,
            ErrorKind::Reset => &mut self.reset,
            ErrorKind::Closed => &mut self.closed,
            ErrorKind::Timeout => &mut self.timeout,
            ErrorKind::NoDescriptors => &mut self.no_fds,
            ErrorKind::NoPorts => &mut self.no_ports,
            ErrorKind::Mismatch => &mut self.mismatch,
            ErrorKind::HttpStatus => &mut self.http_status,
        };
        *slot += n;
    }

    /// Every count, by the name the JSON and the summary give it.
    pub fn by_kind(&self) -> [(&'static str, u64); 9] {
        [
            ("connect", self.connect),
            ("refused", self.refused),
            ("reset", self.reset),
            ("closed", self.closed),
            ("timeout", self.timeout),
            ("no_fds", self.no_fds),
            ("no_ports", self.no_ports),
            ("mismatch", self.mismatch),
            ("http_status", self.http_status),
        ]
    }

    /// Connects that failed, whatever the reason (timeouts aside: they count with the
    /// requests').
    pub fn connect_failures(&self) -> u64 {
        self.connect + self.refused + self.no_fds + self.no_ports
    }

    /// All errors, whatever their kind.
    pub fn total(&self) -> u64 {
        self.by_kind().iter().map(|(_, n)| n).sum()
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Self) {
        self.connect += other.connect;
        self.refused += other.refused;
        self.reset += other.reset;
        self.closed += other.closed;
        self.timeout += other.timeout;
        self.no_fds += other.no_fds;
        self.no_ports += other.no_ports;
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
        self.errors.count(kind, n);
    }

    /// Adds everything `other` recorded to this recorder.
    pub fn add(&mut self, other: &Self) {
        self.requests += other.requests;
        self.connections_opened += other.connections_opened;
        self.sessions += other.sessions;
        self.starved += other.starved;
        self.errors.add(&other.errors);
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
    fn add_sums_counts_and_histograms() {
        let mut a = Recorder::new();
        a.request(10);
        a.error(ErrorKind::Reset, 2);
        let mut b = Recorder::new();
        b.request(30);
        b.connected(5);
        b.error(ErrorKind::HttpStatus, 1);
        a.add(&b);
        assert_eq!(a.requests, 2);
        assert_eq!(a.latency.len(), 2);
        assert_eq!(a.connect.len(), 1);
        assert_eq!(a.errors.reset, 2);
        assert_eq!(a.errors.http_status, 1);
        assert_eq!(a.errors.total(), 3);
    }
}
