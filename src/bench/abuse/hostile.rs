//! The hostile clients of `bench abuse`, one thread per connection slot: each opens a
//! connection of its kind, misbehaves, watches what the server does until the abuse
//! ends, and starts again, so the pressure lasts the whole run. Every wait is bounded by
//! the end of the abuse, so the threads stop by themselves.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags};
use socket2::SockRef;

use super::args::AbuseConfig;
use super::outcome::{status_of, Fate, Tally, PROMPT};
use crate::protocol::Protocol;

/// How long a hostile client waits for its connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Every wait of a hostile client is at most this, so it notices the end of the abuse.
const TICK: Duration = Duration::from_millis(100);
/// The pause before a hostile slot opens its next connection.
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);
/// The slowloris sends one byte this often.
const SLOWLORIS_EVERY: Duration = Duration::from_secs(3);
/// The size of the oversized header.
const OVERSIZED: usize = 1 << 20;
/// What a never-reading client tries to send.
const NEVER_READ: usize = 64 << 20;
/// The answer bytes kept to read a status line from.
const ANSWER_KEEP: usize = 64;

/// The hostile kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A request head started, then one byte every few seconds.
    Slowloris,
    /// Connects and never sends a byte.
    Silent,
    /// Random binary bytes.
    Garbage,
    /// A request with a 1 MiB header (HTTP only).
    Oversized,
    /// Half a request, then the client shuts down its sending side (HTTP only).
    Cut,
    /// Pipelined requests (echo: a burst), then a reset (SO_LINGER 0) in the middle.
    Reset,
    /// Sends 64 MiB (HTTP: pipelined GETs) and never reads a byte.
    NeverReads,
}

impl Kind {
    /// The kinds that make sense for a protocol.
    pub fn for_proto(proto: Protocol) -> &'static [Kind] {
        use Kind::*;
        match proto {
            Protocol::Http => &[
                Slowloris, Silent, Garbage, Oversized, Cut, Reset, NeverReads,
            ],
            Protocol::Echo => &[Slowloris, Silent, Garbage, Reset, NeverReads],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Slowloris => "slowloris",
            Kind::Silent => "silent",
            Kind::Garbage => "garbage",
            Kind::Oversized => "oversized-header",
            Kind::Cut => "cut-request",
            Kind::Reset => "reset-mid-pipeline",
            Kind::NeverReads => "never-reads",
        }
    }
}

/// Starts `config.per_kind` slots of `kind`; each returns its tally when `end` passes
/// or `stop` is set.
pub fn start(
    kind: Kind,
    config: &AbuseConfig,
    end: Instant,
    stop: &std::sync::Arc<AtomicBool>,
) -> io::Result<Vec<JoinHandle<Tally>>> {
    (0..config.per_kind)
        .map(|slot| {
            let (config, stop) = (config.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("{}-{slot}", kind.name()))
                .spawn(move || {
                    let mut tally = Tally::default();
                    let mut seed = 0x5eed_u64 ^ (slot as u64) << 32;
                    // No new connection in the last moments: it could only be `kept`.
                    let last_open = end.checked_sub(PROMPT).unwrap_or(end);
                    while Instant::now() < last_open && !stop.load(Ordering::SeqCst) {
                        seed = seed.wrapping_add(1);
                        let (outcome, lived) = one(kind, &config, end, &stop, seed);
                        tally.count(outcome, lived);
                        std::thread::sleep(RECONNECT_PAUSE);
                    }
                    tally
                })
        })
        .collect()
}

