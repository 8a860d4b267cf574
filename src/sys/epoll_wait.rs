//! Waiting on an epoll set with a timeout in nanoseconds: epoll_pwait2(2) (Linux 5.11),
//! so an event loop whose next deadline is 9.3 ms away sleeps 9.3 ms, not the 10 ms
//! that epoll_wait(2)'s whole milliseconds would round it up to. On an older kernel
//! (ENOSYS) it falls back to epoll_wait(2), the timeout rounded up to a millisecond.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::epoll::{Epoll, EpollEvent, EpollTimeout};

/// Set once epoll_pwait2 answered ENOSYS: every later wait uses epoll_wait.
static NO_PWAIT2: AtomicBool = AtomicBool::new(false);

/// Waits for events on `epoll` at most `timeout`; returns how many `events` it filled.
/// A wait interrupted by a signal reports none.
pub fn wait(epoll: &Epoll, events: &mut [EpollEvent], timeout: Duration) -> io::Result<usize> {
    if !NO_PWAIT2.load(Ordering::Relaxed) {
        match pwait2(epoll, events, timeout) {
            Err(err) if err.raw_os_error() == Some(libc::ENOSYS) => {
                NO_PWAIT2.store(true, Ordering::Relaxed);
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => return Ok(0),
            other => return other,
        }
    }
    let ms = timeout.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
    let timeout = EpollTimeout::try_from(ms).unwrap_or(EpollTimeout::NONE);
    match epoll.wait(events, timeout) {
        Ok(n) => Ok(n),
        Err(nix::errno::Errno::EINTR) => Ok(0),
        Err(err) => Err(err.into()),
    }
}

fn pwait2(epoll: &Epoll, events: &mut [EpollEvent], timeout: Duration) -> io::Result<usize> {
    let spec = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    };
    let max = libc::c_int::try_from(events.len()).unwrap_or(libc::c_int::MAX);
    // SAFETY: nix's EpollEvent is #[repr(transparent)] over libc::epoll_event, so the
    // slice is `max` valid, writable epoll_events; `spec` lives on this stack frame for
    // the whole call; a null signal mask means none is set; the epoll descriptor is
    // owned by `epoll`, borrowed for the call.
    let n = unsafe {
        libc::syscall(
            libc::SYS_epoll_pwait2,
            epoll.0.as_raw_fd(),
            events.as_mut_ptr().cast::<libc::epoll_event>(),
            max,
            &spec as *const libc::timespec,
            std::ptr::null::<libc::sigset_t>(),
            0usize,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use nix::sys::epoll::EpollCreateFlags;

    use super::*;

    #[test]
    fn a_timeout_below_a_millisecond_is_kept() {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
        let mut events = [EpollEvent::empty(); 4];
        // A wait never ends early, and rounded up to a millisecond it never ends within
        // one: the quickest of twenty 300 us waits tells the two apart, however busy
        // the machine (one undisturbed wait is enough).
        let quickest = (0..20)
            .map(|_| {
                let start = Instant::now();
                assert_eq!(
                    wait(&epoll, &mut events, Duration::from_micros(300)).unwrap(),
                    0
                );
                start.elapsed()
            })
            .min()
            .unwrap();
        assert!(quickest >= Duration::from_micros(300), "{quickest:?}");
        if !NO_PWAIT2.load(Ordering::Relaxed) {
            assert!(
                quickest < Duration::from_millis(1),
                "the quickest took {quickest:?}"
            );
        }
    }

    #[test]
    fn events_are_reported() {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        epoll
            .add(&a, EpollEvent::new(nix::sys::epoll::EpollFlags::EPOLLIN, 7))
            .unwrap();
        std::io::Write::write_all(&mut &b, b"x").unwrap();
        let mut events = [EpollEvent::empty(); 4];
        assert_eq!(
            wait(&epoll, &mut events, Duration::from_secs(1)).unwrap(),
            1
        );
        assert_eq!(events[0].data(), 7);
    }
}
