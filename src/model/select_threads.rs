//! `select-threads`: select(2) reads, N sender threads write (seed 000's "select and
//! pre-threads").
//!
//! One thread select()s over the listener and every connection, reads, and runs each
//! connection's session; the replies go through a queue to the sender threads, so a
//! slow send never holds up reading. Unlike the seed (one queue, any thread, one
//! `send` whose remainder is dropped):
//!
//! - each connection's replies always go to the same sender (by connection number), so
//!   they are written in order;
//! - a sender that meets a full socket keeps the rest and goes on with other
//!   connections, waiting with poll(2) until the socket takes more;
//! - the reader stops reading a connection whose queued, unsent replies exceed the
//!   output high-water mark, and a sender wakes it when they drain
//!   ([`Outbox`](crate::conn::handoff::Outbox));
//! - idle/header timeouts and the lingering close still apply: the reader lingers once
//!   the sender has written the last reply and shut the sending side down;
//! - a sender gives up on a connection whose socket took none of its replies for the
//!   write timeout (a client that never reads), and the reader drops it too.
//!
//! The reading and the sending machinery is [`crate::conn::handoff`]'s; this file
//! holds the select(2) call and the sender threads' plumbing.
//!
//! Work is the reader's, as in any event loop: without `--offload`, a wait is a timer
//! of the reader folded into select's timeout and `/cpu` burns on the reader (the
//! senders only write), and a query goes down the reader's own pipelined PostgreSQL
//! connection, in its read set; `--offload N` puts a pool's queue there instead.

use std::io;
use std::net::TcpListener;
use std::os::fd::AsFd;

use nix::sys::select::{select, FdSet};

use super::{Family, ModelInfo, OffloadUse, Workers};
use super::{Launch, Stop};
use crate::conn::handoff::{send_loop, ReaderLoop, SenderLink, Waker};
use crate::conn::offload::{LoopWork, Watched};
use crate::conn::scan::{fits_fd_set, timeval};
use crate::conn::ConnOptions;

pub static INFO: ModelInfo = ModelInfo {
    name: "select-threads",
    family: Family::Readiness,
    workers: Workers::Pool(4),
    mechanism: "select(2) reads; N sender threads write replies from queues",
    origin: "seed 000",
    reuse_port: false,
    descriptor_ceiling: Some(nix::sys::select::FD_SETSIZE),
    announces_when_ready: false,
    offload: OffloadUse::LoopOrPool,
    precheck: None,
    run,
};

fn run(launch: Launch) -> io::Result<()> {
    let workers = launch.workers;
    let (listener, opts, stop) = launch.into_event_loop()?;
    let reader_wake = Waker::new()?;
    let (links, queues): (Vec<_>, Vec<_>) = (0..workers.max(1))
        .map(|_| SenderLink::new())
        .collect::<io::Result<Vec<_>>>()?
        .into_iter()
        .unzip();
    std::thread::scope(|scope| {
        let senders: Vec<_> = queues
            .into_iter()
            .zip(&links)
            .map(|(replies, link)| {
                let (reader_wake, stop) = (&reader_wake, &stop);
                scope.spawn(move || send_loop(replies, link, reader_wake, opts, stop))
            })
            .collect();
        let result = read_loop(&listener, &links, &reader_wake, opts, &stop);
        // Senders stop with the server; an error here must stop them too.
        stop.set();
        for sender in senders {
            sender
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
        result
    })
}

/// The select thread: accepts, reads, runs the sessions, queues the replies.
fn read_loop(
    listener: &TcpListener,
    links: &[SenderLink],
    wake: &Waker,
    opts: ConnOptions,
    stop: &Stop,
) -> io::Result<()> {
    if !fits_fd_set(listener) || !fits_fd_set(&wake.as_fd()) {
        return Err(io::Error::other("the listener is not below FD_SETSIZE"));
    }
    let mut readers = ReaderLoop::new(links, opts, LoopWork::new(&opts, stop)?);
    let completions = readers.completions();
    if (completions.as_ref()).is_some_and(|done| !fits_fd_set(&done.as_fd())) {
        return Err(io::Error::other("the work queue is not below FD_SETSIZE"));
    }
    while !stop.is_set() {
        readers.catch_up();
        let done = completions.as_ref();
        let listener_ready = match select_readable(listener, wake, done, &mut readers) {
            Ok(ready) => ready,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(err) => return Err(err.into()),
        };
        readers.finish_turn(listener_ready.then_some(listener), fits_fd_set)?;
    }
    Ok(())
}

/// select(2) for reading over the reader's waker, the listener (unless paused), the
/// descriptor work comes back through (if any) and every connection that wants to
/// read: notes the readable connections in `readers.ready` and whether that descriptor
/// is, and says whether the listener is.
fn select_readable(
    listener: &TcpListener,
    wake: &Waker,
    completions: Option<&Watched>,
    readers: &mut ReaderLoop,
) -> nix::Result<bool> {
    let mut reads = FdSet::new();
    reads.insert(wake.as_fd());
    if !readers.pause.is_paused() {
        reads.insert(listener.as_fd());
    }
    let completions = completions.map(|done| done.as_fd());
    if let Some(done) = completions {
        reads.insert(done);
    }
    for (_, conn) in &readers.conns {
        if conn.wants_read() {
            reads.insert(conn.stream().as_fd());
        }
    }
    let mut timeout = timeval(readers.timeout());
    select(None, &mut reads, None, None, &mut timeout)?;
    readers.completed = completions.is_some_and(|done| reads.contains(done));
    readers.ready.extend(
        readers
            .conns
            .iter()
            .filter(|(_, conn)| reads.contains(conn.stream().as_fd()))
            .map(|(key, _)| key),
    );
    if reads.contains(wake.as_fd()) {
        // Senders made room or gave up: the next turn's catch-up sees what.
        wake.reset();
    }
    Ok(reads.contains(listener.as_fd()))
}
