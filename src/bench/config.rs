//! The validated configuration of a bench run, and the parsers for the values the
//! command line gives as text: durations (`4s`, `500ms`, `1m`), a ramp (`10/10ms`) and
//! an interval range (`1s..30s`). A configuration goes back to the command line that
//! gives it in [`super::argv`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::target::Target;
use crate::protocol::Protocol;
pub use crate::units::parse_duration;

/// Everything a run needs, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchConfig {
    pub workload: WorkloadConfig,
    pub target: Target,
    /// Event-loop threads; the connections are split across them.
    pub threads: usize,
    /// How long a request (or a connect) may wait for its answer.
    pub timeout: Duration,
    pub json: Option<PathBuf>,
    pub server_pid: Option<u32>,
    /// Local addresses outgoing connections bind to, round-robin (empty: the kernel's choice).
    pub sources: Vec<IpAddr>,
    /// The index of this process's first connection among all the run's processes (0
    /// for a run of one process): what spreads connections over `sources` evenly.
    pub first_connection: usize,
    /// Run as one part of a bench of several processes, started by this process id:
    /// hand the run to it on stdout instead of printing a summary ([`super::spawn`]).
    pub part_of: Option<u32>,
    /// When to start, in Unix seconds (`--start-at`): the run waits until then.
    pub start_at: Option<f64>,
    /// Over how many processes to spread the connections (`--processes`); `None`: as
    /// many as the descriptors need for hold, one for the others ([`super::fanout`]).
    pub processes: Option<usize>,
}

/// Which workload, with its own settings.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkloadConfig {
    Echo(EchoConfig),
    Http(HttpConfig),
    Hold(HoldConfig),
}

impl WorkloadConfig {
    /// Whether this is `hold`, the workload that holds connections (and spreads over
    /// processes by itself when they exceed one process's descriptors).
    pub fn is_hold(&self) -> bool {
        matches!(self, WorkloadConfig::Hold(_))
    }

    /// The workload's name, as the JSON `workload` key gives it.
    pub fn name(&self) -> &'static str {
        match self {
            WorkloadConfig::Echo(_) => "echo",
            WorkloadConfig::Http(_) => "http",
            WorkloadConfig::Hold(_) => "hold",
        }
    }

    /// How many connections (echo: workers) the run keeps open at once.
    pub fn connections(&self) -> usize {
        match self {
            WorkloadConfig::Echo(c) => c.workers,
            WorkloadConfig::Http(c) => c.connections,
            WorkloadConfig::Hold(c) => c.connections,
        }
    }
}

/// Seed 000: workers, each doing rounds of connect, messages, close.
#[derive(Debug, Clone, PartialEq)]
pub struct EchoConfig {
    pub workers: usize,
    pub rounds: u32,
    pub messages: u32,
    pub size: usize,
    pub duration: Option<Duration>,
}

/// When an HTTP run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopping {
    /// After this many requests have been sent and answered (or failed).
    Requests(u64),
    /// When this much time has passed.
    Duration(Duration),
}

/// Seed 001: requests over keep-alive (or fresh) connections.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpConfig {
    pub connections: usize,
    pub stopping: Stopping,
    /// A new connection per request.
    pub close: bool,
    /// Requests in flight per connection.
    pub pipeline: usize,
    pub head: bool,
    /// Open loop at this many requests per second, over all connections.
    pub rate: Option<f64>,
}

/// Seed 003: many long-lived connections, each poked at random intervals.
#[derive(Debug, Clone, PartialEq)]
pub struct HoldConfig {
    pub proto: Protocol,
    pub connections: usize,
    pub ramp: Ramp,
    /// The time between a connection's requests is drawn from this range.
    pub interval: (Duration, Duration),
    /// No `--interval` was given: bench derives it from the count and the machine
    /// before the run ([`super::limits::default_interval`]); until then `interval`
    /// holds the rule's floor.
    pub derive_interval: bool,
    pub duration: Duration,
}

/// The most connections of one thread that may wait for their first reply (connecting,
/// or connected but not yet answered) before its ramp waits: a few processes of bench
/// with one thread each stay within a listen backlog of 1024.
pub const MAX_OPENING: usize = 128;

/// `COUNT/PERIOD`: open COUNT connections every PERIOD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ramp {
    pub count: usize,
    pub every: Duration,
}

impl Ramp {
    /// The default: try every millisecond to open as many as the bound on connections
    /// waiting for their first reply allows ([`MAX_OPENING`]), so the ramp goes as fast
    /// as the server (and the kernel) answers, never faster.
    pub const PACED: Ramp = Ramp {
        count: MAX_OPENING,
        every: Duration::from_millis(1),
    };
}

/// Parses `COUNT/PERIOD`, as in `10/10ms`.
pub fn parse_ramp(text: &str) -> Result<Ramp, String> {
    let (count, every) = text
        .split_once('/')
        .ok_or_else(|| format!("'{text}' is not a ramp (COUNT/PERIOD, like 10/10ms)"))?;
    let count: usize = count
        .trim()
        .parse()
        .ok()
        .filter(|&n| (1..=100_000).contains(&n))
        .ok_or_else(|| format!("ramp count '{count}' must be between 1 and 100000"))?;
    let every = parse_duration(every)?;
    if every < Duration::from_micros(100) {
        return Err(format!("ramp period '{text}' must be at least 100us"));
    }
    Ok(Ramp { count, every })
}

/// Parses `LOW..HIGH` (`1s..30s`) or a single duration (a fixed interval).
pub fn parse_interval(text: &str) -> Result<(Duration, Duration), String> {
    let (low, high) = match text.split_once("..") {
        Some((low, high)) => (parse_duration(low)?, parse_duration(high)?),
        None => {
            let d = parse_duration(text)?;
            (d, d)
        }
    };
    if low > high {
        return Err(format!(
            "interval '{text}': the low end exceeds the high end"
        ));
    }
    Ok((low, high))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("4s"), Ok(Duration::from_secs(4)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1500us"), Ok(Duration::from_micros(1500)));
        assert_eq!(
            parse_duration("1000001ns"),
            Ok(Duration::from_nanos(1_000_001))
        );
        assert!(parse_duration("8d").is_err());
        assert!(parse_duration("169h").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("4x").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn ramps() {
        let ramp = parse_ramp("10/10ms").unwrap();
        assert_eq!(ramp.count, 10);
        assert_eq!(ramp.every, Duration::from_millis(10));
        assert!(parse_ramp("10").is_err());
        assert!(parse_ramp("0/10ms").is_err());
        assert!(parse_ramp("10/1us").is_err());
    }

    #[test]
    fn intervals() {
        assert_eq!(
            parse_interval("1s..30s"),
            Ok((Duration::from_secs(1), Duration::from_secs(30)))
        );
        assert_eq!(
            parse_interval("2s"),
            Ok((Duration::from_secs(2), Duration::from_secs(2)))
        );
        assert!(parse_interval("30s..1s").is_err());
    }
}
