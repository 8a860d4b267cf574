//! iomodels: one TCP server runnable under every server concurrency model, a load
//! generator that measures any server, and a comparison that ranks them.
//!
//! # Layout
//!
//! The modules stand on floors; a module imports only from its own floor and the ones
//! below (`tests/it/layers.rs` fails on an import that points up or closes a cycle).
//! From the ground up:
//!
//! 1. [`error`] (the usage error and exit codes), [`log`] (`-v` and rate-limited
//!    warnings), [`sys`] (the only `unsafe` code: fork, the accept lock, signals and the
//!    stop flag, accept4, the descriptor limit, may's coroutine spawn, io_uring),
//!    [`protocol`] (sans-I/O sessions, `echo` and `http`: bytes in, reply bytes out,
//!    and the work a request needs), [`work`] (carrying that work out: a CPU burn, a
//!    blocking call, a pool of threads, an event loop's timers), [`stats`]
//!    (HdrHistogram recorders and error kinds, merged for printing).
//! 2. [`conn`]: the machinery the model families share: the per-connection state
//!    machines (blocking, readiness, async, completion), the accept loops, the epoll and
//!    SO_REUSEPORT reactors, lingering close, memory trimming.
//! 3. [`model`]: the contract every model keeps (`Server`, the stop flag and its
//!    bound), the registry, one file per concurrency model.
//! 4. [`server`]: `iomodels serve`: binds the listener, installs the stop signal, runs a
//!    model.
//! 5. [`sample`]: a process tree's cost from `/proc` (CPU, PSS, context switches).
//! 6. [`results`]: the data of a bench run and of a comparison, one serde type each.
//! 7. [`bench`](mod@bench) (`iomodels bench`: the load generator's workloads and
//!    event-loop engine), [`floor`] (`iomodels floor`: the CPU per request of a minimal
//!    server loop, the reference the models are measured against).
//! 8. [`hosts`]: where processes run: this machine, or another through OpenSSH (one
//!    multiplexed connection a host, nothing left running there).
//! 9. [`compare`]: `iomodels compare`: every model through every workload, as child
//!    processes; returns a comparison.
//! 10. [`report`]: the comparison presented: ranked tables, JSON, Markdown, SVG, HTML.
//! 11. [`cli`]: the command line (clap), turned into validated configurations and
//!     dispatched; only `main.rs` imports it.

#![deny(unsafe_code)]

pub mod bench;
pub mod cli;
pub mod compare;
pub mod conn;
pub mod error;
pub mod floor;
pub mod hosts;
pub mod log;
pub mod model;
pub mod protocol;
pub mod report;
pub mod results;
pub mod sample;
pub mod server;
pub mod stats;
#[allow(unsafe_code)]
pub mod sys;
pub mod work;
