//! What a model does when accept(2) fails.
//!
//! Most failures concern one connection (it was reset before we took it) and are simply
//! skipped. Running out of descriptors or memory is different: the pending connection
//! stays queued, so retrying at once spins at 100% CPU. Mature servers back off and keep
//! serving the connections they have; so do we.

use std::io;
use std::time::Duration;

use crate::log::RateLimited;

/// How long to leave the listener alone after running out of descriptors.
pub const BACKOFF: Duration = Duration::from_millis(50);

/// The decision after a failed accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptError {
    /// No connection is waiting (non-blocking listener, or a blocking one's timeout).
    Empty,
    /// That connection is lost; try the next one now.
    Skip,
    /// A resource limit: stop accepting for [`BACKOFF`], keep serving.
    Backoff,
}

static LIMIT_WARNING: RateLimited = RateLimited::new();

/// Classifies an accept error, warning (rate-limited) about resource limits.
pub fn classify(err: &io::Error) -> AcceptError {
    match err.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EINTR) => AcceptError::Empty,
        Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS) | Some(libc::ENOMEM) => {
            LIMIT_WARNING.warn(format_args!(
                "accept: {err}; backing off, still serving open connections"
            ));
            AcceptError::Backoff
        }
        _ if err.kind() == io::ErrorKind::WouldBlock => AcceptError::Empty,
        _ => AcceptError::Skip,
    }
}
