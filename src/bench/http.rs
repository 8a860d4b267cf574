//! The `http` workload (seed 001): each connection sends a pre-serialized request,
//! reads the response, and sends the next, keep-alive by default; `--close` opens a new
//! connection per request, `--pipeline K` keeps K in flight, `--rate R` sends on a
//! fixed schedule and measures latency from each request's intended send time (open
//! loop, coordinated omission corrected as wrk2 does).
//!
//! The hot path does one write and one read per response per connection, no
//! allocation, and one clock read per batch of responses.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::{Interest, Poll, Registry, Token};

use super::config::{HttpConfig, Stopping};
use super::engine::{self, EngineWorkload, ThreadCtx, ThreadResult, Timers, TICK};
use super::net;
use super::response::{Completed, ResponseReader};
use crate::stats::histogram::micros;
use crate::stats::{ErrorKind, Recorder};

/// How long a connection waits before reconnecting after a failure.
const BACKOFF: Duration = TICK;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Open,
    Backoff,
    /// No request left to send: the connection is closed and stays so.
    Done,
}

#[derive(Debug)]
struct Conn {
    stream: Option<mio::net::TcpStream>,
    phase: Phase,
    /// When the current connect started.
    since: Instant,
    /// Send (or intended send) times of the requests awaiting a response, oldest first.
    sent: VecDeque<Instant>,
    /// Request bytes issued but not yet written, and the offset within a request
    /// where they start.
    unsent: usize,
    partial: usize,
    reader: ResponseReader,
    /// Open loop: when the next request is due.
    next_send: Instant,
    timer_armed: bool,
    /// A write would block: the connection also listens for writability.
    write_blocked: bool,
    /// Some reply arrived on this connection slot during the run.
    answered: bool,
    global: usize,
}

/// One event loop of the http workload.
struct Loop<'a> {
    ctx: ThreadCtx<'a>,
    config: &'a HttpConfig,
    registry: Registry,
    conns: Vec<Conn>,
    timers: Timers,
    recorder: Recorder,
    /// `pipeline + 1` copies of the request, so any run of owed bytes is one slice.
    block: Vec<u8>,
    request_len: usize,
    /// Requests this thread may still issue (u64::MAX: no limit).
    budget: u64,
    in_flight: usize,
    open: usize,
    interval: Duration,
}

/// The request every connection sends.
pub fn request_bytes(config: &HttpConfig, host: &str, path: &str) -> Vec<u8> {
    let method = if config.head { "HEAD" } else { "GET" };
    let connection = if config.close {
        "Connection: close\r\n"
    } else {
        ""
    };
    format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: iomodels\r\n{connection}\r\n")
        .into_bytes()
}

/// Runs this thread's share of the connections until the run ends.
pub fn run_thread(ctx: ThreadCtx<'_>, config: &HttpConfig) -> io::Result<ThreadResult> {
    let (count, first) = ctx.share(config.connections);
    let target = &ctx.config.target;
    let request = request_bytes(config, &target.host, &target.path);
    let budget = match config.stopping {
        Stopping::Requests(n) => {
            let (mine, _) = ctx.share(usize::try_from(n).unwrap_or(usize::MAX));
            mine as u64
        }
        Stopping::Duration(_) => u64::MAX,
    };
    let interval = config.rate.map_or(Duration::ZERO, |rate| {
        Duration::from_secs_f64(config.connections as f64 / rate)
    });
    let start = ctx.start;
    let conns = (0..count)
        .map(|i| Conn {
            stream: None,
            phase: Phase::Backoff,
            since: start,
            sent: VecDeque::with_capacity(config.pipeline),
            unsent: 0,
            partial: 0,
            reader: ResponseReader::new(),
            // Stagger the schedule so the connections do not fire together.
            next_send: start
                + config.rate.map_or(Duration::ZERO, |rate| {
                    Duration::from_secs_f64((first + i) as f64 / rate)
                }),
            timer_armed: false,
            write_blocked: false,
            answered: false,
            global: first + i,
        })
        .collect();
    let (mut poll, registry) = engine::poller()?;
    let mut this = Loop {
        ctx,
        config,
        registry,
        conns,
        timers: Timers::with_capacity(count),
        recorder: Recorder::new(),
        block: request.repeat(config.pipeline + 1),
        request_len: request.len(),
        budget,
        in_flight: 0,
        open: 0,
        interval,
    };
    this.run(&mut poll)
}

impl<'a> EngineWorkload for Loop<'a> {
    fn deadline(&self) -> Option<Instant> {
        match self.config.stopping {
            Stopping::Duration(d) => Some(self.ctx.start + d),
            Stopping::Requests(_) => None,
        }
    }

