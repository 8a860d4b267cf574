//! `blocking`: one process, one thread, one client at a time (seeds 000, 001, 004).
//!
//! The baseline every other model improves on: while a client is being served, the
//! next one waits in the listen backlog.

use std::io;

use super::Launch;
use super::{Family, ModelInfo, OffloadUse, Workers};
use crate::conn::{self, accept::Acceptor};

pub static INFO: ModelInfo = ModelInfo {
    name: "blocking",
    family: Family::Blocking,
    workers: Workers::One,
    mechanism: "accept, then serve that one client to the end",
    origin: "seed 000, 001, 004",
    reuse_port: false,
    descriptor_ceiling: None,
    announces_when_ready: false,
    offload: OffloadUse::OWN_THREAD,
    precheck: None,
    run,
};

fn run(launch: Launch) -> io::Result<()> {
    let acceptor = Acceptor::new(launch.listener, launch.stop.clone())?;
    while let Some(stream) = acceptor.accept() {
        // The stop flag goes along: a client held this long must not delay the stop.
        conn::blocking::serve(stream, &launch.conn, Some(&launch.stop));
    }
    Ok(())
}
