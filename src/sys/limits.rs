//! Resource limits: getrlimit(2) and setrlimit(2) on RLIMIT_NOFILE.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Raises the soft limit on open descriptors to the hard limit (many systems start
/// processes at 1024 while allowing far more); returns the limit now in force.
pub fn raise_nofile() -> u64 {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024;
    };
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    }
}
