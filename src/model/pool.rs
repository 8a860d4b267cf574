//! A model's fixed pool of worker threads (prethread, threadpool), kept at its size.
//!
//! The threads are detached: a model returns once stopped, and the process exit that
//! follows ends any thread still busy with a client, which is what makes "stop within
//! a second" hold even while a client keeps a worker waiting.

use std::io;
use std::thread::JoinHandle;

use crate::log::RateLimited;

/// A blocking worker serves one connection at a time and keeps its buffers on the
/// heap; the stack is for `/db`, whose blocking driver runs a runtime on the calling
/// thread (an unoptimised build's connect overflows 64 KiB). The worker touches a few
/// pages of it; the rest is address space, never memory.
pub(crate) const WORKER_STACK: usize = crate::work::pool::POOL_THREAD_STACK;

static SPAWN_FAILED: RateLimited = RateLimited::new();
static REPLACED: RateLimited = RateLimited::new();

/// Worker threads named `name`, each running `work`.
pub(crate) struct Pool<F> {
    name: &'static str,
    size: usize,
    work: F,
    /// The threads started; dropping the pool detaches them.
    threads: Vec<JoinHandle<()>>,
}

impl<F> Pool<F>
where
    F: Fn() + Clone + Send + 'static,
{
    /// Starts `size` threads. A thread that cannot be started is reported and skipped
    /// (and started later by [`Self::replace_exited`]); failing to start any is an
    /// error.
    pub(crate) fn start(size: usize, name: &'static str, work: F) -> io::Result<Self> {
        let mut pool = Pool {
            name,
            size,
            work,
            threads: Vec::with_capacity(size),
        };
        pool.fill();
        if pool.threads.is_empty() {
            return Err(io::Error::other(format!(
                "could not start any {name} thread"
            )));
        }
        Ok(pool)
    }

    /// Starts a thread for each one that has exited (its work panicked), as prefork
    /// replaces a child process that died, so the pool keeps serving at its size.
    /// Returns how many were started.
    pub(crate) fn replace_exited(&mut self) -> usize {
        let before = self.threads.len();
        self.threads.retain(|thread| !thread.is_finished());
        if self.threads.len() < before {
            REPLACED.warn(format_args!(
                "{} of the {} threads exited; starting others",
                before - self.threads.len(),
                self.name
            ));
        }
        let running = self.threads.len();
        self.fill();
        self.threads.len() - running
    }

    /// Starts threads up to the pool's size.
    fn fill(&mut self) {
        while self.threads.len() < self.size {
            let spawned = std::thread::Builder::new()
                .name(self.name.into())
                .stack_size(WORKER_STACK)
                .spawn(self.work.clone());
            match spawned {
                Ok(thread) => self.threads.push(thread),
                Err(err) => {
                    SPAWN_FAILED.warn(format_args!("cannot start a {} thread: {err}", self.name));
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;

    /// The threads of `pool` still running.
    fn running<F>(pool: &Pool<F>) -> usize {
        pool.threads.iter().filter(|t| !t.is_finished()).count()
    }

    /// Waits until `done()` holds, failing the test after 10 s.
    fn wait_for(mut done: impl FnMut() -> bool) {
        let give_up = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < give_up, "timed out");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_worker_that_died_is_replaced() {
        let started = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(AtomicBool::new(false));
        let (count, stay) = (Arc::clone(&started), Arc::clone(&release));
        // The first two workers die; those that replace them stay until released.
        let mut pool = Pool::start(2, "test-pool", move || {
            if count.fetch_add(1, Ordering::SeqCst) < 2 {
                panic!("a worker dying on purpose (pool test)");
            }
            while !stay.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        })
        .unwrap();
        wait_for(|| running(&pool) == 0);
        assert_eq!(pool.replace_exited(), 2);
        wait_for(|| started.load(Ordering::SeqCst) == 4);
        assert_eq!(running(&pool), 2);
        assert_eq!(pool.replace_exited(), 0, "a running worker is not replaced");
        release.store(true, Ordering::SeqCst);
    }
}
