//! The well-behaved clients of `bench abuse`: each, in a loop, opens a connection, sends
//! one valid request (an HTTP GET, or an echo message), checks every byte of the answer,
//! and closes. A new connection per check means a check must get past the accept queue
//! and a free worker, which is exactly what hostile clients compete for.
//!
//! A check ends as `ok` (with its latency, connect included), `wrong` (an answer that
//! is not the right one: the server wronged a client, which fails the run), or an
//! `error` (refused, reset, timed out: the server was unavailable, not wrong).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::args::AbuseConfig;
use crate::bench::pattern;
use crate::bench::response::{Framing, ResponseObserver, ResponseReader};
use crate::protocol::http::BODY;
use crate::protocol::Protocol;
use crate::stats::histogram::{micros, new_histogram};

/// The pause between two checks of one client: the clients probe the server, they do
/// not load it (and a few hundred connections a second leave few sockets in TIME_WAIT).
const CHECK_PAUSE: Duration = Duration::from_millis(20);
/// Bytes of each echo check.
const ECHO_LEN: usize = 64;
/// The most bytes an HTTP answer may have before it counts as wrong.
const MAX_ANSWER: usize = 64 * 1024;

/// The phases a check can fall in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbusePhase {
    Before = 0,
    During = 1,
    After = 2,
}

/// What the well-behaved clients saw in one phase.
#[derive(Debug, Clone)]
pub struct PhaseStats {
    pub ok: u64,
    pub wrong: u64,
    pub errors: u64,
    /// The first wrong answer, for the summary.
    pub first_wrong: Option<String>,
    pub latency: Histogram<u64>,
}

impl PhaseStats {
    fn new() -> Self {
        PhaseStats {
            ok: 0,
            wrong: 0,
            errors: 0,
            first_wrong: None,
            latency: new_histogram(),
        }
    }

    /// Adds `other`'s counts and latencies to these.
    fn add(&mut self, other: &PhaseStats) {
        self.ok += other.ok;
        self.wrong += other.wrong;
        self.errors += other.errors;
        if self.first_wrong.is_none() {
            self.first_wrong.clone_from(&other.first_wrong);
        }
        let _ = self.latency.add(&other.latency);
    }
}

/// The running clients; [`Checkers::set_phase`] moves them all to the next phase.
pub struct Checkers {
    phase: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    /// Checks answered (rightly or wrongly) so far in the current phase, all clients
    /// together: whether the server serves at all.
    answered_now: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<[PhaseStats; 3]>>,
}

impl Checkers {
    /// Starts `config.clients` clients in the `Before` phase.
    pub fn start(config: &AbuseConfig) -> io::Result<Self> {
        let phase = Arc::new(AtomicUsize::new(AbusePhase::Before as usize));
        let stop = Arc::new(AtomicBool::new(false));
        let answered_now = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        for client in 0..config.clients {
            let (phase, stop, answered_now) = (phase.clone(), stop.clone(), answered_now.clone());
            let config = config.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("checker-{client}"))
                    .spawn(move || run_client(client, &config, &phase, &stop, &answered_now))?,
            );
        }
        Ok(Checkers {
            phase,
            stop,
            answered_now,
            threads,
        })
    }

    pub fn set_phase(&self, phase: AbusePhase) {
        self.answered_now.store(0, Ordering::SeqCst);
        self.phase.store(phase as usize, Ordering::SeqCst);
    }

    /// Checks answered since the last phase change.
    pub fn answered_in_phase(&self) -> usize {
        self.answered_now.load(Ordering::SeqCst)
    }

    /// Stops the clients (each finishes its check in progress) and adds up their stats.
    pub fn finish(self) -> [PhaseStats; 3] {
        self.stop.store(true, Ordering::SeqCst);
        let mut total = [PhaseStats::new(), PhaseStats::new(), PhaseStats::new()];
        for thread in self.threads {
            if let Ok(stats) = thread.join() {
                for (sum, one) in total.iter_mut().zip(&stats) {
                    sum.add(one);
                }
            }
        }
        total
    }
}

/// How one check ended.
enum Check {
    Ok,
    Wrong(String),
    Error,
}

fn run_client(
    client: usize,
    config: &AbuseConfig,
    phase: &AtomicUsize,
    stop: &AtomicBool,
    answered_now: &AtomicUsize,
) -> [PhaseStats; 3] {
    let mut stats = [PhaseStats::new(), PhaseStats::new(), PhaseStats::new()];
    let mut round = 0u32;
    while !stop.load(Ordering::SeqCst) {
        let now = phase.load(Ordering::SeqCst);
        let started = Instant::now();
        let check = match config.proto {
            Protocol::Http => check_http(config),
            Protocol::Echo => check_echo(config, pattern::seed(client, round, 0)),
        };
        round = round.wrapping_add(1);
        // A check that straddles a phase change counts in the phase it started in.
        let stats = &mut stats[now];
        match &check {
            Ok(Check::Ok) => {
                stats.ok += 1;
                let _ = stats.latency.record(micros(started.elapsed()).max(1));
            }
            Ok(Check::Wrong(why)) => {
                stats.wrong += 1;
                stats.first_wrong.get_or_insert_with(|| why.clone());
            }
            Ok(Check::Error) | Err(_) => stats.errors += 1,
        }
        if matches!(check, Ok(Check::Ok | Check::Wrong(_))) && phase.load(Ordering::SeqCst) == now {
            answered_now.fetch_add(1, Ordering::SeqCst);
        }
        std::thread::sleep(CHECK_PAUSE);
    }
    stats
}

