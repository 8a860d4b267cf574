//! Stackful coroutines (may): starting one, and handing a bound listener to may's
//! event loop. may marks both unsafe; this is the one place that vouches for them.

use std::io;
use std::net::TcpListener;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::panic;

/// Starts a coroutine running `work` on may's scheduler.
///
/// The program must have configured may (workers, stack size) before the first call.
pub fn spawn<F>(work: F) -> io::Result<()>
where
    F: FnOnce() + Send + 'static,
{
    // SAFETY: may names two hazards. (1) Thread-local storage: a coroutine may resume
    // on another worker thread after any I/O wait, so a reference into a thread-local
    // kept across a wait would point at the wrong thread's value. The code our
    // coroutines run (the blocking connection loop, the sessions, the accept loop)
    // touches thread-locals only inside calls that never wait (the HTTP date cache,
    // stderr's lock) and keeps no reference past them; `work` owns everything else it
    // uses (`'static + Send`). (2) Stack overflow: generator allocates each stack with
    // a guard page, so an overflow faults instead of corrupting memory, and the
    // connection loop keeps its buffers on the heap, well within the configured stack.
    let spawned = unsafe { may::coroutine::Builder::new().spawn(work) };
    spawned.map(drop)
}

/// Moves a bound, listening socket into may's event loop, starting may's scheduler if
/// this is the first may call.
///
/// may panics where it cannot start its scheduler (each worker's event loop needs an
/// epoll instance and an eventfd: none may be left under a low descriptor limit) or
/// its event loop refuses the descriptor (epoll_ctl failing, out of memory). Either
/// comes back as an error carrying may's message, and the panic hook is silenced
/// meanwhile, so the failure is one clear line rather than a panic report. The hook is
/// the process's: call this before starting any thread of one's own.
pub fn listener(listener: TcpListener) -> io::Result<may::net::TcpListener> {
    let fd = listener.into_raw_fd();
    let report = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    // SAFETY: `fd` is an open listening socket whose only owner just gave it up, so the
    // may listener becomes its sole owner and closes it exactly once (also if may
    // panics: the socket it wrapped is dropped as the panic unwinds).
    let handed = panic::catch_unwind(|| unsafe { may::net::TcpListener::from_raw_fd(fd) });
    panic::set_hook(report);
    handed.map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("a panic");
        io::Error::other(format!("may's scheduler could not start: {message}"))
    })
}