/// One hostile connection from connect to its end; returns the outcome and, if the
/// server ended it, how long it lived.
fn one(
    kind: Kind,
    config: &AbuseConfig,
    end: Instant,
    stop: &AtomicBool,
    seed: u64,
) -> (Fate, Option<Duration>) {
    let Ok(stream) = TcpStream::connect_timeout(&config.target.addr, CONNECT_TIMEOUT) else {
        return (Fate::Refused, None);
    };
    let mut conn = Conn::new(stream, end, stop);
    let head = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n",
        config.target.path, config.target.host
    );
    let result = match kind {
        Kind::Slowloris => conn.slowloris(&head, config.proto),
        Kind::Silent => conn.watch(),
        Kind::Garbage => {
            let mut bytes = vec![0u8; 4096];
            fill_random(seed, &mut bytes);
            conn.send_then(&bytes, Conn::watch)
        }
        Kind::Oversized => {
            let mut request = head.into_bytes();
            request.extend_from_slice(b"X-Big: ");
            request.resize(request.len() + OVERSIZED, b'a');
            request.extend_from_slice(b"\r\n\r\n");
            conn.send_then(&request, Conn::watch)
        }
        Kind::Cut => {
            let request = format!("{head}User-Agent: abu");
            conn.send_then(request.as_bytes(), |conn| {
                conn.stream.shutdown(Shutdown::Write)?;
                conn.watch()
            })
        }
        Kind::Reset => return conn.reset_mid_pipeline(&head, config.proto, seed),
        Kind::NeverReads => conn.never_read(&head, config.proto),
    };
    conn.outcome(result)
}

/// How a watched connection ended.
enum Ended {
    /// The server closed or reset it at this instant.
    Closed(Instant),
    /// The abuse ended first.
    Open,
}

/// One hostile connection: its socket, the first bytes of what the server answered,
/// and when the server last got something to judge.
struct Conn<'a> {
    stream: TcpStream,
    opened: Instant,
    judged_from: Instant,
    answer: Vec<u8>,
    end: Instant,
    stop: &'a AtomicBool,
}

impl<'a> Conn<'a> {
    fn new(stream: TcpStream, end: Instant, stop: &'a AtomicBool) -> Self {
        let _ = stream.set_read_timeout(Some(TICK));
        let _ = stream.set_write_timeout(Some(TICK));
        let now = Instant::now();
        Conn {
            stream,
            opened: now,
            judged_from: now,
            answer: Vec::new(),
            end,
            stop,
        }
    }

    fn over(&self) -> bool {
        Instant::now() >= self.end || self.stop.load(Ordering::SeqCst)
    }

