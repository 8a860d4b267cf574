//! Starting a model's fixed pool of worker threads (prethread, threadpool).
//!
//! The threads are detached: a model returns once stopped, and the process exit that
//! follows ends any thread still busy with a client, which is what makes "stop within
//! a second" hold even while a client keeps a worker waiting.

use std::io;

use crate::log::RateLimited;

/// A blocking worker serves one connection at a time and keeps its buffers on the
/// heap, so a small stack is enough.
pub(crate) const WORKER_STACK: usize = 64 * 1024;

static SPAWN_FAILED: RateLimited = RateLimited::new();

/// Starts `count` threads named `name`, each running `work`. A thread that cannot be
/// started is reported and skipped; failing to start any is an error.
pub(crate) fn spawn_workers<F>(count: usize, name: &str, work: F) -> io::Result<usize>
where
    F: Fn() + Clone + Send + 'static,
{
    let mut started = 0;
    for _ in 0..count {
        let work = work.clone();
        let spawned = std::thread::Builder::new()
            .name(name.into())
            .stack_size(WORKER_STACK)
            .spawn(work);
        match spawned {
            Ok(_) => started += 1,
            Err(err) => SPAWN_FAILED.warn(format_args!("cannot start a {name} thread: {err}")),
        }
    }
    if started == 0 {
        return Err(io::Error::other(format!(
            "could not start any {name} thread"
        )));
    }
    Ok(started)
}
