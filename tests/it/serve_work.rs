//! Requests that need work (`/cpu`, `/wait`) under every model: answered, HEAD without
//! a body, pipelined replies in order; and each family's way of carrying the work out:
//! the waits of many clients overlap where the model claims it, a loop that carries a
//! wait out inline really stalls, a burn really costs the server CPU, and an async loop
//! that burns inline stalls its other connections unless the burn is offloaded.

use std::io::Write;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::util::http::{get, read_responses};
use crate::util::{reads_to_eof, ServerProc};

per_model!([work_cpu_wait_and_head_are_answered, work_pipelined_in_order]);

/// Small amounts: these tests check the replies, not the timing.
const QUICK: &[&str] = &["--wait", "20ms", "--cpu-work", "1ms"];

fn work_cpu_wait_and_head_are_answered(model: &str) {
    let server = ServerProc::start(model, "http", QUICK);
    let mut stream = server.connect();
    let mut carry = Vec::new();
    for path in ["/cpu", "/wait", "/cpu?amount=9s", "/"] {
        stream.write_all(get(path).as_bytes()).unwrap();
        let r = &read_responses(&mut stream, &mut carry, &[false])[0];
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, b"Hello, World!".as_slice())
        );
    }
    stream
        .write_all(b"HEAD /wait HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let r = &read_responses(&mut stream, &mut carry, &[true])[0];
    assert_eq!((r.status, r.header("content-length")), (200, Some("13")));
    // No body followed: the next reply starts right after the head.
    stream.write_all(get("/cpu").as_bytes()).unwrap();
    let r = &read_responses(&mut stream, &mut carry, &[false])[0];
    assert_eq!(r.body, b"Hello, World!");
}

fn work_pipelined_in_order(model: &str) {
    let server = ServerProc::start(model, "http", QUICK);
    let mut stream = server.connect();
    let burst = format!(
        "{}HEAD /cpu HTTP/1.1\r\nHost: t\r\n\r\n{}GET /wait HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        get("/wait"),
        get("/")
    );
    stream.write_all(burst.as_bytes()).unwrap();
    let all = read_responses(&mut stream, &mut Vec::new(), &[false, true, false, false]);
    let bodies: Vec<usize> = all.iter().map(|r| r.body.len()).collect();
    assert_eq!(bodies, [13, 0, 13, 13], "in request order");
    assert_eq!(all[3].header("connection"), Some("close"));
    assert!(reads_to_eof(&mut stream), "closed after the last reply");
}

/// `clients` connections at once, each sending one `GET /wait` (and asking to close,
/// so a model that serves one connection at a time moves on); how long until every
/// reply was in.
pub fn concurrent_waits(server: &ServerProc, clients: usize) -> Duration {
    let request = b"GET /wait HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let start = Arc::new(Barrier::new(clients + 1));
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let mut stream = server.connect();
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                stream.write_all(request).unwrap();
                let r = &read_responses(&mut stream, &mut Vec::new(), &[false])[0];
                assert_eq!(r.status, 200);
            })
        })
        .collect();
    // The clock starts before the barrier lets the clients go, so a lower bound on the
    // time taken holds even when a client sends before this thread is scheduled again.
    let started = Instant::now();
    start.wait();
    for worker in workers {
        worker.join().expect("a client got its reply");
    }
    started.elapsed()
}

const WAIT: Duration = Duration::from_millis(200);
const CLIENTS: usize = 20;

/// Waits that overlap: 20 waits of 200 ms, which take 4 s one after another, all done
/// in well under that (2 s: ten times one wait, a margin for a loaded machine).
pub fn waits_overlap(model: &str, extra: &[&str]) {
    let mut args = vec!["--wait", "200ms"];
    args.extend_from_slice(extra);
    let server = ServerProc::start(model, "http", &args);
    let took = concurrent_waits(&server, CLIENTS);
    assert!(took >= WAIT, "{model}: {took:?}, less than one wait");
    assert!(
        took < WAIT * CLIENTS as u32 / 2,
        "{model}: {CLIENTS} waits of {WAIT:?} took {took:?}: they did not overlap"
    );
}

#[test]
fn waits_overlap_in_threads() {
    waits_overlap("threads", &[]);
}

