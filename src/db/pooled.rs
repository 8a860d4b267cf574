//! The async family's way to query: `tokio-postgres` connections in a `deadpool`
//! pool, what an async Rust service runs in production, awaited on the runtime that
//! serves the connections (async, async-mt).
//!
//! A server makes one [`AsyncPool`] when it starts ([`AsyncPool::new`]: nothing connects yet),
//! on the runtime whose tasks will use it; a request takes a connection from it for
//! the time of its queries, and connections are opened as requests need them, up to
//! the pool's size, and kept. Each connection prepares the statement once
//! (`prepare_cached`, deadpool's statement cache per connection).
//!
//! One query per row, as TechEmpower's rules require (no `IN` list, no batching into
//! one statement); but the rows of one `/queries` request are asked for all at once on
//! its connection: tokio-postgres sends a query when its future is first polled, so
//! futures polled together ([`try_join_all`]) are pipelined, N queries in flight on one
//! connection and one round trip's wait for all of them. That is how TechEmpower's
//! fastest Rust entries read their rows.
//!
//! # The pool's size
//!
//! [`default_size`]: twice the CPUs, 4 on this project's 2-core machines: the
//! PostgreSQL wiki's rule for a pool (cores × 2, plus a connection per disk spindle,
//! here none, as the `World` table is in memory). A request holds its connection for
//! its round trip only, and pipelines its rows on it, so a few connections keep
//! PostgreSQL's cores busy; more backends than that would take turns on the same cores.
//! `serve --db-pool N` sets another.
//!
//! # When the database fails
//!
//! A query that fails answers [`Outcome::Failed`] with PostgreSQL's reason
//! ([`client::reason`]); a connection that broke is noticed when it is next taken
//! (deadpool's fast recycling checks that it is open) and replaced by a new one, so a
//! database that went away and came back is used again without a restart.

use std::time::Duration;

use deadpool_postgres::{ManagerConfig, PoolError, RecyclingMethod, Runtime, TimeoutType};
use futures_util::future::try_join_all;
use tokio_postgres::{NoTls, Statement};

use super::client::{self, random_id};
use super::world::SELECT_ROW;
use crate::protocol::{Outcome, Query, World};

/// How long opening a connection may take before the request fails (the database's
/// host may not answer at all).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The connections a pool holds when `serve --db-pool` does not say: twice the CPUs
/// (see the module documentation).
pub fn default_size() -> usize {
    2 * std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A server's pool of connections to its database.
#[derive(Debug, Clone)]
pub struct AsyncPool {
    inner: deadpool_postgres::Pool,
}

impl AsyncPool {
    /// A pool of at most `size` connections to `url` (a `postgres://` URL or a
    /// key=value string), none open yet; an error if `url` does not parse. Its
    /// connections run on the tokio runtime that first uses them.
    pub fn new(url: &str, size: usize) -> Result<AsyncPool, String> {
        let config: tokio_postgres::Config = url.parse().map_err(|err| client::reason(&err))?;
        let manager = deadpool_postgres::Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // Checks only that the connection is open: no extra round trip for
                // every request (`Verified` would send a query first).
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let inner = deadpool_postgres::Pool::builder(manager)
            .max_size(size)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|err| format!("database: cannot make the pool: {err}"))?;
        Ok(AsyncPool { inner })
    }

    /// The most connections it holds.
    pub fn max_size(&self) -> usize {
        self.inner.status().max_size
    }

    /// The connections open now, in use or idle.
    pub fn open(&self) -> usize {
        self.inner.status().size
    }

    /// Reads the rows `query` asks for, at random ids, on a connection of the pool,
    /// awaited: the rows, or the database's reason for failing.
    pub async fn read(&self, query: Query) -> Outcome {
        match self.rows(query.rows()).await {
            Ok(rows) => Outcome::Rows(rows),
            Err(reason) => client::failed(reason),
        }
    }

    /// `n` rows, each its own query, all sent at once on one connection.
    async fn rows(&self, n: usize) -> Result<Vec<World>, String> {
        let conn = self.inner.get().await.map_err(|err| pool_reason(&err))?;
        let select = conn
            .prepare_cached(SELECT_ROW)
            .await
            .map_err(|err| client::reason(&err))?;
        let reads = (0..n).map(|_| read_row(&conn, &select));
        try_join_all(reads)
            .await
            .map_err(|err| client::reason(&err))
    }
}

/// One row at a random id.
async fn read_row(
    conn: &tokio_postgres::Client,
    select: &Statement,
) -> Result<World, tokio_postgres::Error> {
    let id = random_id();
    let row = conn.query_one(select, &[&id]).await?;
    Ok(World {
        id: row.try_get(0)?,
        random_number: row.try_get(1)?,
    })
}

/// Why no connection could be had, in one line.
fn pool_reason(err: &PoolError) -> String {
    match err {
        PoolError::Backend(err) => client::reason(err),
        PoolError::Timeout(TimeoutType::Create) => format!(
            "database: no connection within {} s",
            CONNECT_TIMEOUT.as_secs()
        ),
        other => format!("database: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_is_made_without_connecting() {
        // Nothing listens there: making the pool must not try.
        let pool = AsyncPool::new("postgres://nobody@127.0.0.1:1/none", 3).unwrap();
        assert_eq!((pool.max_size(), pool.open()), (3, 0));
    }

    #[test]
    fn a_url_that_does_not_parse_is_one_line() {
        let err = AsyncPool::new("postgres://h:notaport/x", 2).unwrap_err();
        assert!(
            err.starts_with("database: ") && !err.contains('\n'),
            "{err}"
        );
    }

    #[test]
    fn a_database_that_cannot_be_reached_fails_the_query_with_its_reason() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let pool = AsyncPool::new("postgres://nobody@127.0.0.1:1/none", 2).unwrap();
        let Outcome::Failed(reason) = runtime.block_on(pool.read(Query::Many(3))) else {
            panic!("rows from nowhere");
        };
        assert!(reason.starts_with("database: "), "{reason}");
        assert!(reason.to_lowercase().contains("refused"), "{reason}");
        assert_eq!(pool.open(), 0);
    }
}
