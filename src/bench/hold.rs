//! The `hold` workload (seed 003): ramp up to C long-lived connections (COUNT every
//! PERIOD) and keep each alive with a small request at random intervals, an HTTP
//! `HEAD` or a short echo message, checking every reply. Per-connection state is 40
//! bytes and a timer, and reads go through one per-thread buffer, so a hundred
//! thousand held connections cost the client a few megabytes beyond its processes.
//!
//! The ramp keeps pace with the machine: it opens COUNT connections every PERIOD, but
//! only while fewer than [`MAX_OPENING`] of the thread's connections wait for their
//! first reply, so a server (or a kernel) that falls behind slows the ramp down instead
//! of filling its accept queue until connects fail. Every lost connection is counted by
//! its reason: refused, reset, closed by the server between requests (its idle timeout),
//! timed out, or no descriptor or port left. A connection counts as held from the
//! server's first answer on, not from its connect: the kernel completes handshakes into
//! an accept queue that a server at its descriptor limit never takes from.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::{Interest, Poll, Registry, Token};

use super::config::{HoldConfig, MAX_OPENING};
use super::engine::{self, EngineWorkload, Rng, ThreadCtx, ThreadResult, Timers};
use super::response::{Completed, ResponseReader};
use super::target::Target;
use super::{net, pattern};
use crate::protocol::Protocol;
use crate::stats::histogram::micros;
use crate::stats::{ErrorKind, Recorder};

/// The timer token of the ramp (connections have tokens below it).
const RAMP: usize = usize::MAX;
/// How long a dropped connection waits before it is opened again.
const REOPEN: Duration = Duration::from_secs(1);
/// Bytes of an echo keep-alive message.
pub const ECHO_LEN: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not opened yet: the ramp has not reached it.
    Pending,
    Connecting,
    /// Open, waiting for its next request time.
    Idle,
    /// A request in flight since `since`.
    Busy,
    /// Dropped; reopened by its timer.
    Backoff,
}

#[derive(Debug)]
struct HoldConn {
    stream: Option<mio::net::TcpStream>,
    phase: Phase,
    /// Echo: bytes of the current message verified.
    verified: u16,
    /// Has the server answered this connection yet (since it was last opened)? A
    /// connection is held from its first answer on.
    answered: bool,
    seq: u32,
    /// Connect start, or when the request in flight was sent.
    since: Instant,
    /// HTTP: the reply read so far, only while one is split over several reads (most
    /// arrive whole), so an idle connection keeps 8 bytes of it, not 48.
    reader: Option<Box<ResponseReader>>,
}

struct Loop<'a> {
    ctx: ThreadCtx<'a>,
    config: &'a HoldConfig,
    registry: Registry,
    conns: Vec<HoldConn>,
    first: usize,
    timers: Timers,
    recorder: Recorder,
    rng: Rng,
    request: Vec<u8>,
    /// The next connection the ramp opens, and how many it opens per period.
    ramp_next: usize,
    ramp_batch: usize,
    /// Connections opened and not answered yet: what [`MAX_OPENING`] bounds.
    opening: usize,
    held: usize,
    held_peak: usize,
}

/// Runs this thread's share of the held connections until the run's duration is over.
pub fn run_thread(ctx: ThreadCtx<'_>, config: &HoldConfig) -> io::Result<ThreadResult> {
    let (count, first) = ctx.share(config.connections);
    let request = http_request(&ctx.config.target);
    let conns = (0..count)
        .map(|_| HoldConn {
            stream: None,
            phase: Phase::Pending,
            verified: 0,
            answered: false,
            seq: 0,
            since: ctx.start,
            reader: None,
        })
        .collect();
    let (mut poll, registry) = engine::poller()?;
    let mut this = Loop {
        ctx,
        config,
        registry,
        conns,
        first,
        timers: Timers::with_capacity(count + 1),
        recorder: Recorder::new(),
        rng: Rng::new(ctx.index as u64 + 1),
        request,
        ramp_next: 0,
        ramp_batch: config.ramp.count.div_ceil(ctx.threads).max(1),
        opening: 0,
        held: 0,
        held_peak: 0,
    };
    this.run(&mut poll)
}

/// The keep-alive request of an HTTP hold: a `HEAD` of the target's path.
pub fn http_request(target: &Target) -> Vec<u8> {
    format!(
        "HEAD {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: iomodels\r\n\r\n",
        target.path, target.host
    )
    .into_bytes()
}

/// The keep-alive message of an echo hold: [`ECHO_LEN`] bytes of connection `global`'s
/// pattern for its request `seq`.
pub fn echo_message(global: usize, seq: u32) -> [u8; ECHO_LEN] {
    let mut message = [0u8; ECHO_LEN];
    pattern::fill(pattern::seed(global, u32::MAX, seq), 0, &mut message);
    message
}