#[test]
fn waits_overlap_in_fork() {
    waits_overlap("fork", &[]);
}

#[test]
fn waits_overlap_in_a_pool_of_20_processes_or_threads() {
    for model in ["prefork", "prethread", "threadpool"] {
        waits_overlap(model, &["--workers", "20"]);
    }
}

#[test]
fn waits_overlap_in_async() {
    waits_overlap("async", &[]);
}

#[test]
fn waits_overlap_in_async_mt() {
    waits_overlap("async-mt", &[]);
}

/// may's sleep parks the coroutine: on one scheduler thread, the waits still overlap
/// (a thread's sleep would make them take turns).
#[test]
fn waits_overlap_in_coroutines_on_one_thread() {
    waits_overlap("coroutines", &["--workers", "1"]);
}

/// Waits that take turns: the one thread of `blocking`, and an event loop told to carry
/// work out inline (`--offload 0`), serve one wait after another: 10 waits of 100 ms
/// take a second at least.
#[test]
fn a_wait_stalls_blocking_and_an_inline_event_loop() {
    for (model, extra) in [("blocking", None), ("epoll", Some("--offload=0"))] {
        let mut args = vec!["--wait", "100ms"];
        args.extend(extra);
        let server = ServerProc::start(model, "http", &args);
        let took = concurrent_waits(&server, 10);
        assert!(
            took >= Duration::from_millis(1000),
            "{model}: 10 waits of 100 ms in {took:?}: they overlapped"
        );
    }
}

/// The CPU time the process `pid` has used (user and system, its own threads').
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    // utime and stime: fields 14 and 15 of proc(5), in clock ticks (100 a second).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// `/cpu` burns real CPU in the server, whatever the family does with it: 20 burns of
/// 10 ms cost the process 200 ms of CPU (checked loosely: at least 150 ms).
#[test]
fn cpu_work_costs_the_server_cpu_in_every_family() {
    for (model, extra) in [
        ("threads", None),
        ("coroutines", None),
        ("async", None),
        ("async-mt", Some("--offload=2")),
        ("epoll", None),
    ] {
        let mut args = vec!["--cpu-work", "10ms"];
        args.extend(extra);
        let server = ServerProc::start(model, "http", &args);
        let mut stream = server.connect();
        let mut carry = Vec::new();
        let before = cpu_time(server.pid());
        for _ in 0..20 {
            stream.write_all(get("/cpu").as_bytes()).unwrap();
            assert_eq!(
                read_responses(&mut stream, &mut carry, &[false])[0].status,
                200
            );
        }
        let used = cpu_time(server.pid()) - before;
        assert!(
            used >= Duration::from_millis(150),
            "{model}: 20 burns of 10 ms cost {used:?} of CPU"
        );
    }
}

/// How long `GET /` takes on a second connection while the first one's `/cpu` burns
/// 800 ms on an async server with one runtime thread.
fn hello_during_a_burn(extra: &[&str]) -> Duration {
    let mut args = vec!["--cpu-work", "800ms"];
    args.extend_from_slice(extra);
    let server = ServerProc::start("async", "http", &args);
    let mut burning = server.connect();
    let mut other = server.connect();
    burning.write_all(get("/cpu").as_bytes()).unwrap();
    // Long enough for the server to have started the burn.
    std::thread::sleep(Duration::from_millis(150));
    let asked = Instant::now();
    other.write_all(get("/").as_bytes()).unwrap();
    read_responses(&mut other, &mut Vec::new(), &[false]);
    let took = asked.elapsed();
    read_responses(&mut burning, &mut Vec::new(), &[false]);
    took
}

/// The classic async mistake, and its cure: a burn inline on the runtime's only thread
/// holds every other connection until it ends; on spawn_blocking (`--offload 1`) it
/// holds none.
#[test]
fn an_inline_burn_stalls_async_and_an_offloaded_one_does_not() {
    let inline = hello_during_a_burn(&[]);
    assert!(
        inline >= Duration::from_millis(400),
        "inline: GET / answered in {inline:?} during an 800 ms burn"
    );
    let offloaded = hello_during_a_burn(&["--offload", "1"]);
    assert!(
        offloaded < Duration::from_millis(400),
        "offloaded: GET / took {offloaded:?} during an 800 ms burn"
    );
}