    /// A request-count run ends once every request was issued and answered.
    fn proceed(&mut self) -> bool {
        self.budget > 0 || self.in_flight > 0
    }

    fn on_event(&mut self, i: usize, event: &Event, buf: &mut [u8]) {
        match self.conns[i].phase {
            Phase::Connecting => self.on_connecting(i),
            Phase::Open => {
                if engine::is_readable(event) {
                    self.on_readable(i, buf);
                }
                if event.is_writable() && self.conns[i].phase == Phase::Open {
                    self.flush(i);
                }
            }
            Phase::Backoff | Phase::Done => {}
        }
    }

    fn timers(&mut self) -> Option<&mut Timers> {
        Some(&mut self.timers)
    }

    fn on_timer(&mut self, i: usize, now: Instant) {
        self.conns[i].timer_armed = false;
        match self.conns[i].phase {
            Phase::Backoff => self.connect(i, now),
            Phase::Open => self.pump(i, now),
            Phase::Connecting | Phase::Done => {}
        }
    }

    /// Fails connects and requests older than the timeout.
    fn sweep(&mut self, now: Instant) {
        let timeout = self.ctx.config.timeout;
        for i in 0..self.conns.len() {
            let conn = &self.conns[i];
            match conn.phase {
                Phase::Connecting if now - conn.since > timeout => {
                    self.recorder.error(ErrorKind::Connect, 1);
                    self.conns[i].stream = None;
                    self.backoff(i, now);
                }
                Phase::Open
                    if conn
                        .sent
                        .front()
                        .is_some_and(|&at| now.saturating_duration_since(at) > timeout) =>
                {
                    self.replace(i, Some(ErrorKind::Timeout));
                }
                _ => {}
            }
        }
    }

    fn publish(&self) {
        self.ctx.publish(&self.recorder, self.open);
    }
}

