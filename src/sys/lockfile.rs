//! The accept lock of prefork: an exclusive fcntl(2) record lock on an anonymous file,
//! as seed 000 does with `fcntl.lockf` on a temporary one.
//!
//! Record locks belong to a process, not to an open file description, so children that
//! inherit the same descriptor still exclude each other (flock(2) locks would not).
//!
//! The file is a memfd (memfd_create(2)): it has no name in any directory, so no other
//! user can guess it, plant a symlink there, or open it; a named file in /tmp would be
//! all three.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};

/// A lock file shared by forked processes.
#[derive(Debug)]
pub struct AcceptLock {
    file: File,
}

impl AcceptLock {
    /// Creates the lock's file, an anonymous one: the descriptor, inherited by every
    /// child, is all that is needed.
    pub fn new() -> io::Result<Self> {
        let fd = memfd_create(c"iomodels-accept-lock", MemFdCreateFlag::MFD_CLOEXEC)?;
        Ok(AcceptLock {
            file: File::from(fd),
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::planted::Planted;

    #[test]
    fn a_symlink_at_the_old_path_is_not_followed() {
        // The lock's file was /tmp/iomodels-accept-PID.lock, opened with O_TRUNC.
        let old = format!("iomodels-accept-{}.lock", std::process::id());
        let planted = Planted::at([std::env::temp_dir().join(old)]);
        let lock = AcceptLock::new().unwrap();
        drop(lock.hold().unwrap());
        planted.assert_untouched();
    }
}
