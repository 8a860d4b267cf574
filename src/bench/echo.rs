//! The `echo` workload (seed 000's client, done right): W workers on the event loops,
//! each doing R rounds of connect, M messages of S bytes (each one sent, echoed in full
//! and checked byte for byte before the next), close. It records connect time, message
//! round-trip time and whole-session time, and counts mismatches.

use std::io::{self, Read, Write};
use std::time::Instant;

use mio::event::Event;
use mio::{Poll, Registry};

use super::config::EchoConfig;
use super::engine::{self, EngineWorkload, ThreadCtx, ThreadResult, READ_BUF};
use super::{net, pattern};
use crate::stats::histogram::micros;
use crate::stats::{ErrorKind, Recorder};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Running,
    Done,
}

#[derive(Debug)]
struct Worker {
    stream: Option<mio::net::TcpStream>,
    phase: Phase,
    round: u32,
    message: u32,
    /// Bytes of the current message written, and echoed back and verified.
    written: usize,
    verified: usize,
    connect_start: Instant,
    message_start: Instant,
    global: usize,
}

struct Loop<'a> {
    ctx: ThreadCtx<'a>,
    config: &'a EchoConfig,
    registry: Registry,
    workers: Vec<Worker>,
    recorder: Recorder,
    scratch: Vec<u8>,
    deadline: Option<Instant>,
    open: usize,
    active: usize,
    /// Workers waiting to connect: a queue rather than a call, so that a run of
    /// failed connects is a loop, not a recursion.
    to_connect: Vec<usize>,
}

/// Runs this thread's share of the workers until their rounds are done.
pub fn run_thread(ctx: ThreadCtx<'_>, config: &EchoConfig) -> io::Result<ThreadResult> {
    let (count, first) = ctx.share(config.workers);
    let start = ctx.start;
    let workers = (0..count)
        .map(|i| Worker {
            stream: None,
            phase: Phase::Done,
            round: 0,
            message: 0,
            written: 0,
            verified: 0,
            connect_start: start,
            message_start: start,
            global: first + i,
        })
        .collect();
    let (mut poll, registry) = engine::poller()?;
    let mut this = Loop {
        ctx,
        config,
        registry,
        workers,
        recorder: Recorder::new(),
        scratch: vec![0; config.size.min(READ_BUF)],
        deadline: config.duration.map(|d| start + d),
        open: 0,
        active: count,
        to_connect: (0..count).rev().collect(),
    };
    this.run(&mut poll)
}

impl<'a> EngineWorkload for Loop<'a> {
    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Connects the workers whose turn it is; the run ends with the last worker's rounds.
    fn proceed(&mut self) -> bool {
        while let Some(i) = self.to_connect.pop() {
            self.connect(i, Instant::now());
        }
        self.active > 0
    }

    fn on_event(&mut self, i: usize, event: &Event, buf: &mut [u8]) {
        match self.workers[i].phase {
            Phase::Connecting => self.on_connecting(i),
            Phase::Running => {
                if engine::is_readable(event) {
                    self.on_readable(i, buf);
                }
                if event.is_writable() && self.workers[i].phase == Phase::Running {
                    self.write_more(i);
                }
            }
            Phase::Done => {}
        }
    }

    fn sweep(&mut self, now: Instant) {
        let timeout = self.ctx.config.timeout;
        for i in 0..self.workers.len() {
            let w = &self.workers[i];
            match w.phase {
                Phase::Connecting if now - w.connect_start > timeout => {
                    self.fail(i, ErrorKind::Connect)
                }
                Phase::Running if now - w.message_start > timeout => {
                    self.fail(i, ErrorKind::Timeout)
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
        engine::drive(self.ctx, poll, self)?;
        Ok(self.ctx.finish(&mut self.recorder, self.open, 0, 0))
    }

    fn connect(&mut self, i: usize, now: Instant) {
        let result = self.ctx.connect(&self.registry, i, self.workers[i].global);
        match result {
            Ok(stream) => {
                let w = &mut self.workers[i];
                w.stream = Some(stream);
                w.phase = Phase::Connecting;
                w.connect_start = now;
            }
            Err(_) => self.fail(i, ErrorKind::Connect),
        }
    }

    /// Ends the current round (closing its connection) and starts the next, if any.
    fn next_round(&mut self, i: usize) {
        let w = &mut self.workers[i];
        if w.phase == Phase::Running {
            self.open -= 1;
        }
        w.stream = None;
        w.round += 1;
        let now = Instant::now();
        if w.round >= self.config.rounds || self.deadline.is_some_and(|d| now >= d) {
            w.phase = Phase::Done;
            self.active -= 1;
        } else {
            self.to_connect.push(i);
        }
    }

    fn fail(&mut self, i: usize, kind: ErrorKind) {
        self.recorder.error(kind, 1);
        self.next_round(i);
    }

    fn on_connecting(&mut self, i: usize) {
        let Some(stream) = &self.workers[i].stream else {
            return;
        };
        match net::connect_finished(stream) {
            Ok(false) => {}
            Ok(true) => {
                let now = Instant::now();
                let w = &mut self.workers[i];
                self.recorder.connected(micros(now - w.connect_start));
                w.phase = Phase::Running;
                w.message = 0;
                self.open += 1;
                self.start_message(i, now);
            }
            Err(_) => self.fail(i, ErrorKind::Connect),
        }
    }

    fn start_message(&mut self, i: usize, now: Instant) {
        let w = &mut self.workers[i];
        w.written = 0;
        w.verified = 0;
        w.message_start = now;
        self.write_more(i);
    }

    fn write_more(&mut self, i: usize) {
        let size = self.config.size;
        let w = &mut self.workers[i];
        let Some(stream) = w.stream.as_mut() else {
            return;
        };
        let seed = pattern::seed(w.global, w.round, w.message);
        while w.written < size {
            let chunk = (size - w.written).min(self.scratch.len());
            pattern::fill(seed, w.written, &mut self.scratch[..chunk]);
            match stream.write(&self.scratch[..chunk]) {
                Ok(n) => w.written += n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return self.fail(i, net::classify(&err)),
            }
        }
    }

    fn on_readable(&mut self, i: usize, buf: &mut [u8]) {
        let size = self.config.size;
        loop {
            let w = &mut self.workers[i];
            let Some(stream) = w.stream.as_mut() else {
                return;
            };
            let n = match stream.read(buf) {
                Ok(0) => return self.fail(i, ErrorKind::Reset),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return self.fail(i, net::classify(&err)),
            };
            let seed = pattern::seed(w.global, w.round, w.message);
            // More bytes than were sent, or different ones: not an echo.
            if w.verified + n > w.written || !pattern::matches(seed, w.verified, &buf[..n]) {
                return self.fail(i, ErrorKind::Mismatch);
            }
            w.verified += n;
            if w.verified == size {
                let now = Instant::now();
                self.recorder.request(micros(now - w.message_start));
                w.message += 1;
                if w.message == self.config.messages {
                    self.recorder.session(micros(now - w.connect_start));
                    return self.next_round(i);
                }
                self.start_message(i, now);
            }
            if n < buf.len() {
                return;
            }
        }
    }
}
