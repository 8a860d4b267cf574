//! The database behind `/db` and `/queries`: TechEmpower's `World` table in
//! PostgreSQL, read the way each family reads it in production.
//!
//! - [`client`]: the blocking driver (`postgres`), one connection per thread or
//!   process that serves requests: the blocking family's way, and a pool thread's.
//! - [`parked`]: a pool of threads with connections that a coroutine hands its query
//!   to and parks on until the rows come back (may's sockets have no PostgreSQL
//!   driver on crates.io, and a blocking driver would stall every coroutine of the
//!   thread).
//! - [`pooled`]: the async driver (`tokio-postgres`) in a `deadpool` pool, a request's
//!   rows pipelined on one connection: async and async-mt.

pub mod client;
pub mod parked;
pub mod pooled;

pub use client::read;
