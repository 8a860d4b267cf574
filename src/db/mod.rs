//! PostgreSQL for the database workloads: a private cluster this process makes, fills
//! with TechEmpower's `World` table and removes again ([`Cluster`]), and `pgbench`'s
//! rate for the same row lookup, the reference the models are measured against
//! ([`pgbench::run`]).
//!
//! - [`install`]: finding PostgreSQL's programs (a missing one names the package).
//! - [`dir`]: a cluster's temporary directory, and the janitor of those left behind.
//! - [`postmaster`]: `initdb`, the server as our child, its stop, its processes.
//! - [`cluster`]: a cluster's [`Settings`], its start, URL and stop.
//! - [`world`]: TechEmpower's table, its row lookup, the database filled with it.
//! - [`pgbench`]: PostgreSQL's own rate for that lookup.
//! - [`args`], [`command`]: `iomodels db start|stop|status|run`.

pub mod args;
pub mod cluster;
pub mod command;
pub mod dir;
pub mod install;
pub mod pgbench;
pub mod postmaster;
pub mod world;

pub use cluster::{Cluster, Detached, Listen, Settings};
pub use install::NotInstalled;
pub use pgbench::PgbenchResult;
