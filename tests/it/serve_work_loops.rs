//! The event loops (the readiness models and uring) carry work out three ways, each
//! tested under every loop model: by default a wait is the loop's own timer, so waits
//! overlap; `--offload 0` waits inside the loop, which really stalls; `--offload N`
//! hands work to a pool of N threads, so N waits overlap at a time. Whatever the way, a
//! client that goes away while its work is in flight harms nobody, and the server
//! still stops within a second.
//!
//! One loop each (`--workers 1`, which the single-loop models ignore), where the count
//! matters: the multi-loop models have a loop (and a pool) per worker.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use socket2::SockRef;

use crate::serve_work::{concurrent_waits, cpu_time, waits_overlap};
use crate::util::http::{get, read_responses};
use crate::util::{descendants, ServerProc};

per_loop_model!([
    loop_waits_overlap_by_default,
    loop_waits_inline_take_turns,
    loop_pool_of_4_serves_8_waits_in_two_rounds,
    loop_cpu_offloaded_is_answered,
    loop_clients_gone_during_their_wait_harm_nobody,
    loop_stops_promptly_with_waits_in_flight,
]);

fn loop_waits_overlap_by_default(model: &str) {
    waits_overlap(model, &[]);
}

/// How long `clients` waits of `wait` take on one loop of `model` with `--offload N`.
fn timed_waits(model: &str, offload: &str, wait: &str, clients: usize) -> Duration {
    let args = ["--wait", wait, "--offload", offload, "--workers", "1"];
    let server = ServerProc::start(model, "http", &args);
    concurrent_waits(&server, clients)
}

/// 5 waits of 200 ms, one after another: a second at least.
fn loop_waits_inline_take_turns(model: &str) {
    let took = timed_waits(model, "0", "200ms", 5);
    assert!(
        took >= Duration::from_millis(1000),
        "{model} --offload 0: 5 waits of 200 ms in {took:?}: the loop did not stall"
    );
}

/// 4 threads, 8 waits of 300 ms: two rounds (600 ms); not one (the loop's own timers
/// would do that), nor eight (inline, 2.4 s); generous above for a loaded machine.
fn loop_pool_of_4_serves_8_waits_in_two_rounds(model: &str) {
    let took = timed_waits(model, "4", "300ms", 8);
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_millis(1800),
        "{model} --offload 4: 8 waits of 300 ms in {took:?}, not about two rounds"
    );
}

/// `/cpu` burnt in the pool is answered, pipelined behind a `/wait` and before a `GET /`.
fn loop_cpu_offloaded_is_answered(model: &str) {
    let args = ["--offload", "2", "--cpu-work", "5ms", "--wait", "20ms"];
    let server = ServerProc::start(model, "http", &args);
    let mut stream = server.connect();
    let burst = [get("/cpu"), get("/wait"), get("/cpu"), get("/")].concat();
    stream.write_all(burst.as_bytes()).unwrap();
    let all = read_responses(&mut stream, &mut Vec::new(), &[false; 4]);
    for reply in all {
        assert_eq!(
            (reply.status, reply.body.as_slice()),
            (200, b"Hello, World!".as_slice())
        );
    }
}

/// Descriptors the server's process tree holds open.
fn open_fds(pid: u32) -> usize {
    std::iter::once(pid)
        .chain(descendants(pid))
        .filter_map(|pid| std::fs::read_dir(format!("/proc/{pid}/fd")).ok())
        .map(Iterator::count)
        .sum()
}

/// Polls `open_fds` until it is `expected` (or two looks 100 ms apart agree, when
/// `expected` is `None`), for at most 5 s; the last count seen.
fn settled_fds(pid: u32, expected: Option<usize>) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = open_fds(pid);
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = open_fds(pid);
        if expected.map_or(now == last, |e| now == e) || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// Sends `GET /wait` on a new connection and reads its reply.
fn one_wait(server: &ServerProc) {
    let mut stream = server.connect();
    stream.write_all(get("/wait").as_bytes()).unwrap();
    let reply = &read_responses(&mut stream, &mut Vec::new(), &[false])[0];
    assert_eq!(reply.status, 200);
}

/// The CPU time the server's process tree has used.
fn tree_cpu_time(pid: u32) -> Duration {
    std::iter::once(pid)
        .chain(descendants(pid))
        .map(cpu_time)
        .sum()
}

/// While their waits are in flight, one client closes and another resets: a third,
/// waiting with them, is answered, and the server does not spin meanwhile (a
/// level-triggered poller reports a reset socket on every wait, asked or not); once
/// their waits are over no descriptor of theirs is left open; a later client is
/// served. By default (timers) and with a pool.
fn loop_clients_gone_during_their_wait_harm_nobody(model: &str) {
    for offload in [None, Some("2")] {
        let mut args = vec!["--wait", "300ms"];
        args.extend(offload.map(|n| ["--offload", n]).into_iter().flatten());
        let server = ServerProc::start(model, "http", &args);
        one_wait(&server);
        let before = settled_fds(server.pid(), None);
        let (closing, resetting) = (server.connect(), server.connect());
        for mut gone in [&closing, &resetting] {
            gone.write_all(get("/wait").as_bytes()).unwrap();
        }
        let mut patient = server.connect();
        patient.write_all(get("/wait").as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        drop(closing);
        reset(resetting);
        let cpu = tree_cpu_time(server.pid());
        let reply = &read_responses(&mut patient, &mut Vec::new(), &[false])[0];
        assert_eq!(reply.status, 200, "{model} {offload:?}");
        let spent = tree_cpu_time(server.pid()) - cpu;
        assert!(
            spent < Duration::from_millis(100),
            "{model} {offload:?}: {spent:?} of CPU while 3 connections waited 200 ms"
        );
        drop(patient);
        let after = settled_fds(server.pid(), Some(before));
        assert_eq!(after, before, "{model} {offload:?}: descriptors left open");
        one_wait(&server);
    }
}

/// Closes with SO_LINGER 0: the peer gets a reset, not a FIN.
fn reset(stream: TcpStream) {
    SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
}

/// A 30 s wait in flight, each way: SIGTERM still stops the server within a second.
fn loop_stops_promptly_with_waits_in_flight(model: &str) {
    for offload in [None, Some("0"), Some("2")] {
        let mut args = vec!["--wait", "30s"];
        args.extend(offload.map(|n| ["--offload", n]).into_iter().flatten());
        let mut server = ServerProc::start(model, "http", &args);
        let mut waiting = server.connect();
        waiting.write_all(get("/wait").as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let (status, took) = server.terminate();
        assert!(status.success(), "{model} {offload:?}: {status:?}");
        assert!(
            took <= Duration::from_secs(1),
            "{model} {offload:?}: took {took:?} to stop"
        );
    }
}

/// The list the tests above run over is every model whose `--offload` chooses between
/// the loop and a pool.
#[test]
fn the_loop_list_is_every_model_that_offloads_from_a_loop() {
    use iomodels::model::{OffloadUse, MODELS};
    let offloading: Vec<&str> = MODELS
        .iter()
        .filter(|m| m.offload == OffloadUse::LoopOrPool)
        .map(|m| m.name)
        .collect();
    let mut listed = crate::util::models::loops().to_vec();
    listed.sort_unstable();
    let mut offloading = offloading;
    offloading.sort_unstable();
    assert_eq!(listed, offloading);
}
