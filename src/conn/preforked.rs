//! The master process of the pre-forked models (prefork, epoll-prefork): a slot per
//! worker, a worker forked into every empty slot, and for each worker that died one
//! line on stderr that says which it was (its index and pid), of what it died (the
//! signal, or its exit code), and which process replaced it. A worker that dies is
//! otherwise invisible: its replacement serves on, and only the figures would show it.

use std::io;
use std::time::Duration;

use nix::unistd::Pid;

use crate::sys::process::{self, Children, Forked};
use crate::sys::signal::{Stop, STOP_POLL};

/// Forks `worker(index)` into each of `workers` slots and forks it again into the slot
/// of each worker that dies, until `stop` is set; then terminates and reaps them all,
/// giving them `grace` to exit on SIGTERM. `model` names the lines it prints. A worker
/// that returns ends its process.
///
/// Call it only while the process has a single thread (see [`process::fork`]).
pub fn supervise(
    model: &str,
    workers: usize,
    stop: &Stop,
    grace: Duration,
    mut worker: impl FnMut(usize),
) -> io::Result<()> {
    let mut slots: Vec<Slot> = vec![Slot::default(); workers];
    let mut children = Children::new();
    while !stop.is_set() {
        for (pid, how) in children.reap_exits() {
            if let Some(slot) = slots.iter_mut().find(|s| s.pid == Some(pid)) {
                slot.pid = None;
                slot.died = Some((pid, how));
            }
        }
        for (index, slot) in slots.iter_mut().enumerate() {
            if slot.pid.is_some() || stop.is_set() {
                continue;
            }
            match process::fork()? {
                Forked::Child => {
                    worker(index);
                    process::exit_child(0)
                }
                Forked::Parent { child } => {
                    children.add(child);
                    slot.pid = Some(child);
                    if let Some((pid, how)) = slot.died.take() {
                        eprintln!("{}", replaced(model, index, pid, &how, child));
                    }
                }
            }
        }
        std::thread::sleep(STOP_POLL);
    }
    children.stop_all(grace);
    Ok(())
}

/// A worker's place: the process in it, and how the one before it ended.
#[derive(Debug, Clone, Default)]
struct Slot {
    pid: Option<Pid>,
    died: Option<(Pid, String)>,
}

/// The line that says a worker died and was replaced.
fn replaced(model: &str, index: usize, pid: Pid, how: &str, by: Pid) -> String {
    format!("iomodels: {model}: worker {index} (pid {pid}) {how}; replaced by pid {by}")
}