impl<'a> EngineWorkload for Loop<'a> {
    fn deadline(&self) -> Option<Instant> {
        Some(self.ctx.start + self.config.duration)
    }

    fn on_event(&mut self, i: usize, event: &Event, buf: &mut [u8]) {
        match self.conns[i].phase {
            Phase::Connecting => self.on_connecting(i),
            Phase::Idle | Phase::Busy => {
                if engine::is_readable(event) {
                    self.on_readable(i, buf);
                }
            }
            Phase::Pending | Phase::Backoff => {}
        }
    }

    fn timers(&mut self) -> Option<&mut Timers> {
        Some(&mut self.timers)
    }

    fn on_timer(&mut self, token: usize, now: Instant) {
        if token == RAMP {
            return self.ramp(now);
        }
        // Timers are not cancelled: one that outlived its purpose at worst sends a
        // request early or reopens a connection sooner.
        match self.conns[token].phase {
            Phase::Idle => self.send(token, now),
            Phase::Backoff => self.connect(token, now),
            _ => {}
        }
    }

    fn sweep(&mut self, now: Instant) {
        let timeout = self.ctx.config.timeout;
        for i in 0..self.conns.len() {
            let conn = &self.conns[i];
            let late = now.saturating_duration_since(conn.since) > timeout;
            match conn.phase {
                Phase::Connecting if late => self.drop_conn(i, ErrorKind::Timeout, now),
                Phase::Busy if late => self.drop_conn(i, ErrorKind::Timeout, now),
                _ => {}
            }
        }
    }

    fn publish(&self) {
        self.ctx.publish(&self.recorder, self.held);
    }
}

