//! `blocking`: one process, one thread, one client at a time (seeds 000, 001, 004).
//!
//! The baseline every other model improves on: while a client is being served, the
//! next one waits in the listen backlog.

use std::io;

use super::{Family, ModelInfo, Workers};
use super::{Server, STOP_POLL};
use crate::conn::{self, accept::AcceptError};
use crate::sys;

pub static INFO: ModelInfo = ModelInfo {
    name: "blocking",
    family: Family::Blocking,
    workers: Workers::One,
    mechanism: "accept, then serve that one client to the end",
    origin: "seed 000, 001, 004",
    reuse_port: false,
    precheck: None,
    run,
};

fn run(server: Server) -> io::Result<()> {
    // accept(2) honours SO_RCVTIMEO: the loop wakes to check the stop flag.
    sys::listener::set_accept_timeout(&server.listener, STOP_POLL)?;
    while !server.stop.is_set() {
        match server.listener.accept() {
            Ok((stream, _)) => conn::blocking::serve(stream, &server.conn, Some(&server.stop)),
            Err(err) => match conn::accept::classify(&err) {
                AcceptError::Empty | AcceptError::Skip => {}
                AcceptError::Backoff => std::thread::sleep(conn::accept::BACKOFF),
            },
        }
    }
    Ok(())
}
