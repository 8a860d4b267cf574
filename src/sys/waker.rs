//! Waking a thread that waits in select(2), poll(2) or epoll_wait(2) from another
//! thread: an eventfd(2) the sleeper watches for reading (nix's safe wrapper).

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use nix::sys::eventfd::{EfdFlags, EventFd};

/// An eventfd, non-blocking: any number of wakes before the sleeper looks count as one.
#[derive(Debug)]
pub struct Waker(EventFd);

impl Waker {
    pub fn new() -> io::Result<Self> {
        Ok(Waker(EventFd::from_flags(
            EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC,
        )?))
    }

    pub fn wake(&self) {
        // EAGAIN would mean the counter is full: the sleeper is woken anyway.
        let _ = self.0.write(1);
    }

    /// Called by the sleeper once woken, so the next wait blocks again.
    pub fn reset(&self) {
        let _ = self.0.read();
    }
}

impl AsFd for Waker {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}
