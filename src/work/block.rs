//! Carrying work out by blocking the calling thread: what a thread (or a process) that
//! serves one connection at a time does, and what a pool thread does for an event loop.

use std::time::Instant;

use super::cpu;
use crate::db;
use crate::protocol::{Outcome, Work};
use crate::sys::signal::{Stop, STOP_POLL};

/// Burns the CPU, sleeps through the wait, or queries the database on the thread's
/// own connection ([`db::client`]), on the calling thread.
pub fn block(work: Work) -> Outcome {
    match work {
        Work::Cpu(amount) => cpu::burn(amount),
        Work::Wait(amount) => std::thread::sleep(amount),
        Work::Db(query, url) => return db::read(query, url),
    }
    Outcome::Done
}

/// [`block`], for a thread that must also notice `stop` in time (the single-threaded
/// `blocking` model): a wait sleeps at most [`STOP_POLL`] at a time and ends early once
/// `stop` is set. `None` if it ended early. (A burn runs to its end: it is bounded by
/// [`crate::protocol::Handlers::MAX_CPU`], and a query by the database.)
pub fn block_unless_stopped(work: Work, stop: &Stop) -> Option<Outcome> {
    let Work::Wait(amount) = work else {
        return Some(block(work));
    };
    let until = Instant::now() + amount;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Some(Outcome::Done);
        }
        if stop.is_set() {
            return None;
        }
        std::thread::sleep(left.min(STOP_POLL));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_wait_blocks_for_its_amount() {
        let started = Instant::now();
        block(Work::Wait(Duration::from_millis(40)));
        assert!(started.elapsed() >= Duration::from_millis(40));
    }

    #[test]
    fn a_cpu_item_burns_the_threads_cpu() {
        let before = cpu::thread_cpu_time();
        block(Work::Cpu(Duration::from_millis(10)));
        assert!(cpu::thread_cpu_time() - before >= Duration::from_millis(10));
    }

    #[test]
    fn a_wait_ends_early_when_stopped() {
        let stop = Stop::new();
        assert_eq!(
            block_unless_stopped(Work::Wait(Duration::from_millis(20)), &stop),
            Some(Outcome::Done)
        );
        let setter = stop.clone();
        let started = Instant::now();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            setter.set();
        });
        assert_eq!(
            block_unless_stopped(Work::Wait(Duration::from_secs(30)), &stop),
            None
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
}
