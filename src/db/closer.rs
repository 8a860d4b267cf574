//! A thread that closes the blocking driver's connections for threads that cannot:
//! see [`close`].

use std::sync::Mutex;

use crossbeam_channel::Sender;
use postgres::Client;

/// The closing thread's queue, and the process it was started in: a process made by
/// fork(2) has no such thread, whatever its parent had, and starts its own.
static CLOSER: Mutex<Option<(u32, Sender<Client>)>> = Mutex::new(None);

/// Closes `client` on the closing thread (started on first use), which sends
/// PostgreSQL its Terminate message; the calling thread may be exiting. If that thread
/// cannot be started the connection is dropped here, and a panic in a thread that
/// exits ends only that thread's own connection.
pub fn close(client: Client) {
    let pid = std::process::id();
    let mut closer = CLOSER.lock().unwrap_or_else(|e| e.into_inner());
    if !matches!(&*closer, Some((started_in, _)) if *started_in == pid) {
        *closer = start().map(|queue| (pid, queue));
    }
    match &*closer {
        Some((_, queue)) => {
            if let Err(unsent) = queue.send(client) {
                drop(closer);
                drop(unsent.into_inner());
            }
        }
        None => {
            drop(closer);
            drop(client);
        }
    }
}

fn start() -> Option<Sender<Client>> {
    let (queue, closing) = crossbeam_channel::unbounded::<Client>();
    std::thread::Builder::new()
        .name("db-close".into())
        .spawn(move || closing.iter().for_each(drop))
        .ok()
        .map(|_| queue)
}