    /// Sends all of `bytes` (waiting while the server reads slowly, until the abuse
    /// ends); the server may judge from the last byte on.
    fn send(&mut self, mut bytes: &[u8]) -> io::Result<Ended> {
        while !bytes.is_empty() {
            if self.over() {
                return Ok(Ended::Open);
            }
            match self.stream.write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(err) if is_wait(&err) => {}
                Err(_) => return Ok(self.closed_now()),
            }
        }
        self.judged_from = Instant::now();
        Ok(Ended::Open)
    }

    /// [`Self::send`], then `next` unless the connection already ended.
    fn send_then(
        &mut self,
        bytes: &[u8],
        next: impl FnOnce(&mut Self) -> io::Result<Ended>,
    ) -> io::Result<Ended> {
        match self.send(bytes)? {
            Ended::Open if !self.over() => next(self),
            ended => Ok(ended),
        }
    }

    /// The server ended the connection while we wrote: keep what it answered first.
    fn closed_now(&mut self) -> Ended {
        let at = Instant::now();
        let _ = self.stream.set_nonblocking(true);
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = self.stream.read(&mut buf) {
            self.keep(&buf[..n]);
        }
        Ended::Closed(at)
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = ANSWER_KEEP.saturating_sub(self.answer.len());
        self.answer
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// Reads (and keeps the start of) whatever the server sends until it ends the
    /// connection or the abuse ends.
    fn watch(&mut self) -> io::Result<Ended> {
        self.watch_ticking(|_| Ok(()))
    }

    /// [`Self::watch`], calling `tick` on every wake-up (to trickle bytes).
    fn watch_ticking(
        &mut self,
        mut tick: impl FnMut(&mut Self) -> io::Result<()>,
    ) -> io::Result<Ended> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            if self.over() {
                return Ok(Ended::Open);
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return Ok(Ended::Closed(Instant::now())),
                Ok(n) => self.keep(&buf[..n]),
                Err(err) if is_wait(&err) => {}
                Err(_) => return Ok(Ended::Closed(Instant::now())),
            }
            if tick(self).is_err() {
                return Ok(self.closed_now());
            }
        }
    }

    /// A request head started, then one byte of a header value every few seconds. The
    /// server can judge it only by time, so any close counts from the connect.
    fn slowloris(&mut self, head: &str, proto: Protocol) -> io::Result<Ended> {
        let start = match proto {
            Protocol::Http => format!("{head}X-Slow: "),
            Protocol::Echo => "s".to_string(),
        };
        self.stream.write_all(start.as_bytes())?;
        let mut next = Instant::now() + SLOWLORIS_EVERY;
        self.watch_ticking(|conn| {
            if Instant::now() >= next {
                next += SLOWLORIS_EVERY;
                conn.stream.write_all(b"s")?;
            }
            Ok(())
        })
    }

    /// Several complete requests, half of another, then a reset: the server must drop
    /// the connection without harm to anyone else.
    fn reset_mid_pipeline(
        self,
        head: &str,
        proto: Protocol,
        seed: u64,
    ) -> (Fate, Option<Duration>) {
        let mut burst = Vec::new();
        match proto {
            Protocol::Http => {
                for _ in 0..8 {
                    burst.extend_from_slice(format!("{head}\r\n").as_bytes());
                }
                burst.extend_from_slice(head.as_bytes());
            }
            Protocol::Echo => {
                burst.resize(256 * 1024, 0);
                fill_random(seed, &mut burst);
            }
        }
        let mut stream = self.stream;
        let _ = stream.write_all(&burst);
        std::thread::sleep(Duration::from_millis(20));
        let _ = SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        drop(stream);
        (Fate::ClientReset, None)
    }

    /// Sends up to 64 MiB without ever reading. The server cannot close such a
    /// connection without a reset (its receive queue holds our unread bytes), which
    /// poll(2) reports as POLLERR/POLLHUP without our reading anything.
    fn never_read(&mut self, head: &str, proto: Protocol) -> io::Result<Ended> {
        let mut chunk = Vec::with_capacity(64 * 1024);
        match proto {
            Protocol::Http => {
                let request = format!("{head}\r\n");
                while chunk.len() + request.len() <= 64 * 1024 {
                    chunk.extend_from_slice(request.as_bytes());
                }
            }
            Protocol::Echo => chunk.resize(64 * 1024, b'n'),
        }
        self.stream.set_nonblocking(true)?;
        let mut sent = 0usize;
        let mut offset = 0usize;
        loop {
            if self.over() {
                return Ok(Ended::Open);
            }
            while sent < NEVER_READ {
                match self.stream.write(&chunk[offset..]) {
                    Ok(n) => {
                        sent += n;
                        offset = (offset + n) % chunk.len();
                        self.judged_from = Instant::now();
                    }
                    Err(err) if is_wait(&err) => break,
                    Err(_) => return Ok(Ended::Closed(Instant::now())),
                }
            }
            let mut fds = [PollFd::new(self.stream.as_fd(), PollFlags::POLLOUT)];
            let ready = poll(&mut fds, 100u16)?;
            let events = fds[0].revents().unwrap_or(PollFlags::empty());
            if ready > 0 && events.intersects(PollFlags::POLLERR | PollFlags::POLLHUP) {
                return Ok(Ended::Closed(Instant::now()));
            }
        }
    }

    /// The outcome of a connection that ended as `result` says.
    fn outcome(&self, result: io::Result<Ended>) -> (Fate, Option<Duration>) {
        let status = status_of(&self.answer);
        match result {
            Ok(Ended::Open) => match status {
                Some(status) => (Fate::Answered(status), None),
                None => (Fate::Kept, None),
            },
            Ok(Ended::Closed(at)) => (
                Fate::of_close(status, at.saturating_duration_since(self.judged_from)),
                Some(at - self.opened),
            ),
            // The first write or the socket setup failed: the server dropped it at once.
            Err(_) => (
                Fate::of_close(status, Duration::ZERO),
                Some(self.opened.elapsed()),
            ),
        }
    }
}

fn is_wait(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Fills `out` with bytes from a seeded xorshift: random-looking, reproducible.
fn fill_random(mut seed: u64, out: &mut [u8]) {
    seed |= 1;
    for byte in out {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        *byte = (seed >> 24) as u8;
    }
}
