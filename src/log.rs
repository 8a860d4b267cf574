//! Diagnostics on stderr: per-connection lines only under `-v`, and warnings that a
//! misbehaving peer could otherwise trigger thousands of times a second, rate-limited.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Turns per-connection logging on or off (`serve -v`).
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// Whether per-connection lines are wanted.
pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// A per-connection line, printed only under `-v`.
#[macro_export]
macro_rules! vlog {
    ($($arg:tt)*) => {
        if $crate::log::verbose() {
            eprintln!($($arg)*);
        }
    };
}

/// A warning printed at most once per second per call site (accept failing with EMFILE
/// would otherwise flood stderr).
pub struct RateLimited {
    last_second: AtomicU64,
}

impl RateLimited {
    pub const fn new() -> Self {
        RateLimited {
            last_second: AtomicU64::new(0),
        }
    }

    /// Prints `message` unless this limiter already printed in the current second.
    pub fn warn(&self, message: std::fmt::Arguments<'_>) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if self.last_second.swap(now, Ordering::Relaxed) != now {
            // One write(2) for the whole line: stderr is unbuffered, and the processes
            // of a forking model share it, so a line written in pieces interleaves.
            let line = format!("iomodels: {message}\n");
            let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
        }
    }
}

impl Default for RateLimited {
    fn default() -> Self {
        Self::new()
    }
}
