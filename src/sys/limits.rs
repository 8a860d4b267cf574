//! Resource limits: getrlimit(2) and setrlimit(2) on RLIMIT_NOFILE, and a descriptor
//! table sized to the limit up front.

use std::os::fd::{AsRawFd, RawFd};

use nix::fcntl::{fcntl, FcntlArg};
use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Raises the soft limit on open descriptors to the hard limit (many systems start
/// processes at 1024 while allowing far more), grows the descriptor table to hold
/// that many ([`reserve_descriptor_table`]), and returns the limit now in force.
pub fn raise_nofile() -> u64 {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024;
    };
    let limit = if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    reserve_descriptor_table(limit);
    limit
}

/// Grows this process's descriptor table to `count` entries now, so that it does not
/// grow while the process serves or loads.
///
/// The kernel doubles the table as descriptors are opened (at 256, 512, 1,024, ...),
/// and where several threads share it, each doubling waits for an RCU grace period
/// (`expand_fdtable`) while every thread that opens a descriptor waits behind it: a
/// server thread accepting, or a client connecting: stalls in the `uring` model's
/// io_uring_enter while it took connections (docs/results.md, *The tail of holding
/// many connections*). Opening
/// one descriptor at the top of the range grows the table once, before any thread
/// waits on it; it never shrinks, and costs 8 bytes of kernel memory per entry.
pub fn reserve_descriptor_table(count: u64) {
    let Ok(probe) = std::fs::File::open("/dev/null") else {
        return;
    };
    let highest = RawFd::try_from(count.saturating_sub(1)).unwrap_or(RawFd::MAX);
    // F_DUPFD takes the lowest free descriptor at or above `highest`; closing it
    // leaves the table as large as it grew.
    if let Ok(fd) = fcntl(probe.as_raw_fd(), FcntlArg::F_DUPFD(highest)) {
        let _ = nix::unistd::close(fd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel reports the table's size as FDSize; the descriptor that grew it is
    /// closed again (the test runs beside others, so open descriptors are not counted).
    #[test]
    fn the_table_is_grown_to_the_limit() {
        let limit = raise_nofile();
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let fd_size: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("FDSize:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap();
        assert!(fd_size >= limit, "FDSize {fd_size} below the limit {limit}");
    }
}