impl Loop<'_> {
    fn run(&mut self, poll: &mut Poll) -> io::Result<ThreadResult> {
        self.timers.arm(Instant::now(), RAMP);
        engine::drive(self.ctx, poll, self)?;
        Ok(self
            .ctx
            .finish(&mut self.recorder, self.held, self.held, self.held_peak))
    }

    /// Opens the ramp's next batch, as far as [`MAX_OPENING`] allows, and arms the next
    /// turn while connections remain unopened.
    fn ramp(&mut self, now: Instant) {
        let room = MAX_OPENING.saturating_sub(self.opening);
        let end = (self.ramp_next + self.ramp_batch.min(room)).min(self.conns.len());
        for i in self.ramp_next..end {
            self.connect(i, now);
        }
        self.ramp_next = end;
        if end < self.conns.len() {
            self.timers.arm(now + self.config.ramp.every, RAMP);
        }
    }

    fn connect(&mut self, i: usize, now: Instant) {
        let result = self.ctx.connect(&self.registry, i, self.first + i);
        match result {
            Ok(stream) => {
                let conn = &mut self.conns[i];
                conn.stream = Some(stream);
                conn.phase = Phase::Connecting;
                conn.answered = false;
                conn.since = now;
                self.opening += 1;
            }
            Err(err) => self.drop_conn(i, net::classify_connect(&err), now),
        }
    }

    /// Counts a failure of connection `i`, closes it and arms its reopening.
    fn drop_conn(&mut self, i: usize, kind: ErrorKind, now: Instant) {
        self.recorder.error(kind, 1);
        let conn = &mut self.conns[i];
        if matches!(conn.phase, Phase::Connecting | Phase::Idle | Phase::Busy) {
            if conn.answered {
                self.held -= 1;
            } else {
                self.opening -= 1;
            }
        }
        conn.stream = None;
        conn.reader = None;
        conn.phase = Phase::Backoff;
        self.timers.arm(now + REOPEN, i);
    }

    fn on_connecting(&mut self, i: usize) {
        let Some(stream) = &self.conns[i].stream else {
            return;
        };
        let now = Instant::now();
        match net::connect_finished(stream) {
            Ok(false) => {}
            Ok(true) => {
                // Its requests are tiny: a held connection listens for replies only.
                let reregistered = match self.conns[i].stream.as_mut() {
                    Some(stream) => self
                        .registry
                        .reregister(stream, Token(i), Interest::READABLE),
                    None => Ok(()),
                };
                if let Err(err) = reregistered {
                    return self.drop_conn(i, net::classify(&err), now);
                }
                self.recorder.connected(micros(now - self.conns[i].since));
                self.conns[i].phase = Phase::Idle;
                self.send(i, now);
            }
            Err(err) => self.drop_conn(i, net::classify_connect(&err), now),
        }
    }

    /// Sends the keep-alive request of connection `i`.
    fn send(&mut self, i: usize, now: Instant) {
        let global = self.first + i;
        let conn = &mut self.conns[i];
        let Some(stream) = conn.stream.as_mut() else {
            return;
        };
        conn.seq = conn.seq.wrapping_add(1);
        let message;
        let bytes: &[u8] = match self.config.proto {
            Protocol::Http => &self.request,
            Protocol::Echo => {
                message = echo_message(global, conn.seq);
                &message
            }
        };
        // A request this small fits an empty socket buffer: a short write means the
        // connection is in trouble.
        match stream.write(bytes) {
            Ok(n) if n == bytes.len() => {
                conn.phase = Phase::Busy;
                conn.since = now;
                conn.verified = 0;
            }
            Ok(_) => self.drop_conn(i, ErrorKind::Reset, now),
            Err(err) => self.drop_conn(i, net::classify(&err), now),
        }
    }

    fn on_readable(&mut self, i: usize, buf: &mut [u8]) {
        loop {
            let conn = &mut self.conns[i];
            let Some(stream) = conn.stream.as_mut() else {
                return;
            };
            let n = match stream.read(buf) {
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return self.drop_conn(i, net::classify(&err), Instant::now()),
            };
            let now = Instant::now();
            if n == 0 {
                // Closed by the server: while a reply was owed, that is a reset; between
                // requests, the server ended an idle connection.
                let kind = match conn.phase {
                    Phase::Busy => ErrorKind::Reset,
                    _ => ErrorKind::Closed,
                };
                return self.drop_conn(i, kind, now);
            }
            if conn.phase != Phase::Busy {
                return self.drop_conn(i, ErrorKind::Mismatch, now); // unsolicited bytes
            }
            match self.check_reply(i, &buf[..n]) {
                Err(kind) => return self.drop_conn(i, kind, now),
                Ok(None) => {}
                Ok(Some(done)) => {
                    let conn = &mut self.conns[i];
                    if !conn.answered {
                        // Held from its first answer: a connection the kernel completed
                        // but the server never accepted (a full accept queue) is not.
                        conn.answered = true;
                        self.opening -= 1;
                        self.held += 1;
                        self.held_peak = self.held_peak.max(self.held);
                    }
                    if done.succeeded() {
                        self.recorder.request(micros(now - conn.since));
                    } else {
                        self.recorder.error(ErrorKind::HttpStatus, 1);
                    }
                    if done.close {
                        return self.drop_conn(i, ErrorKind::Closed, now);
                    }
                    conn.phase = Phase::Idle;
                    let (low, high) = self.config.interval;
                    self.timers.arm(now + self.rng.between(low, high), i);
                }
            }
            if n < buf.len() {
                return;
            }
        }
    }

    /// Checks the next bytes of connection `i`'s reply: `Some` once the reply is
    /// complete, `Mismatch` if it is not the right one.
    fn check_reply(&mut self, i: usize, data: &[u8]) -> Result<Option<Completed>, ErrorKind> {
        let conn = &mut self.conns[i];
        match self.config.proto {
            Protocol::Echo => {
                let seed = pattern::seed(self.first + i, u32::MAX, conn.seq);
                let offset = conn.verified as usize;
                if offset + data.len() > ECHO_LEN || !pattern::matches(seed, offset, data) {
                    return Err(ErrorKind::Mismatch);
                }
                conn.verified += data.len() as u16;
                Ok((conn.verified as usize == ECHO_LEN).then_some(Completed {
                    status: 200,
                    close: false,
                }))
            }
            Protocol::Http => {
                let mut done = None;
                let mut extra = false;
                let reader = conn.reader.get_or_insert_with(Box::default);
                let fed = reader.feed(data, true, &mut |c| {
                    extra |= done.is_some();
                    done = Some(c);
                });
                if reader.is_idle() {
                    conn.reader = None;
                }
                match fed {
                    Ok(()) if !extra => Ok(done),
                    _ => Err(ErrorKind::Mismatch),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A held connection's own state, which a million of them multiply.
    #[test]
    fn a_connection_keeps_forty_bytes() {
        // mio's debug builds keep a word per socket for which poller registered it.
        let limit = if cfg!(debug_assertions) { 48 } else { 40 };
        let size = std::mem::size_of::<HoldConn>();
        assert!(size <= limit, "{size} bytes");
    }

    #[test]
    fn the_keep_alive_messages() {
        let target = Target::parse("http://127.0.0.1:8080/x").unwrap();
        let request = String::from_utf8(http_request(&target)).unwrap();
        assert!(request.starts_with("HEAD /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
        assert!(request.ends_with("\r\n\r\n"));
        assert_ne!(echo_message(1, 1), echo_message(1, 2));
        assert_eq!(echo_message(3, 7), echo_message(3, 7));
    }
}