fn connect(config: &AbuseConfig) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&config.target.addr, config.timeout)?;
    stream.set_read_timeout(Some(config.timeout))?;
    stream.set_write_timeout(Some(config.timeout))?;
    Ok(stream)
}

/// One GET on a fresh connection; the answer must be a 200 with our body.
fn check_http(config: &AbuseConfig) -> io::Result<Check> {
    let mut stream = connect(config)?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n\r\n",
        config.target.path, config.target.host
    );
    stream.write_all(request.as_bytes())?;
    let deadline = Instant::now() + config.timeout;
    let mut answer = HttpAnswer::default();
    let mut buf = [0u8; 4096];
    loop {
        if Instant::now() >= deadline {
            return Ok(Check::Error);
        }
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(Check::Error),
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if let Some(check) = answer.feed(&buf[..n]) {
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(check);
        }
    }
}

/// The answer to one check's GET, read with bench's [`ResponseReader`] and judged as it
/// arrives: a 200 framed by Content-Length whose body is [`BODY`], and nothing after it.
#[derive(Default)]
struct HttpAnswer {
    reader: ResponseReader,
    seen: Seen,
    received: usize,
}

/// What the reader showed of the answer.
#[derive(Default)]
struct Seen {
    heads: usize,
    /// Why the first head is already a wrong answer.
    wrong_head: Option<String>,
    /// The first body's first bytes: enough to compare with [`BODY`] and to quote.
    body: Vec<u8>,
}

/// How many bytes of a wrong body are kept, to quote in the summary.
const QUOTE: usize = 64;

impl ResponseObserver for Seen {
    fn head(&mut self, status: u16, framing: Framing) {
        self.heads += 1;
        if self.heads > 1 {
            return;
        }
        if status != 200 {
            self.wrong_head = Some(format!("status {status} to a valid GET"));
        } else if !matches!(framing, Framing::Length(_) | Framing::Empty) {
            self.wrong_head = Some("a 200 without Content-Length".into());
        }
    }

    fn body(&mut self, bytes: &[u8]) {
        if self.heads == 1 {
            let room = (BODY.len() + QUOTE).saturating_sub(self.body.len());
            self.body.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }
}

impl HttpAnswer {
    /// Takes the next bytes of the answer; `Some` once it is judged.
    fn feed(&mut self, bytes: &[u8]) -> Option<Check> {
        self.received += bytes.len();
        let mut answered = 0;
        let fed = self
            .reader
            .feed_observed(bytes, false, &mut self.seen, &mut |_| answered += 1);
        let wrong = if let Some(why) = self.seen.wrong_head.take() {
            why
        } else if answered == 0 && fed.is_err() {
            "a malformed answer".into()
        } else if answered == 0 && self.received > MAX_ANSWER {
            "an answer larger than 64 KiB".into()
        } else if answered == 0 {
            return None;
        } else if self.seen.body != BODY {
            let quote = &self.seen.body[..self.seen.body.len().min(QUOTE)];
            format!("body {:?}", String::from_utf8_lossy(quote))
        } else if answered > 1 || fed.is_err() || !self.reader.is_idle() {
            "bytes after the answer".into()
        } else {
            return Some(Check::Ok);
        };
        Some(Check::Wrong(wrong))
    }
}

/// One message on a fresh connection; every byte must come back, in order.
fn check_echo(config: &AbuseConfig, seed: u64) -> io::Result<Check> {
    let mut stream = connect(config)?;
    let mut message = [0u8; ECHO_LEN];
    pattern::fill(seed, 0, &mut message);
    stream.write_all(&message)?;
    let mut got = [0u8; ECHO_LEN];
    let mut filled = 0;
    while filled < ECHO_LEN {
        match stream.read(&mut got[filled..]) {
            Ok(0) => return Ok(Check::Error),
            Ok(n) => {
                if !pattern::matches(seed, filled, &got[filled..filled + n]) {
                    return Ok(Check::Wrong(format!("echo differs at byte {filled}")));
                }
                filled += n;
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    Ok(Check::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(bytes: &[u8]) -> &'static str {
        match HttpAnswer::default().feed(bytes) {
            None => "partial",
            Some(Check::Ok) => "ok",
            Some(Check::Wrong(_)) => "wrong",
            Some(Check::Error) => "error",
        }
    }

    #[test]
    fn judges_http_answers() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!";
        assert_eq!(judge(ok), "ok");
        assert_eq!(judge(&ok[..ok.len() - 1]), "partial");
        assert_eq!(judge(&ok[..10]), "partial");
        assert_eq!(judge(b"HTTP/1.1 400 Bad Request\r\n\r\n"), "wrong");
        assert_eq!(
            judge(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World?"),
            "wrong"
        );
        assert_eq!(judge(b"\x00\x01garbage\r\n\r\n"), "wrong");
        assert_eq!(judge(b"HTTP/1.1 200 OK\r\n\r\n"), "wrong");
    }

    #[test]
    fn judges_an_answer_fed_in_pieces() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!";
        for split in 1..ok.len() {
            let mut answer = HttpAnswer::default();
            assert!(answer.feed(&ok[..split]).is_none(), "split at {split}");
            assert!(
                matches!(answer.feed(&ok[split..]), Some(Check::Ok)),
                "split at {split}"
            );
        }
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(judge(chunked), "wrong");
        let mut extra = ok.to_vec();
        extra.extend_from_slice(b"HTTP/1.1");
        assert_eq!(judge(&extra), "wrong");
        let mut long = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".to_vec();
        long.resize(MAX_ANSWER + 1, b'x');
        assert_eq!(judge(&long), "wrong");
    }
}
