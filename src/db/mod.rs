//! The database behind `/db` and `/queries`: TechEmpower's `World` table in
//! PostgreSQL, read the way each family reads it in production.
//!
//! - [`client`]: the blocking driver (`postgres`), one connection per thread or
//!   process that serves requests: the blocking family's way, and a pool thread's.
//! - [`parked`]: a pool of threads with connections that a coroutine hands its query
//!   to and parks on until the rows come back (may's sockets have no PostgreSQL
//!   driver on crates.io, and a blocking driver would stall every coroutine of the
//!   thread).
//! - [`pipeline`]: an event loop's own non-blocking connection, its queries
//!   pipelined, spoken with the sans-I/O `postgres-protocol` crate: what a loop does
//!   without `--offload`.

pub mod client;
pub mod parked;
pub mod pipeline;

pub use client::read;
pub use pipeline::Pipeline;