impl Loop<'_> {
    fn run(&mut self, poll: &mut Poll) -> io::Result<ThreadResult> {
        let now = Instant::now();
        for i in 0..self.conns.len() {
            self.connect(i, now);
        }
        engine::drive(self.ctx, poll, self)?;
        self.recorder.starved = self.conns.iter().filter(|c| !c.answered).count() as u64;
        Ok(self.ctx.finish(&mut self.recorder, self.open, 0, 0))
    }

    fn connect(&mut self, i: usize, now: Instant) {
        if self.budget == 0 {
            self.conns[i].phase = Phase::Done;
            return;
        }
        let result = self.ctx.connect(&self.registry, i, self.conns[i].global);
        let conn = &mut self.conns[i];
        match result {
            Ok(stream) => {
                conn.stream = Some(stream);
                conn.phase = Phase::Connecting;
                conn.since = now;
            }
            Err(_) => {
                self.recorder.error(ErrorKind::Connect, 1);
                self.backoff(i, now);
            }
        }
    }

    fn backoff(&mut self, i: usize, now: Instant) {
        let conn = &mut self.conns[i];
        conn.phase = Phase::Backoff;
        if !conn.timer_armed {
            conn.timer_armed = true;
            self.timers.arm(now + BACKOFF, i);
        }
    }

    /// Closes connection `i` and replaces it. After a `failure`, its requests in flight
    /// count as errors of that kind (at least one) and it reconnects after a pause;
    /// after an orderly close it reconnects at once, and a request-count run issues its
    /// requests in flight again.
    fn replace(&mut self, i: usize, failure: Option<ErrorKind>) {
        let now = Instant::now();
        let conn = &mut self.conns[i];
        let lost = conn.sent.len() as u64;
        match failure {
            Some(kind) => self.recorder.error(kind, lost.max(1)),
            None if self.budget != u64::MAX => self.budget += lost,
            None => {}
        }
        if conn.phase == Phase::Open {
            self.open -= 1;
        }
        self.in_flight -= conn.sent.len();
        conn.sent.clear();
        conn.unsent = 0;
        conn.partial = 0;
        conn.write_blocked = false;
        conn.reader.reset();
        conn.stream = None; // dropping the socket closes it and leaves the poll set
        if failure.is_some() {
            self.backoff(i, now);
        } else {
            self.connect(i, now);
        }
    }

    fn on_connecting(&mut self, i: usize) {
        let Some(stream) = &self.conns[i].stream else {
            return;
        };
        match net::connect_finished(stream) {
            Ok(false) => {}
            Ok(true) => {
                let now = Instant::now();
                let conn = &mut self.conns[i];
                self.recorder.connected(micros(now - conn.since));
                conn.phase = Phase::Open;
                self.open += 1;
                // Requests are small and seldom meet a full socket buffer: listen for
                // writability only when a write would block, so acknowledgements do not
                // wake the loop.
                if let Err(err) = self.interest(i, Interest::READABLE) {
                    return self.replace(i, Some(net::classify(&err)));
                }
                self.pump(i, now);
            }
            Err(_) => {
                self.recorder.error(ErrorKind::Connect, 1);
                self.conns[i].stream = None;
                self.backoff(i, Instant::now());
            }
        }
    }

    /// Issues as many requests as the pipeline, the budget and the schedule allow.
    fn pump(&mut self, i: usize, now: Instant) {
        let conn = &mut self.conns[i];
        let room = self.config.pipeline - conn.sent.len();
        let mut issued = 0;
        if self.config.rate.is_some() {
            while issued < room && self.budget > 0 && conn.next_send <= now {
                conn.sent.push_back(conn.next_send);
                conn.next_send += self.interval;
                issued += 1;
                self.budget -= 1;
            }
            if issued < room && self.budget > 0 && !conn.timer_armed {
                conn.timer_armed = true;
                self.timers.arm(conn.next_send, i);
            }
        } else {
            while issued < room && self.budget > 0 {
                conn.sent.push_back(now);
                issued += 1;
                self.budget -= 1;
            }
        }
        if issued > 0 {
            self.in_flight += issued;
            conn.unsent += issued * self.request_len;
            self.flush(i);
        }
    }

    fn interest(&mut self, i: usize, interest: Interest) -> io::Result<()> {
        let Some(stream) = self.conns[i].stream.as_mut() else {
            return Ok(());
        };
        self.registry.reregister(stream, Token(i), interest)
    }

    fn flush(&mut self, i: usize) {
        let conn = &mut self.conns[i];
        let Some(stream) = conn.stream.as_mut() else {
            return;
        };
        let blocked_before = conn.write_blocked;
        while conn.unsent > 0 {
            let owed = &self.block[conn.partial..conn.partial + conn.unsent];
            match stream.write(owed) {
                Ok(written) => {
                    conn.unsent -= written;
                    conn.partial = (conn.partial + written) % self.request_len;
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    conn.write_blocked = true;
                    if !blocked_before {
                        let both = Interest::READABLE | Interest::WRITABLE;
                        if let Err(err) = self.interest(i, both) {
                            self.replace(i, Some(net::classify(&err)));
                        }
                    }
                    return;
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return self.replace(i, Some(net::classify(&err))),
            }
        }
        if blocked_before {
            conn.write_blocked = false;
            if let Err(err) = self.interest(i, Interest::READABLE) {
                self.replace(i, Some(net::classify(&err)));
            }
        }
    }

    fn on_readable(&mut self, i: usize, buf: &mut [u8]) {
        let head = self.config.head;
        loop {
            let conn = &mut self.conns[i];
            let Some(stream) = conn.stream.as_mut() else {
                return;
            };
            let n = match stream.read(buf) {
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return self.replace(i, Some(net::classify(&err))),
            };
            let now = Instant::now();
            let Conn { sent, reader, .. } = conn;
            let recorder = &mut self.recorder;
            let mut completed = 0usize;
            let mut unsolicited = false;
            let mut close = false;
            let mut on_response = |done: Completed| match sent.pop_front() {
                Some(at) => {
                    completed += 1;
                    if done.succeeded() {
                        recorder.request(micros(now.saturating_duration_since(at)));
                    } else {
                        recorder.error(ErrorKind::HttpStatus, 1);
                    }
                    close |= done.close;
                }
                None => unsolicited = true,
            };
            if n == 0 {
                reader.eof(&mut on_response);
                self.in_flight -= completed;
                let owed = !self.conns[i].sent.is_empty() || !self.conns[i].reader.is_idle();
                return self.replace(i, owed.then_some(ErrorKind::Reset));
            }
            let malformed = reader.feed(&buf[..n], head, &mut on_response).is_err();
            self.in_flight -= completed;
            if malformed || unsolicited {
                return self.replace(i, Some(ErrorKind::Mismatch));
            }
            if completed > 0 {
                self.conns[i].answered = true;
            }
            if close || self.config.close {
                // Requests pipelined behind a closing response go out again on the
                // next connection.
                return self.replace(i, None);
            } else if completed > 0 {
                self.pump(i, now);
            }
            if n < buf.len() {
                break; // a short read drained the socket; the next data brings a new edge
            }
        }
    }
}
