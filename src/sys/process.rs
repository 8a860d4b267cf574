//! Processes: fork(2), waitpid(2) to reap children and tell how they ended,
//! prctl(PR_SET_PDEATHSIG) so a child never outlives its server (or a helper program
//! the process it serves), and setsid(2) for the one program that must outlive us.

use std::collections::HashSet;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, pthread_sigmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};

/// Which side of a fork we are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    Parent { child: Pid },
    Child,
}

/// Forks the process. The child dies with SIGTERM when its parent dies, and SIGINT and
/// SIGTERM kill it again (the parent's stop handler would only set a flag).
///
/// The stop signals are blocked across the fork, and in the child until it has reset
/// them and asked for its parent's death signal: a SIGTERM that arrives in between (the
/// parent killed just as it forks) waits, then kills the child, rather than running the
/// parent's handler, which would set a flag no child reads and leave it serving forever.
///
/// Call it only while the process has a single thread: the child gets a copy of the
/// calling thread alone, and a lock another thread held would stay locked forever.
pub fn fork() -> io::Result<Forked> {
    let parent = nix::unistd::getpid();
    let mut stop_signals = SigSet::empty();
    stop_signals.add(Signal::SIGINT);
    stop_signals.add(Signal::SIGTERM);
    let mut before = SigSet::empty();
    pthread_sigmask(
        SigmaskHow::SIG_BLOCK,
        Some(&stop_signals),
        Some(&mut before),
    )?;
    let unblock = || pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&before), None);
    // SAFETY: the forking models (fork, prefork) run on the main thread and start no
    // thread before or between forks (the stop signal is a handler, not a thread), so
    // the child cannot inherit a lock held by a thread that does not exist in it.
    let forked = unsafe { nix::unistd::fork() };
    match forked {
        Err(err) => {
            unblock()?;
            Err(err.into())
        }
        Ok(ForkResult::Parent { child }) => {
            unblock()?;
            Ok(Forked::Parent { child })
        }
        Ok(ForkResult::Child) => {
            super::signal::default_stop_signals()?;
            nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
            // A parent that died before the line above sends no signal: check.
            if nix::unistd::getppid() != parent {
                exit_child(0);
            }
            // A stop signal that came meanwhile is delivered now, and kills.
            unblock()?;
            Ok(Forked::Child)
        }
    }
}

/// Asks the kernel to send this process SIGTERM (a stop, as from a user) when its parent
/// exits, so a server that `compare` started does not outlive a `compare` that was
/// killed (prctl(PR_SET_PDEATHSIG)). Fails if `parent` is already gone.
pub fn stop_with_parent(parent: u32) -> io::Result<()> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
    // A parent that died before the line above sends no signal: check.
    if u32::try_from(nix::unistd::getppid().as_raw()).ok() != Some(parent) {
        return Err(io::Error::other(format!(
            "the parent process {parent} is gone"
        )));
    }
    Ok(())
}

/// Makes the program `cmd` starts get SIGTERM when this process dies, however it dies
/// (SIGKILL included): the kernel sends it when the thread that spawns the program
/// ends, so spawn it from the thread that lives as long as the process (the main one).
/// A program whose parent died before it could ask is not started.
pub fn stop_with_this_process(cmd: &mut Command) -> &mut Command {
    signal_when_this_process_dies(cmd, Signal::SIGTERM)
}

/// [`stop_with_this_process`] with another signal: SIGQUIT for a PostgreSQL postmaster
/// (its immediate shutdown, which ends its backends too), SIGKILL for a program that
/// keeps nothing. The request survives the switch to another user that
/// [`CommandExt::uid`] makes, which std does before this runs (prctl(2) clears it on a
/// change of credentials, so asking earlier would be undone).
pub fn signal_when_this_process_dies(cmd: &mut Command, signal: Signal) -> &mut Command {
    let parent = nix::unistd::getpid();
    let ask = move || {
        nix::sys::prctl::set_pdeathsig(signal)?;
        // A parent that died before the line above sends no signal: check.
        if nix::unistd::getppid() != parent {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe calls are allowed: prctl(2) and getppid(2) are system calls
    // that neither allocate nor take a lock, and the error built on failure is a raw OS
    // error, which allocates nothing.
    unsafe { cmd.pre_exec(ask) }
}

/// Makes the program `cmd` starts the leader of a new session (setsid(2)), so that
/// nothing aimed at this command's terminal or process group (Ctrl-C, a hang-up)
/// reaches it: a server that must outlive the command that starts it.
pub fn detach(cmd: &mut Command) -> &mut Command {
    let new_session = || {
        nix::unistd::setsid()?;
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe calls are allowed: setsid(2) is a system call that neither
    // allocates nor takes a lock, and its error is a raw OS error.
    unsafe { cmd.pre_exec(new_session) }
}

/// Ends the calling (child) process at once, without running the parent's exit
/// handlers or destructors it inherited.
pub fn exit_child(code: i32) -> ! {
    // SAFETY: _exit(2) ends the process at once; it touches no Rust state, so no
    // invariant can be observed broken afterwards.
    unsafe { libc::_exit(code) }
}

/// How a child that waitpid(2) reported ended: `exited with code N` or `killed by
/// SIGNAME`.
fn how_it_ended(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exited with code {code}"),
        WaitStatus::Signaled(_, signal, true) => format!("killed by {signal} (core dumped)"),
        WaitStatus::Signaled(_, signal, false) => format!("killed by {signal}"),
        other => format!("{other:?}"),
    }
}

/// The children of a server process, reaped so none is left a zombie.
#[derive(Debug, Default)]
pub struct Children {
    live: HashSet<Pid>,
}

impl Children {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, pid: Pid) {
        self.live.insert(pid);
    }

    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Is `pid` a child that has not been reaped yet?
    pub fn contains(&self, pid: Pid) -> bool {
        self.live.contains(&pid)
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Reaps every child that has exited, without waiting; returns how many.
    pub fn reap(&mut self) -> usize {
        self.reap_exits().len()
    }

    /// Reaps every child that has exited, without waiting; returns each one's pid and
    /// how it ended.
    pub fn reap_exits(&mut self) -> Vec<(Pid, String)> {
        let mut exits = Vec::new();
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return exits,
                Ok(status) => {
                    if let Some(pid) = status.pid().filter(|pid| self.live.remove(pid)) {
                        exits.push((pid, how_it_ended(status)));
                    }
                }
            }
        }
    }

    /// Sends SIGTERM to every child and reaps them all, waiting at most `grace` before
    /// sending SIGKILL to any that remain.
    pub fn stop_all(&mut self, grace: Duration) {
        for &pid in &self.live {
            let _ = kill(pid, Signal::SIGTERM);
        }
        let give_up = Instant::now() + grace;
        while !self.live.is_empty() && Instant::now() < give_up {
            if self.reap() == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        for &pid in &self.live {
            let _ = kill(pid, Signal::SIGKILL);
        }
        for pid in std::mem::take(&mut self.live) {
            while let Err(Errno::EINTR) = waitpid(pid, None) {}
        }
    }
}

/// Whether `pid` exists and is not a zombie: a process that died but was not yet
/// reaped by its parent still has a `/proc` entry, in state `Z`.
pub fn is_alive(pid: u32) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = text
        .rfind(')')
        .and_then(|i| text[i + 1..].split_ascii_whitespace().next());
    !matches!(state, None | Some("Z" | "X"))
}
