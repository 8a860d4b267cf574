//! iomodels: one TCP server runnable under every server concurrency model, a load
//! generator that measures any server, and a comparison that ranks them.
//!
//! # Layout
//!
//! The modules stand in layers; a module imports only from its own layer and the ones
//! below (`tests/it/layers.rs` fails on an import that points up or closes a cycle).
//! From the ground up:
//!
//! 1. [`error`] (the usage error and exit codes), [`log`] (`-v` and rate-limited
//!    warnings), [`sys`] (the only `unsafe` code: fork, the accept lock, signals and the
//!    stop flag, accept4, the descriptor limit, may's coroutine spawn, io_uring),
//!    [`units`] (durations as every command writes them), [`protocol`] (sans-I/O sessions, `echo` and `http`: bytes in, reply bytes out,
//!    and the work a request needs), [`db`] (the PostgreSQL behind `/db` and
//!    `/queries`: the drivers each family reads it with, a private cluster with
//!    TechEmpower's `World` table, and `pgbench`), [`work`] (carrying that work out: a
//!    CPU burn, a blocking call, a pool of threads, an event loop's timers), [`stats`]
//!    (HdrHistogram recorders and error kinds, added up for printing).
//! 2. [`conn`]: the machinery the model families share: the per-connection state
//!    machines (blocking, readiness, async, completion), the accept loops, the epoll and
//!    SO_REUSEPORT reactors, lingering close, memory trimming.
//! 3. [`model`]: the contract every model keeps (`Launch`, what a model is given to
//!    run; the stop flag and its bound), the registry, one file per concurrency model.
//! 4. [`serve`]: `iomodels serve`: binds the listener, installs the stop signal,
//!    launches a model.
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
//! 11. [`cli`]: the top-level command line (the clap `Parser` and `Subcommand`), its
//!     dispatch to each command's `run`, and what the definition generates
//!     (completions, man pages); no module imports it (`main.rs` and tests do).
//!
//! # The command line
//!
//! A command's flags live beside the command: its clap `Args` in the `args.rs` of its
//! module ([`serve::args`], [`db::args`], [`bench::args`], [`bench::abuse::args`],
//! [`bench::merge::args`], [`compare::args`], [`report::args`] for `report` and `diff`,
//! [`floor::args`], [`sample::args`]), which also turns them into the command's
//! configuration. clap is imported nowhere else:
//! the types the flags take (a [`protocol::Protocol`], a workload) parse with `FromStr`
//! and list their names, and an `args.rs` makes its value parser of them
//! (`tests/it/layers.rs` fails on a clap import elsewhere).

#![deny(unsafe_code)]

pub mod bench;
pub mod cli;
pub mod compare;
pub mod conn;
pub mod db;
pub mod error;
pub mod floor;
pub mod hosts;
pub mod log;
pub mod model;
pub mod protocol;
pub mod report;
pub mod results;
pub mod sample;
pub mod serve;
pub mod stats;
#[allow(unsafe_code)]
pub mod sys;
pub mod units;
pub mod work;
