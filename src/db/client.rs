//! Reading `World` rows with the blocking `postgres` driver, on a connection of the
//! calling thread's own: what a thread or a process that serves requests one at a time
//! does (and a pool thread, for an event loop).
//!
//! The connection opens on the thread's first query and stays open; a failed query
//! closes it, so the next one reconnects (a database that restarted, or refused the
//! connection, is tried again instead of failing forever). A process made by fork(2)
//! never uses a connection its parent opened: the connection remembers its process.
//! Each query is the prepared [`world::SELECT_ROW`], one
//! per row, as TechEmpower's rules require (no `IN` list, no batching into one
//! statement).

use std::cell::RefCell;

use postgres::{Client, NoTls, Statement};

#[path = "closer.rs"]
mod closer;

use super::world;
use crate::log::RateLimited;
use crate::protocol::{Outcome, Query, World};

/// Failures are answered `503` with their reason, and told on stderr once a second.
static FAILING: RateLimited = RateLimited::new();

/// A random id of the `World` table.
pub fn random_id() -> i32 {
    fastrand::i32(1..=world::ROWS)
}

/// A thread's open connection and what it was opened for.
struct Conn {
    url: &'static str,
    pid: u32,
    /// Always there but while the connection is being dropped.
    client: Option<Client>,
    select: Statement,
}

/// A connection ends on a thread of its own: the blocking driver closes it through a
/// tokio runtime, which cannot run in a thread-local destructor (a thread that served
/// requests and exits drops its connection there, after tokio's own thread-locals
/// may be gone).
impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            closer::close(client);
        }
    }
}

thread_local! {
    static CONN: RefCell<Option<Conn>> = const { RefCell::new(None) };
}

/// Reads the rows `query` asks for, at random ids, from the database at `url`, on the
/// calling thread's connection (opened now if it has none). Blocks the thread.
pub fn read(query: Query, url: &'static str) -> Outcome {
    CONN.with(|cell| {
        let mut slot = cell.borrow_mut();
        let pid = std::process::id();
        if !matches!(&*slot, Some(c) if c.url == url && c.pid == pid) {
            // A connection inherited through fork(2) is the parent's: forget it
            // without closing it (closing would end the parent's session).
            if let Some(inherited) = slot.take() {
                std::mem::forget(inherited);
            }
            match connect(url) {
                Ok(conn) => *slot = Some(conn),
                Err(reason) => return failed(reason),
            }
        }
        let conn = slot.as_mut().expect("connected above");
        match rows(conn, query.rows()) {
            Ok(rows) => Outcome::Rows(rows),
            Err(err) => {
                *slot = None;
                failed(reason(&err))
            }
        }
    })
}

fn failed(reason: String) -> Outcome {
    FAILING.warn(format_args!("{reason}"));
    Outcome::Failed(reason)
}

/// Opens a connection to `url` and prepares the statement, then closes it: what a
/// server checks before it serves, so a wrong `--database` is one line at the start
/// rather than a `503` on every request.
pub fn check(url: &'static str) -> Result<(), String> {
    connect(url).map(drop)
}

/// Opens a connection and prepares the statement.
fn connect(url: &'static str) -> Result<Conn, String> {
    let mut client = Client::connect(url, NoTls).map_err(|e| reason(&e))?;
    let select = client.prepare(world::SELECT_ROW).map_err(|e| reason(&e))?;
    Ok(Conn {
        url,
        pid: std::process::id(),
        client: Some(client),
        select,
    })
}

fn rows(conn: &mut Conn, n: usize) -> Result<Vec<World>, postgres::Error> {
    let client = conn.client.as_mut().expect("open until dropped");
    (0..n)
        .map(|_| {
            let row = client.query_one(&conn.select, &[&random_id()])?;
            Ok(World {
                id: row.try_get(0)?,
                random_number: row.try_get(1)?,
            })
        })
        .collect()
}

/// One line a client can be shown: PostgreSQL's own message where it sent one
/// ("sorry, too many clients already"), else the driver's error and its cause.
pub fn reason(err: &postgres::Error) -> String {
    let text = match err.as_db_error() {
        Some(db) => format!("database: {}", db.message()),
        None => match std::error::Error::source(err) {
            Some(cause) => format!("database: {err}: {cause}"),
            None => format!("database: {err}"),
        },
    };
    text.replace(['\r', '\n'], " ")
}
