//! Queries a coroutine hands to a pool of threads, parking until the rows come back.
//!
//! A may coroutine that called the blocking driver would hold its worker thread, and
//! every coroutine scheduled there, for the whole round trip to PostgreSQL. So the
//! coroutine sends the query to one of the pool's threads, each with its connection
//! ([`super::client`]), and waits on a may channel, which parks only the coroutine:
//! the threads of the pool are the database connections, seed 004's hybrid with
//! coroutines in the place of the event loop.
//!
//! The server starts the pool ([`start`]) with `serve --db-pool N` threads, or
//! [`DEFAULT_THREADS`]: more than the async pool's connections
//! ([`super::pooled::default_size`]), because the blocking driver cannot pipeline: a
//! `/queries` request holds its thread and connection for one round trip per row, one
//! after another.

use std::sync::OnceLock;

use crossbeam_channel::Sender;

use super::client;
use crate::protocol::{Outcome, Query};

/// Threads, and so database connections, in the pool of a coroutine server when
/// `serve --db-pool` does not say.
pub const DEFAULT_THREADS: usize = 16;

/// A query and where its outcome goes.
struct Job {
    query: Query,
    url: &'static str,
    reply: may::sync::mpsc::Sender<Outcome>,
}

/// The pool's queue, and how many of its threads started.
static POOL: OnceLock<(Sender<Job>, usize)> = OnceLock::new();

/// Starts the pool with `threads` threads, each opening its connection at its first
/// query; the threads a pool already started has (a process serves once) stay. Returns
/// the pool's size.
pub fn start(threads: usize) -> usize {
    pool(threads).1
}

/// Reads `query` from `url` on a pool thread; the calling coroutine parks meanwhile.
pub fn read(query: Query, url: &'static str) -> Outcome {
    let (reply, outcome) = may::sync::mpsc::channel();
    let job = Job { query, url, reply };
    if pool(DEFAULT_THREADS).0.send(job).is_err() {
        return Outcome::Failed("database: the query pool has stopped".into());
    }
    outcome
        .recv()
        .unwrap_or_else(|_| Outcome::Failed("database: a query thread ended".into()))
}

/// The pool, started with `threads` threads unless it runs already. (If no thread
/// starts, the queue's last receiver is dropped with this closure and every query
/// fails at once instead of waiting.)
fn pool(threads: usize) -> &'static (Sender<Job>, usize) {
    POOL.get_or_init(|| {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        let mut started = 0;
        for _ in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name("db".into())
                .spawn(move || {
                    while let Ok(job) = queue.recv() {
                        // The coroutine may be gone (its client reset): nobody to tell.
                        let _ = job.reply.send(client::read(job.query, job.url));
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(err) => eprintln!("iomodels: a database thread did not start: {err}"),
            }
        }
        (jobs, started)
    })
}
