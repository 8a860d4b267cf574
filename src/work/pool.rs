//! Seed 004's hybrid: an event loop keeps the network, and a pool of threads carries
//! out the work that blocks (seed 004: "threads can be used to access blocking
//! resources, such as a database").
//!
//! A loop makes one [`Completions`] for itself and registers it with its poller (it is
//! readable once an item of its has finished). It sends each work item to the
//! [`WorkPool`] with a token naming the connection ([`WorkPool::submit`]); a pool thread
//! carries it out as a blocking call ([`super::block()`]), puts the token in that
//! loop's queue and wakes the loop through an eventfd. Woken, the loop takes every
//! finished token ([`Completions::take`]) and finishes those connections' requests.
//! One pool may serve several loops: each item goes back to the loop that sent it.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender};

use crate::protocol::{Outcome, Work};
use crate::sys::waker::Waker;

/// A pool thread's stack: it burns with a buffer of a few hundred bytes, sleeps, or
/// reads the database with the blocking `postgres` driver, which connects and queries
/// through a runtime on the calling thread (an unoptimised build's connect overflows
/// 64 KiB): as much as a per-connection thread of `threads` has. A thread touches a
/// few pages of it; the rest is address space, never memory.
pub const POOL_THREAD_STACK: usize = 256 * 1024;

/// The most threads a pool may have (`serve --offload`'s bound).
pub const MAX_THREADS: usize = 4096;

/// Finished work items (each token with what its work came back with) on their way
/// back to the loop that sent them.
#[derive(Debug)]
pub struct Completions {
    finished: Mutex<Vec<(usize, Outcome)>>,
    wake: Waker,
}

impl Completions {
    /// A queue for one loop; register it with the loop's poller for reading.
    pub fn new() -> io::Result<Arc<Completions>> {
        Ok(Arc::new(Completions {
            finished: Mutex::new(Vec::new()),
            wake: Waker::new()?,
        }))
    }

    /// Moves the tokens of every item finished since the last call into `into` (in the
    /// order they finished), and rearms the wake-up: a later item wakes the loop again.
    pub fn take(&self, into: &mut Vec<(usize, Outcome)>) {
        // Reset before taking, so an item queued after the take finds the eventfd
        // clear and sets it again.
        self.wake.reset();
        let mut finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        into.append(&mut finished);
    }

    /// Queues a finished token, waking the loop if the queue was empty (if not, the
    /// loop has a wake-up pending already).
    fn push(&self, token: usize, outcome: Outcome) {
        let was_empty = {
            let mut finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
            finished.push((token, outcome));
            finished.len() == 1
        };
        if was_empty {
            self.wake.wake();
        }
    }
}

impl AsFd for Completions {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }
}

/// A work item, the connection it is for, and the loop to hand it back to.
struct Job {
    work: Work,
    token: usize,
    done: Arc<Completions>,
}

/// N threads that carry out work items as blocking calls.
///
/// Dropping the pool lets its threads exit once their current item is done, without
/// waiting for them: a stopping server must not wait out a long wait.
#[derive(Debug)]
pub struct WorkPool {
    jobs: Sender<Job>,
    threads: usize,
}

impl WorkPool {
    /// Starts `threads` threads (1 to [`MAX_THREADS`]).
    pub fn new(threads: usize) -> io::Result<WorkPool> {
        if !(1..=MAX_THREADS).contains(&threads) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a work pool has 1 to {MAX_THREADS} threads, not {threads}"),
            ));
        }
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for _ in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name("work".into())
                .stack_size(POOL_THREAD_STACK)
                .spawn(move || serve(&queue))?;
        }
        Ok(WorkPool { jobs, threads })
    }

    /// How many threads it has.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Queues `work` for connection `token`; once done, `token` appears in `done`.
    pub fn submit(&self, work: Work, token: usize, done: &Arc<Completions>) {
        let job = Job {
            work,
            token,
            done: Arc::clone(done),
        };
        // The threads hold the receiving end until the pool is dropped: cannot fail.
        let _ = self.jobs.send(job);
    }
}

/// A pool thread: carries items out until the pool is dropped.
fn serve(queue: &Receiver<Job>) {
    while let Ok(job) = queue.recv() {
        let outcome = super::block(job.work);
        job.done.push(job.token, outcome);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

    use super::*;

    /// Waits (at most 10 s) until `done` is readable, then takes what finished.
    fn wait_and_take(done: &Completions, into: &mut Vec<usize>) {
        let mut fds = [PollFd::new(done.as_fd(), PollFlags::POLLIN)];
        let ready = poll(&mut fds, PollTimeout::from(10_000u16)).unwrap();
        assert_eq!(ready, 1, "no wake-up within 10 s");
        let mut finished = Vec::new();
        done.take(&mut finished);
        for (token, outcome) in finished {
            assert_eq!(outcome, Outcome::Done);
            into.push(token);
        }
    }

    #[test]
    fn n_threads_overlap_n_waits_and_hand_every_token_back() {
        let pool = WorkPool::new(8).unwrap();
        let done = Completions::new().unwrap();
        let started = Instant::now();
        for token in 0..8 {
            pool.submit(Work::Wait(Duration::from_millis(300)), token, &done);
        }
        let mut finished = Vec::new();
        while finished.len() < 8 {
            wait_and_take(&done, &mut finished);
        }
        let elapsed = started.elapsed();
        finished.sort_unstable();
        assert_eq!(finished, (0..8).collect::<Vec<_>>());
        // One after another they would take 2.4 s.
        assert!(elapsed < Duration::from_millis(1500), "took {elapsed:?}");
        assert!(elapsed >= Duration::from_millis(300));
    }

    #[test]
    fn each_item_goes_back_to_the_loop_that_sent_it() {
        let pool = WorkPool::new(2).unwrap();
        let (first, second) = (Completions::new().unwrap(), Completions::new().unwrap());
        pool.submit(Work::Cpu(Duration::from_micros(100)), 1, &first);
        pool.submit(Work::Wait(Duration::from_millis(1)), 2, &second);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        wait_and_take(&first, &mut a);
        wait_and_take(&second, &mut b);
        assert_eq!((a, b), (vec![1], vec![2]));
    }

    #[test]
    fn a_taken_queue_stops_waking_until_the_next_item() {
        let pool = WorkPool::new(1).unwrap();
        let done = Completions::new().unwrap();
        pool.submit(Work::Wait(Duration::from_millis(1)), 7, &done);
        let mut finished = Vec::new();
        wait_and_take(&done, &mut finished);
        let mut fds = [PollFd::new(done.as_fd(), PollFlags::POLLIN)];
        assert_eq!(poll(&mut fds, PollTimeout::ZERO).unwrap(), 0, "rearmed");
        pool.submit(Work::Wait(Duration::from_millis(1)), 8, &done);
        wait_and_take(&done, &mut finished);
        assert_eq!(finished, [7, 8]);
    }

    #[test]
    fn a_pool_has_one_thread_at_least() {
        assert!(WorkPool::new(0).is_err());
        assert_eq!(WorkPool::new(3).unwrap().threads(), 3);
    }
}
