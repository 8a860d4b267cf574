//! PostgreSQL behind `/db` and `/queries`: the drivers each family reads TechEmpower's
//! `World` table with, a private cluster this process makes, fills and removes again
//! ([`Cluster`]), and `pgbench`'s rate for the same row lookup, the reference the
//! models are measured against ([`pgbench::run`]).
//!
//! Reading:
//! - [`client`]: the blocking driver (`postgres`), one connection per thread or
//!   process that serves requests: the blocking family's way, and a pool thread's.
//! - [`parked`]: a pool of threads with connections that a coroutine hands its query
//!   to and parks on until the rows come back (may's sockets have no PostgreSQL
//!   driver on crates.io, and a blocking driver would stall every coroutine of the
//!   thread).
//!
//! The database:
//! - [`install`]: finding PostgreSQL's programs (a missing one names the package).
//! - [`dir`]: a cluster's temporary directory, and the janitor of those left behind.
//! - [`postmaster`]: `initdb`, the server as our child, its stop, its processes.
//! - [`cluster`]: a cluster's [`Settings`], its start, URL and stop.
//! - [`world`]: TechEmpower's table, its row lookup, the database filled with it.
//! - [`pgbench`]: PostgreSQL's own rate for that lookup.
//! - [`args`], [`command`]: `iomodels db start|stop|status|run`.

pub mod args;
pub mod client;
pub mod cluster;
pub mod command;
pub mod dir;
pub mod install;
pub mod parked;
pub mod pgbench;
pub mod postmaster;
pub mod world;

pub use client::read;
pub use cluster::{Cluster, Detached, Listen, Settings};
pub use install::NotInstalled;
pub use pgbench::PgbenchResult;
