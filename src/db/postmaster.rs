//! PostgreSQL's processes: `initdb`, and the postmaster (`postgres -D DIR`) run directly
//! as our child, not through `pg_ctl`, which would detach it.
//!
//! Bound to this process, the postmaster gets SIGQUIT when we die, SIGKILL included
//! (prctl(PR_SET_PDEATHSIG)): SIGQUIT is its immediate shutdown, which makes every
//! backend quit too. The kernel sends that signal when the *thread* that spawned the
//! child ends, so the postmaster is spawned from a thread kept for the purpose, which
//! lives as long as the process (a test's thread, or a thread of `compare`, may not).
//!
//! Stopping goes in steps, each given [`GRACE`]: SIGINT (a fast shutdown: sessions are
//! ended and a checkpoint written; not SIGTERM's smart shutdown, which would wait for a
//! server's pooled connections to close by themselves), then SIGQUIT, then SIGKILL.

use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::{Gid, Pid, Uid};

use super::dir::ClusterDir;
use super::install::Install;
pub use crate::sys::process::is_alive;
use crate::sys::process::{detach, signal_when_this_process_dies};

/// How long each step of a stop waits for the postmaster (and then its backends) to end.
pub const GRACE: Duration = Duration::from_secs(5);

/// Whether the postmaster dies with this process or outlives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// SIGQUIT when this process ends, however it ends.
    WithThisProcess,
    /// A session of its own, no parent-death signal: `iomodels db start`'s cluster.
    Detached,
}

/// `PROGRAM -D DATA` run as `user`, its output in `dir`'s `NAME.log`, with a plain
/// environment: a plain `PATH`, none of the caller's `PG*` variables or locale (`initdb
/// --no-locale` makes a C-locale cluster).
fn program(path: &Path, dir: &ClusterDir, name: &str, user: Option<(Uid, Gid)>) -> Result<Command> {
    let log_path = dir.log(name);
    let log = File::create(&log_path).with_context(|| format!("{}", log_path.display()))?;
    let mut cmd = Command::new(path);
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .arg("-D")
        .arg(dir.data())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    if let Some((uid, gid)) = user {
        cmd.uid(uid.as_raw()).gid(gid.as_raw());
    }
    Ok(cmd)
}

/// Runs `initdb` into `dir`'s data directory as `user`: superuser `postgres`, trust
/// authentication (the socket is in a private directory, the port on loopback),
/// UTF-8 without locale, and no fsync of the new files (a benchmark's cluster is thrown
/// away). Dies with this process.
pub fn initdb(install: &Install, dir: &ClusterDir, user: Option<(Uid, Gid)>) -> Result<()> {
    let mut cmd = program(&install.initdb(), dir, "initdb", user)?;
    cmd.args(["-U", "postgres", "--auth=trust", "--no-sync", "--no-locale"])
        .args(["-E", "UTF8"]);
    signal_when_this_process_dies(&mut cmd, Signal::SIGKILL);
    let status = cmd
        .status()
        .with_context(|| format!("running {}", install.initdb().display()))?;
    if !status.success() {
        bail!("initdb {status}: {}", log_tail(&dir.log("initdb")));
    }
    Ok(())
}

/// Starts `postgres -D DATA -c NAME=VALUE...` as `user`, its output in `dir`'s
/// `postgres.log`.
pub fn spawn(
    install: &Install,
    dir: &ClusterDir,
    user: Option<(Uid, Gid)>,
    parameters: &[(&str, String)],
    lifetime: Lifetime,
) -> Result<Child> {
    let mut cmd = program(&install.postgres(), dir, "postgres", user)?;
    for (name, value) in parameters {
        cmd.arg("-c").arg(format!("{name}={value}"));
    }
    let spawned = match lifetime {
        Lifetime::WithThisProcess => {
            signal_when_this_process_dies(&mut cmd, Signal::SIGQUIT);
            spawn_from_lasting_thread(cmd)
        }
        Lifetime::Detached => detach(&mut cmd).spawn(),
    };
    spawned.with_context(|| format!("starting {}", install.postgres().display()))
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `cmd` from a thread that never ends, so that its parent-death signal comes
/// when the process ends and not before.
fn spawn_from_lasting_thread(cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Option<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        let serve = move || {
            for (mut cmd, reply) in incoming {
                let _ = reply.send(cmd.spawn());
            }
        };
        let thread = std::thread::Builder::new().name("postgres-spawner".into());
        thread.spawn(serve).ok().map(|_| requests)
    });
    let gone = || io::Error::other("the thread that starts PostgreSQL is gone");
    let spawner = spawner.as_ref().ok_or_else(gone)?;
    let (reply, answer) = mpsc::channel();
    spawner.send((cmd, reply)).map_err(|_| gone())?;
    answer.recv().map_err(|_| gone())?
}

/// Stops the postmaster `pid` in steps (SIGINT, SIGQUIT, SIGKILL), each given
/// [`GRACE`] for `ended` to become true, then waits as long for the backends it had
/// (`backends`, taken before) to be gone. Whether all ended.
pub fn shut_down(pid: u32, backends: &[u32], mut ended: impl FnMut() -> bool) -> bool {
    let target = Pid::from_raw(pid as i32);
    for signal in [Signal::SIGINT, Signal::SIGQUIT, Signal::SIGKILL] {
        if ended() {
            break;
        }
        let _ = kill(target, signal);
        wait_until(GRACE, &mut ended);
    }
    ended() && wait_until(GRACE, || !backends.iter().any(|&pid| is_alive(pid)))
}

/// Polls `done` until it holds or `limit` has passed; whether it held.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let give_up = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= give_up {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The postmaster running in the data directory `data`, if any: the pid its
/// `postmaster.pid` names, alive and a `postgres`.
pub fn of_data_dir(data: &Path) -> Option<u32> {
    let lock = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    let pid: u32 = lock.lines().next()?.trim().parse().ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    (is_alive(pid) && comm.trim() == "postgres").then_some(pid)
}

/// The children of `pid`: a postmaster's backends and auxiliary processes (PostgreSQL
/// forks them all from the postmaster, so there are no grandchildren), by every
/// process's parent in `/proc/PID/stat`. (Not `/proc/PID/task/TID/children`, which
/// proc(5) says is reliable only while the children are stopped: it missed a child
/// while other threads of the process forked and reaped.)
pub fn children(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
                after.split_whitespace().nth(1) == Some(&parent.to_string())
            })
        })
        .collect()
}

/// The last lines of a log, on one line (`a | b | c`), for an error message.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(4)..].join(" | ");
    if tail.is_empty() {
        format!("{} is empty", path.display())
    } else {
        format!("{} says: {tail}", path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_its_children_are_found() {
        assert!(is_alive(std::process::id()));
        assert!(!is_alive(u32::MAX));
        let mut child = Command::new("sleep").arg("5").spawn().unwrap();
        let me = std::process::id();
        assert!(children(me).contains(&child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!is_alive(child.id()));
    }
}
