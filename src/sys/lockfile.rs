//! The accept lock of prefork: an exclusive fcntl(2) record lock on an unlinked
//! temporary file, as seed 000 does with `fcntl.lockf`.
//!
//! Record locks belong to a process, not to an open file description, so children that
//! inherit the same descriptor still exclude each other (flock(2) locks would not).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg};

/// A lock file shared by forked processes.
#[derive(Debug)]
pub struct AcceptLock {
    file: File,
}

impl AcceptLock {
    /// Creates the lock file in the temporary directory and unlinks it at once: the
    /// descriptor, inherited by every child, is all that is needed.
    pub fn new() -> io::Result<Self> {
        let path =
            std::env::temp_dir().join(format!("iomodels-accept-{}.lock", std::process::id()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        std::fs::remove_file(&path)?;
        Ok(AcceptLock { file })
    }

    /// Blocks until this process holds the lock, which it keeps until the guard is
    /// dropped.
    pub fn hold(&self) -> io::Result<LockHeld<'_>> {
        self.set(libc::F_WRLCK as libc::c_short, true)?;
        Ok(LockHeld(self))
    }

    fn unlock(&self) -> io::Result<()> {
        self.set(libc::F_UNLCK as libc::c_short, false)
    }

    fn set(&self, kind: libc::c_short, wait: bool) -> io::Result<()> {
        let region = libc::flock {
            l_type: kind,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: 0,
            l_len: 0,
            l_pid: 0,
        };
        loop {
            let arg = if wait {
                FcntlArg::F_SETLKW(&region)
            } else {
                FcntlArg::F_SETLK(&region)
            };
            match fcntl(self.file.as_raw_fd(), arg) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(err) => return Err(err.into()),
            }
        }
    }
}

/// The accept lock, held by this process until dropped.
#[derive(Debug)]
pub struct LockHeld<'a>(&'a AcceptLock);

impl Drop for LockHeld<'_> {
    fn drop(&mut self) {
        // Fails only if the descriptor is gone, and then no lock is held either.
        let _ = self.0.unlock();
    }
}
