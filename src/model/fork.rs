//! `fork`: a process per connection (seeds 000, 001, 002).
//!
//! The parent accepts and forks; the child serves the one connection and exits. The
//! parent reaps exited children on every turn of its loop (seed 001 shows the zombies
//! a server leaves when it does not), and keeps at most `--workers` children: beyond
//! the cap, new connections wait in the listen backlog until a child exits.

use std::io;

use super::{Family, ModelInfo, OffloadUse, Workers};
use super::{Launch, CHILD_GRACE};
use crate::conn::{self, accept::Acceptor};
use crate::log::RateLimited;
use crate::sys;
use crate::sys::process::{Children, Forked};

pub static INFO: ModelInfo = ModelInfo {
    name: "fork",
    family: Family::Blocking,
    workers: Workers::PerConnection { cap: 2048 },
    mechanism: "fork a child process per connection, reap it when done",
    origin: "seed 000, 001, 002",
    reuse_port: false,
    descriptor_ceiling: None,
    announces_when_ready: false,
    offload: OffloadUse::OWN_THREAD,
    precheck: None,
    run,
};

static FORK_FAILED: RateLimited = RateLimited::new();
static AT_CAP: RateLimited = RateLimited::new();

fn run(launch: Launch) -> io::Result<()> {
    let acceptor = Acceptor::new(launch.listener, launch.stop)?;
    let mut children = Children::new();
    while let Some(stream) = acceptor.accept_below_cap(|| has_room(&mut children, launch.workers)) {
        match sys::process::fork() {
            Ok(Forked::Child) => {
                drop(acceptor);
                conn::blocking::serve(stream, &launch.conn, None);
                sys::process::exit_child(0);
            }
            // The parent's copy of the connection closes here; the child keeps its own.
            Ok(Forked::Parent { child }) => children.add(child),
            Err(err) => FORK_FAILED.warn(format_args!("fork: {err}; connection closed")),
        }
    }
    children.stop_all(CHILD_GRACE);
    Ok(())
}

/// Reaps the children that exited; true if fewer than `cap` are left.
fn has_room(children: &mut Children, cap: usize) -> bool {
    children.reap();
    let at_cap = children.len() >= cap;
    if at_cap {
        AT_CAP.warn(format_args!(
            "fork: {} children, the cap (--workers); new connections wait",
            children.len()
        ));
    }
    !at_cap
}
