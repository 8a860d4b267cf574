//! A wait an event loop expresses itself: a deadline per waiting connection, kept in a
//! min-heap, and folded into the loop's poll timeout, so a wait blocks nothing.
//!
//! A loop [`WaitTimers::add`]s `now + wait` for the connection, waits for events at most
//! [`WaitTimers::next_timeout`] (with its other bounds, such as the stop-flag period), and
//! after each wait takes every due token ([`WaitTimers::pop_due`]) and finishes those
//! connections' requests.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// Deadlines, each with the token of the connection waiting for it.
#[derive(Debug, Default)]
pub struct WaitTimers {
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
}

impl WaitTimers {
    pub fn new() -> Self {
        WaitTimers::default()
    }

    /// Connection `token` is due at `deadline`.
    pub fn add(&mut self, deadline: Instant, token: usize) {
        self.heap.push(Reverse((deadline, token)));
    }

    /// How long the loop may wait for events before the earliest deadline: zero if one
    /// is due, `None` without any. A poller that counts in milliseconds (epoll, poll)
    /// must round this up, or it wakes before the deadline and turns round idle until it.
    pub fn next_timeout(&self, now: Instant) -> Option<Duration> {
        self.heap
            .peek()
            .map(|Reverse((deadline, _))| deadline.saturating_duration_since(now))
    }

    /// The token of a connection whose deadline has come, earliest first; `None` once
    /// none is due.
    pub fn pop_due(&mut self, now: Instant) -> Option<usize> {
        match self.heap.peek() {
            Some(Reverse((deadline, _))) if *deadline <= now => {
                self.heap.pop().map(|Reverse((_, token))| token)
            }
            _ => None,
        }
    }

    /// How many deadlines are pending.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_deadline_sets_the_timeout_and_comes_out_first() {
        let now = Instant::now();
        let ms = Duration::from_millis;
        let mut timers = WaitTimers::new();
        assert_eq!(timers.next_timeout(now), None);
        timers.add(now + ms(30), 3);
        timers.add(now + ms(10), 1);
        timers.add(now + ms(20), 2);
        assert_eq!(timers.next_timeout(now), Some(ms(10)));
        assert_eq!(timers.pop_due(now + ms(5)), None, "none due yet");
        let later = now + ms(25);
        assert_eq!(timers.next_timeout(later), Some(Duration::ZERO));
        assert_eq!(timers.pop_due(later), Some(1));
        assert_eq!(timers.pop_due(later), Some(2));
        assert_eq!(timers.pop_due(later), None);
        assert_eq!(timers.len(), 1);
        assert_eq!(timers.next_timeout(later), Some(ms(5)));
        assert_eq!(timers.pop_due(now + ms(30)), Some(3));
        assert!(timers.is_empty());
    }

    #[test]
    fn equal_deadlines_all_come_out() {
        let now = Instant::now();
        let mut timers = WaitTimers::new();
        for token in [4, 2, 9] {
            timers.add(now, token);
        }
        let mut due: Vec<usize> = std::iter::from_fn(|| timers.pop_due(now)).collect();
        due.sort_unstable();
        assert_eq!(due, [2, 4, 9]);
    }
}
