//! iomodels: one TCP server runnable under every server concurrency model, a load
//! generator that measures any server, and a comparison that ranks them.
//!
//! # Layout
//!
//! - [`cli`]: the command line (clap), turned into validated configurations.
//! - [`server`]: `iomodels serve`: binds the listener, installs the stop signal, runs a model.
//! - [`model`]: one file per concurrency model, plus the registry and the contract they keep.
//! - [`conn`]: the per-connection state machines the model families share (blocking loop,
//!   non-blocking readiness machine, lingering close, deadlines).
//! - [`protocol`]: sans-I/O sessions (`echo`, `http`): bytes in, reply bytes out.
//! - [`sys`]: the only `unsafe` code: fork, the accept lock, signals, accept4, the
//!   descriptor limit, may's coroutine spawn, io_uring.
//! - [`log`]: the `-v` switch and rate-limited warnings.
//! - [`bench`](mod@bench): `iomodels bench`: the load generator's workloads and event-loop engine.
//! - [`stats`]: what bench workers record (HdrHistogram, error kinds), merged for printing.
//! - [`sample`]: a process tree's cost from `/proc` (CPU, RSS, context switches).
//! - [`compare`]: `iomodels compare`: every model through every workload, as child processes.
//! - [`floor`]: `iomodels floor`: the kernel's least CPU per request (one read, one write).
//! - [`report`]: the comparison presented: ranked tables, JSON, Markdown, SVG charts, HTML.

#![deny(unsafe_code)]

pub mod bench;
pub mod cli;
pub mod compare;
pub mod conn;
pub mod error;
pub mod floor;
pub mod log;
pub mod model;
pub mod protocol;
pub mod report;
pub mod sample;
pub mod server;
pub mod stats;
#[allow(unsafe_code)]
pub mod sys;
