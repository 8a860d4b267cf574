//! `coroutines`: stackful coroutines with may, the analogue of gevent and goroutines
//! (seeds 002, 000).
//!
//! A coroutine accepts, and each connection gets a coroutine of its own that runs the
//! same blocking loop as the thread models ([`crate::conn::blocking::serve`]): its
//! reads and writes look blocking, but on would-block may suspends only the coroutine
//! and its event loop resumes it when the socket is ready, as gevent's monkey-patched
//! sockets do. A coroutine costs a small stack instead of a thread.
//!
//! It says `listening on` only once may's scheduler runs the accept coroutine: may
//! starts its threads with the first coroutine, and a client told to connect before
//! then would wait on a server that is not yet serving.
//!
//! `--workers` is may's number of scheduler threads; the default of one is gevent's
//! single thread. With `--database`, the pool of threads that query for the coroutines
//! ([`crate::db::parked`]) starts with the server: `--db-pool` threads, each with a
//! connection. The main thread only watches the stop flag (returning ends the
//! process, and may's threads with it) and the number of live connections, to give
//! the memory of finished ones back ([`IdleTrim`]).

use std::io;
use std::time::Duration;

use super::{Family, ModelInfo, OffloadUse, Workers};
use super::{Launch, STOP_POLL};
use crate::conn::trim::{IdleTrim, LiveCount};
use crate::conn::{self, accept::AcceptError, ConnOptions};
use crate::db;
use crate::log::RateLimited;
use crate::sys;

pub static INFO: ModelInfo = ModelInfo {
    name: "coroutines",
    family: Family::Coroutine,
    workers: Workers::Pool(1),
    mechanism: "stackful coroutines (may), a coroutine per connection",
    origin: "seed 002, 000",
    reuse_port: false,
    descriptor_ceiling: None,
    announces_when_ready: true,
    offload: OffloadUse::Never(
        "each connection's coroutine carries out its work (a cooperative sleep through a \
         wait, CPU inline): there is no loop to offload from",
    ),
    precheck: None,
    run,
};

/// A coroutine's stack. The connection loop keeps its buffers on the heap; the rest is
/// headroom for parsing, formatting a log line and unwinding a panic. Pages never
/// touched are never backed by memory.
const COROUTINE_STACK: usize = 64 * 1024;

/// How many finished coroutines may keeps, stacks and all, for the next ones. Each
/// keeps the pages its connection touched, and may fills the pool when it starts, so
/// its default of 1000 costs memory before the first connection and more after a burst
/// (docs/results.md, *What a held connection costs in memory*). 256 covers the
/// concurrency of a churning load (bench echo's 150 workers, a compare level of 100);
/// beyond it a coroutine costs an mmap and an munmap.
const COROUTINE_POOL: usize = 256;

/// How long may's scheduler may take to run the accept coroutine.
const SCHEDULER_START: Duration = Duration::from_secs(5);

static SPAWN_FAILED: RateLimited = RateLimited::new();

fn run(launch: Launch) -> io::Result<()> {
    // Must precede the first may call: the scheduler starts with the first coroutine
    // or socket and reads its configuration once.
    let config = may::config();
    config
        .set_workers(launch.workers)
        .set_stack_size(COROUTINE_STACK / std::mem::size_of::<usize>())
        .set_pool_capacity(COROUTINE_POOL);
    // may pins its workers to cores by default; no other model pins, and on a shared
    // machine pinning would tie it to core 0 whatever else runs there.
    config.set_worker_pin(false);
    let listener = sys::coroutine::listener(launch.listener)?;
    let opts = launch.conn;
    if let Some(database) = opts.handlers.database {
        let threads = database
            .pool
            .map_or(db::parked::DEFAULT_THREADS, usize::from);
        if db::parked::start(threads) == 0 {
            return Err(io::Error::other("no database thread started"));
        }
    }
    let live = LiveCount::new();
    let serving = live.clone();
    let (started, running) = std::sync::mpsc::sync_channel::<()>(1);
    sys::coroutine::spawn(move || {
        let _ = started.send(());
        accept_loop(&listener, opts, &serving);
    })?;
    running
        .recv_timeout(SCHEDULER_START)
        .map_err(|_| io::Error::other("may's scheduler did not start the accept loop"))?;
    if let Some(announce) = launch.announce {
        announce.say()?;
    }
    let mut trim = IdleTrim::new();
    while !launch.stop.is_set() {
        trim.observe(live.count());
        std::thread::sleep(STOP_POLL);
    }
    Ok(())
}

fn accept_loop(listener: &may::net::TcpListener, opts: ConnOptions, live: &LiveCount) {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                let guard = live.enter();
                let spawned = sys::coroutine::spawn(move || {
                    let _guard = guard;
                    conn::blocking::serve(stream, &opts, None);
                });
                if let Err(err) = spawned {
                    SPAWN_FAILED.warn(format_args!(
                        "cannot start a connection coroutine: {err}; connection closed"
                    ));
                }
            }
            Err(err) => {
                if conn::accept::classify(&err, listener.inner()) == AcceptError::Backoff {
                    // A coroutine's sleep: std's would stall every coroutine of the thread.
                    may::coroutine::sleep(conn::accept::BACKOFF);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::*;
    use crate::model::Announce;

    #[test]
    fn says_listening_on_once_its_accept_loop_runs_and_serves() {
        let (said, heard) = std::sync::mpsc::channel();
        let (launch, stop) = crate::model::test_launch(Some(Announce::new(move || {
            said.send(()).map_err(io::Error::other)
        })));
        let addr = launch.addr;
        let model = std::thread::spawn(move || run(launch));
        heard
            .recv_timeout(Duration::from_secs(10))
            .expect("it says listening on");
        let mut client = TcpStream::connect(addr).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        client.write_all(b"ping").unwrap();
        let mut echo = [0; 4];
        client.read_exact(&mut echo).unwrap();
        assert_eq!(&echo, b"ping");
        assert!(heard.try_recv().is_err(), "said once");
        stop.set();
        model.join().unwrap().unwrap();
    }
}
