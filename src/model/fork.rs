//! `fork`: a process per connection (seeds 000, 001, 002).
//!
//! The parent accepts and forks; the child serves the one connection and exits. The
//! parent reaps exited children on every turn of its loop (seed 001 shows the zombies
//! a server leaves when it does not), and keeps at most `--workers` children: beyond
//! the cap, new connections wait in the listen backlog until a child exits.

use std::io;
use std::time::Duration;

use super::{Family, ModelInfo, Workers};
use super::{Server, STOP_POLL};
use crate::conn::{self, accept::AcceptError};
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
    precheck: None,
    run,
};

/// How long children get to exit on SIGTERM before SIGKILL.
pub(crate) const CHILD_GRACE: Duration = Duration::from_millis(500);

static FORK_FAILED: RateLimited = RateLimited::new();
static AT_CAP: RateLimited = RateLimited::new();

fn run(server: Server) -> io::Result<()> {
    sys::listener::set_accept_timeout(&server.listener, STOP_POLL)?;
    let mut children = Children::new();
    while !server.stop.is_set() {
        children.reap();
        if children.len() >= server.workers {
            AT_CAP.warn(format_args!(
                "fork: {} children, the cap (--workers); new connections wait",
                children.len()
            ));
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        let stream = match server.listener.accept() {
            Ok((stream, _)) => stream,
            Err(err) => {
                if conn::accept::classify(&err) == AcceptError::Backoff {
                    std::thread::sleep(conn::accept::BACKOFF);
                }
                continue;
            }
        };
        match sys::process::fork() {
            Ok(Forked::Child) => {
                drop(server.listener);
                conn::blocking::serve(stream, &server.conn, None);
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
