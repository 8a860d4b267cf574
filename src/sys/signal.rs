//! SIGINT and SIGTERM as a stop flag every model polls, and the reset of those signals
//! in forked children, which must die of them rather than set a flag nobody reads.

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use nix::sys::signal::{self, SigHandler, Signal};

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
