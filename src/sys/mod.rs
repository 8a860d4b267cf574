//! The only place with `unsafe` code and raw system calls. Everything else goes through
//! the safe wrappers here, or through nix, rustix, socket2 and io-uring's safe APIs.
//!
//! - [`listener`]: the listening socket (SO_REUSEADDR always, SO_REUSEPORT on request).
//! - [`process`]: fork(2), reaping children with waitpid(2), the parent-death signal,
//!   a new session (setsid(2)).
//! - [`signal`]: SIGINT/SIGTERM as a stop flag; default dispositions in forked children.
//! - [`epoll_wait`]: epoll_pwait2(2), an epoll wait with a timeout in nanoseconds.
//! - [`coroutine`]: starting a may coroutine, and moving a listener into may's event loop.
//! - [`lockfile`]: the accept lock prefork children share (fcntl(2) record lock).
//! - [`uring`]: io_uring: multishot accept and receive, provided buffers, sends,
//!   timeouts, a poll.
//! - [`limits`]: raising the descriptor limit (RLIMIT_NOFILE) to what the system allows.
//! - [`malloc`]: handing freed heap memory back to the system (malloc_trim(3)).
//! - [`affinity`]: pinning this process to a set of CPUs (sched_setaffinity(2)).
//! - `planted` (tests only): symlinks planted at old predictable temporary paths, to
//!   show that nothing follows them.
//! - [`waker`]: waking a thread blocked in a readiness wait from another (eventfd(2)).
//!
//! Every `unsafe` block carries a `// SAFETY:` comment saying why it holds.

pub mod affinity;
pub mod coroutine;
pub mod epoll_wait;
pub mod limits;
pub mod listener;
pub mod lockfile;
pub mod malloc;
#[cfg(test)]
pub(crate) mod planted;
pub mod process;
pub mod signal;
pub mod uring;
pub mod waker;
