//! Hostile clients against the blocking family, whose workers a client can capture: a
//! silent client, a slowloris or a client that never reads holds a worker at most
//! about the timeout, so a well-behaved client behind them is served, late but served.
//! And against the readiness family, which a client cannot capture but which must not
//! keep a client that never reads for ever either.
//! (The whole hostile mix, against models of every family, is in `bench_abuse`.)

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::util::http::{get, read_responses};
use crate::util::ServerProc;

/// Starts a slowloris on its own thread: a request head, then a byte every 300 ms,
/// never finishing, until `stop`.
fn slowloris(server: &ServerProc, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let mut stream = server.connect();
    std::thread::spawn(move || {
        let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        while !stop.load(Ordering::SeqCst) {
            if stream.write_all(b"s").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    })
}

/// With both workers held by a silent client and a slowloris, a GET is still answered
/// once the 1 s header timeout frees a worker: well within the bound below, where a
/// server without the timeout would never answer.
fn silent_and_slowloris_do_not_starve_others(model: &str) {
    let server = ServerProc::start(model, "http", &["--workers", "2", "--timeout", "1"]);
    let stop = Arc::new(AtomicBool::new(false));
    let _silent = server.connect();
    let trickler = slowloris(&server, stop.clone());
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let mut client = server.connect();
    client.write_all(get("/").as_bytes()).unwrap();
    let responses = read_responses(&mut client, &mut Vec::new(), &[false]);
    let waited = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    trickler.join().unwrap();
    assert_eq!(responses[0].status, 200, "{model}");
    assert!(
        waited < Duration::from_secs(10),
        "{model}: a well-behaved client waited {waited:?} behind two hostile ones"
    );
}

mod silent_and_slowloris {
    #[test]
    fn blocking() {
        super::silent_and_slowloris_do_not_starve_others("blocking");
    }
    #[test]
    fn prefork() {
        super::silent_and_slowloris_do_not_starve_others("prefork");
    }
    #[test]
    fn prethread() {
        super::silent_and_slowloris_do_not_starve_others("prethread");
    }
    #[test]
    fn threadpool() {
        super::silent_and_slowloris_do_not_starve_others("threadpool");
    }
}

/// A reply waits on a client that never reads at most the write timeout (here 1 s; by
/// default the idle timeout, or 10 s for echo, which has none): then the only worker
/// serves the next client (generous bound: a loaded machine may be slow to get there).
#[test]
fn a_never_reading_echo_client_frees_its_worker() {
    let server = ServerProc::start("prethread", "echo", &["--workers", "1", "--timeout", "1"]);
    let hog = never_reading_echo_client(&server);
    let started = Instant::now();
    let mut client = server.connect();
    client.write_all(b"hello").unwrap();
    let mut reply = [0u8; 5];
    client
        .read_exact(&mut reply)
        .expect("an echo once the hog is cut off");
    assert_eq!(&reply, b"hello");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "waited {:?}",
        started.elapsed()
    );
    drop(hog);
}

/// Sends echo bytes it never reads until the socket buffers on both sides are full and
/// the server's reply stalls.
fn never_reading_echo_client(server: &ServerProc) -> TcpStream {
    let mut hog = server.connect();
    hog.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let chunk = vec![b'h'; 64 * 1024];
    while hog.write_all(&chunk).is_ok() {}
    hog
}

/// Keeps writing `payload` (never reading) until a write fails because the server
/// dropped the connection; returns how long after `since` that was, at most `limit`.
/// The client's write timeout makes a full socket buffer a retry, not a failure.
fn write_until_dropped(
    hog: &mut TcpStream,
    payload: &[u8],
    since: Instant,
    limit: Duration,
    model: &str,
) -> Duration {
    let started = since;
    loop {
        match hog.write(payload) {
            Ok(_) => {}
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return started.elapsed(),
        }
        assert!(
            started.elapsed() < limit,
            "{model}: a client that never reads was kept for {limit:?}"
        );
    }
}

/// A readiness or async model drops an echo client whose reply made no progress for
/// the write timeout. Without `--timeout`, the idle deadline would never end it, so the
/// write timeout is the 10 s default; with one, the idle deadline ends it first, and
/// the test would prove nothing. The client learns of the close by the reset its next
/// write gets (the server closed with unread input), without reading, which would let
/// the reply progress.
///
/// Timed from before the client connects: the server's clock for a stalled reply
/// starts at its last progress, which may come anywhere while the client fills the
/// buffers (seconds on a loaded machine), never before the connection exists. Timed
/// from the end of the filling, as it once was, a slow fill left less than the bound.
fn a_never_reading_client_is_dropped(model: &str) {
    let server = ServerProc::start(model, "echo", &[]);
    let connecting = Instant::now();
    let mut hog = never_reading_echo_client(&server);
    let limit = Duration::from_secs(40);
    let closed = write_until_dropped(&mut hog, b"h", connecting, limit, model);
    // The 10 s write timeout runs from the last progress, after the connect; a second
    // of slack for the server's clock, read once per loop turn.
    assert!(
        closed >= Duration::from_secs(9),
        "{model}: dropped {closed:?} after connecting"
    );
}

mod never_reading_client {
    #[test]
    fn epoll() {
        super::a_never_reading_client_is_dropped("epoll");
    }
    #[test]
    fn epoll_et() {
        super::a_never_reading_client_is_dropped("epoll-et");
    }
    #[test]
    fn uring() {
        super::a_never_reading_client_is_dropped("uring");
    }
    #[test]
    fn select_threads() {
        super::a_never_reading_client_is_dropped("select-threads");
    }
    #[test]
    fn r#async() {
        super::a_never_reading_client_is_dropped("async");
    }
    #[test]
    fn async_mt() {
        super::a_never_reading_client_is_dropped("async-mt");
    }
}

/// An HTTP client that pipelines requests and never reads their replies is dropped
/// once the idle timeout passes, even with a reply stuck in flight (io_uring keeps the
/// send queued in the kernel until the socket is shut down).
#[test]
fn a_never_reading_http_client_is_dropped_at_the_timeout() {
    let server = ServerProc::start("uring", "http", &["--timeout", "1"]);
    let connecting = Instant::now();
    let mut hog = server.connect();
    hog.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let requests = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(2048);
    let limit = Duration::from_secs(15);
    let closed = write_until_dropped(&mut hog, &requests, connecting, limit, "uring");
    assert!(
        closed >= Duration::from_secs(1),
        "dropped {closed:?} after connecting"
    );
}
