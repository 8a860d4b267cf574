//! SIGINT and SIGTERM as a [`Stop`] flag every model polls, at least every [`STOP_POLL`],
//! and the reset of those signals in forked children, which must die of them rather than
//! set a flag nobody reads.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{self, SigHandler, Signal};

/// The longest any model waits (in accept, poll, a lock, a queue) before it checks the
/// stop flag: the bound on how long SIGTERM takes to stop a server.
pub const STOP_POLL: Duration = Duration::from_millis(100);

/// Set once SIGINT or SIGTERM arrives; every model polls it at least every [`STOP_POLL`].
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Stops the server as a signal would (used by tests and by in-process callers).
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// A flag that SIGINT and SIGTERM set from now on (see [`stop_on_signals`]).
    pub fn on_signals() -> io::Result<Self> {
        let stop = Self::new();
        stop_on_signals(&stop.0)?;
        Ok(stop)
    }
}

/// Makes SIGINT and SIGTERM set `flag` instead of killing the process. Installs a
/// signal handler only: no thread is started, so forking models may fork afterwards.
pub fn stop_on_signals(flag: &Arc<AtomicBool>) -> io::Result<()> {
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(flag))?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(flag))?;
    Ok(())
}

/// In a forked child: SIGINT and SIGTERM kill it again (the default disposition).
pub fn default_stop_signals() -> io::Result<()> {
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: SIG_DFL installs no Rust code as a handler, so no handler can run
        // while the program is in a state a handler must not observe.
        unsafe { signal::signal(sig, SigHandler::SigDfl) }.map_err(io::Error::from)?;
    }
    Ok(())
}

/// Makes the kernel kill this process with SIGALRM after `delay` (setitimer(2); the
/// default disposition of SIGALRM terminates). Fault injection: lets tests watch a
/// server die mid-run without any code path of the server knowing about it.
pub fn die_after(delay: std::time::Duration) -> io::Result<()> {
    let timer = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: libc::timeval {
            tv_sec: delay.as_secs() as libc::time_t,
            tv_usec: libc::suseconds_t::from(delay.subsec_micros().max(1)),
        },
    };
    // SAFETY: `timer` is a valid itimerval for the duration of the call, and a null
    // pointer tells setitimer not to report the previous value.
    let rc = unsafe { libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
