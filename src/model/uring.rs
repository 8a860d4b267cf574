//! `uring`: io_uring, one ring per thread, N threads each with its own SO_REUSEPORT
//! listener (beyond the seeds).
//!
//! Completion-based: instead of asking which sockets are ready and then reading, the
//! thread keeps operations queued in the kernel and reaps their results. One multishot
//! accept per listener yields every new connection; one multishot receive per
//! connection yields its requests, each in a buffer the kernel takes from the thread's
//! provided-buffer ring (an idle connection owns none); replies are queued as sends
//! and submitted in a batch with the next wait, so a busy thread makes one system call
//! (io_uring_enter) per batch of requests rather than several per request.
//!
//! Each reactor gives the memory of finished connections back once their number has
//! fallen ([`IdleTrim`], looked at with the deadline sweep).
//!
//! Where io_uring is unavailable (an old kernel, `kernel.io_uring_disabled`, seccomp)
//! the model refuses at start-up with a clear error and exit code 2.

use std::io;
use std::net::TcpListener;
use std::time::Instant;

use slab::Slab;

use super::trim::IdleTrim;
use super::{reuseport, Family, ModelInfo, Workers};
use crate::cli::usage;
use crate::conn::accept::{self, AcceptError};
use crate::conn::completion::{SparePool, UringConn};
use crate::conn::ready::Sweeper;
use crate::conn::ConnOptions;
use crate::server::{Server, Stop, STOP_POLL};
use crate::sys::uring::{Completion, Ring};

pub static INFO: ModelInfo = ModelInfo {
    name: "uring",
    family: Family::Completion,
    workers: Workers::Cpus,
    mechanism: "io_uring: multishot accept and receive, provided buffers",
    origin: "beyond",
    reuse_port: true,
    run,
};

/// Submission queue entries per ring.
const RING_ENTRIES: u32 = 4096;
/// Provided buffers per ring, and their size: received bytes wait here only until the
/// session has consumed them.
const BUFFERS: u16 = 512;
const BUFFER_LEN: usize = 4096;

fn run(server: Server) -> io::Result<()> {
    if let Err(err) = Ring::new(8, 1, 64) {
        let refusal = usage(format!(
            "uring: io_uring is not available here ({err}); use another model"
        ));
        return Err(io::Error::other(
            refusal
                .downcast::<crate::UsageError>()
                .expect("usage error"),
        ));
    }
    reuseport::run_reactors(server, reactor)
}

/// One ring serving the connections of `listener` until `stop` is set.
fn reactor(listener: TcpListener, opts: ConnOptions, stop: &Stop) -> io::Result<()> {
    let mut ring = Ring::new(RING_ENTRIES, BUFFERS, BUFFER_LEN)?;
    let mut conns: Slab<UringConn> = Slab::new();
    let mut spares = SparePool::default();
    let mut completions = Vec::new();
    let mut touched = Vec::new();
    let mut accepting = false;
    let mut pause = accept::Pause::default();
    let mut sweeper = Sweeper::new(Instant::now());
    let mut trim = IdleTrim::new();
    while !stop.is_set() {
        let now = Instant::now();
        pause.resume_due(now);
        if !accepting && !pause.is_paused() {
            ring.accept_multi(&listener)?;
            accepting = true;
        }
        ring.submit_and_wait(STOP_POLL)?;
        ring.completions(&mut completions);
        let now = Instant::now();
        for completion in completions.drain(..) {
            match completion {
                Completion::Accepted { result, more } => {
                    accepting = more;
                    match result {
                        Ok(stream) => {
                            if let Ok(conn) = UringConn::new(stream, &opts, now) {
                                touched.push(conns.insert(conn));
                            }
                        }
                        Err(err) => {
                            if accept::classify(&err) == AcceptError::Backoff {
                                pause.start(now);
                            }
                        }
                    }
                }
                Completion::Received {
                    conn: key,
                    result,
                    buf,
                    more,
                } => {
                    let conn = conns
                        .get_mut(key)
                        .expect("a receive in flight keeps its connection");
                    if let (Some(buf), Ok(n)) = (buf, &result) {
                        conn.absorb(ring.buffer(buf, *n), &opts, &mut spares, now);
                    }
                    if let Some(buf) = buf {
                        ring.recycle(buf);
                    }
                    if matches!(result, Ok(0)) {
                        conn.on_eof();
                    }
                    if !more {
                        let fatal = result.as_ref().is_err_and(|err| {
                            !matches!(err.raw_os_error(), Some(libc::ENOBUFS | libc::ECANCELED))
                        });
                        conn.on_recv_ended(fatal);
                    }
                    touched.push(key);
                }
                Completion::Sent {
                    conn: key,
                    result,
                    buf,
                } => {
                    let conn = conns
                        .get_mut(key)
                        .expect("a send in flight keeps its connection");
                    conn.on_sent(key, result, buf, &mut ring, &mut spares)?;
                    touched.push(key);
                }
            }
        }
        if sweeper.due(now) {
            for (key, conn) in conns.iter_mut() {
                conn.expire(now);
                touched.push(key);
            }
            trim.observe(conns.len());
        }
        for key in touched.drain(..) {
            let Some(conn) = conns.get_mut(key) else {
                continue;
            };
            conn.advance(key, &mut ring, &opts, &mut spares, now)?;
            if conn.can_drop() {
                drop(conns.remove(key));
            }
        }
    }
    // The ring first: it cancels what is in flight before the sockets close.
    drop(ring);
    Ok(())
}
