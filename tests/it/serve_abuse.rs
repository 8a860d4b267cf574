//! Hostile clients against the blocking family, whose workers a client can capture: a
//! silent client, a slowloris or a client that never reads holds a worker at most
//! about the timeout, so a well-behaved client behind them is served, late but served.
//! (The whole hostile mix, against models of every family, is in `bench_abuse`.)

use std::io::{Read, Write};
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
    let mut hog = server.connect();
    hog.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let chunk = vec![b'h'; 64 * 1024];
    // Until the socket buffers on both sides are full and the server's write blocks.
    while hog.write_all(&chunk).is_ok() {}
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
