//! HTTP/1.1 conformance under every model, tried the way external conformance suites
//! and many clients do it: a request, then at once a half-close (`shutdown(SHUT_WR)`).
//!
//! - Every malformed request gets its error reply before the close, whatever the model's
//!   family: a reply the session decided on and the connection dropped is lost data.
//! - Every reply of a pipelined batch arrives when the client half-closes right after
//!   the batch, including a batch whose replies exceed the output high-water mark (the
//!   rest of its requests wait in the connection while the first replies drain).
//! - `Expect: 100-continue` gets `100 Continue` before the client sends the body, then
//!   the final reply.
//!
//! One server per model, its connections one after another, short timeouts: a failure
//! names every case that failed rather than the first.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use crate::util::http::{get, parse, Response};
use crate::util::ServerProc;

per_model!([http_conformance]);

/// How long a client waits for any one read: a server that keeps a reply to itself
/// fails the case in this time, not the suite's 20 s.
const WAIT: Duration = Duration::from_secs(3);

/// Requests every model must refuse, and the status each gets.
const MALFORMED: &[(&str, &[u8], u16)] = &[
    ("bad request line", b"GET /\r\nHost: t\r\n\r\n", 400),
    ("bad version", b"GET / HTTP/9.9\r\nHost: t\r\n\r\n", 400),
    ("missing Host", b"GET / HTTP/1.1\r\n\r\n", 400),
    (
        "two Hosts",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
    ),
    ("bad Host", b"GET / HTTP/1.1\r\nHost: bad host\r\n\r\n", 400),
    (
        "invalid header name",
        b"GET / HTTP/1.1\r\nHost: t\r\nBad@Name: x\r\n\r\n",
        400,
    ),
    (
        "obsolete line folding",
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n b\r\n\r\n",
        400,
    ),
    (
        "space before the colon",
        b"GET / HTTP/1.1\r\nHost : t\r\n\r\n",
        400,
    ),
    (
        "NUL in a header",
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Nul: a\0b\r\n\r\n",
        400,
    ),
    (
        "invalid Content-Length",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\nx",
        400,
    ),
    (
        "conflicting Content-Lengths",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy",
        400,
    ),
    (
        "Transfer-Encoding with Content-Length",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    // RFC 9112 6.3: a request whose final coding is not chunked has no reliable length.
    (
        "unknown transfer-coding",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: zork\r\n\r\n",
        400,
    ),
    (
        "Transfer-Encoding in HTTP/1.0",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
];

fn http_conformance(model: &str) {
    let server = ServerProc::start(model, "http", &[]);
    let mut failures = Vec::new();
    for &(case, request, status) in MALFORMED {
        let expected = format!("[{status}], then the close");
        check(&mut failures, case, &expected, || {
            let replies = half_closed(&server, request)?;
            match statuses(&replies).as_slice() {
                [got] if *got == status => Ok(()),
                got => Err(format!("got {got:?}")),
            }
        });
    }
    for (case, batch) in [("3 pipelined GETs", 3), ("1000 pipelined GETs", 1000)] {
        check(&mut failures, case, "every reply, then the close", || {
            let replies = half_closed(&server, get("/").repeat(batch).as_bytes())?;
            let got = statuses(&replies);
            match got.iter().all(|&s| s == 200) && got.len() == batch {
                true => Ok(()),
                false => Err(format!(
                    "{} replies: {:?}…",
                    got.len(),
                    &got[..got.len().min(5)]
                )),
            }
        });
    }
    check(
        &mut failures,
        "Expect: 100-continue",
        "100 before the body, 200 after it",
        || expect_continue(&server),
    );
    assert!(failures.is_empty(), "{model}:\n{}", failures.join("\n"));
}

/// Runs one case, recording its failure (an error or a panic) as a line of the report.
fn check(
    failures: &mut Vec<String>,
    case: &str,
    expected: &str,
    run: impl FnOnce() -> Result<(), String> + std::panic::UnwindSafe,
) {
    let outcome = std::panic::catch_unwind(run).unwrap_or_else(|_| Err("panicked".into()));
    if let Err(got) = outcome {
        failures.push(format!("  {case}: expected {expected}; {got}"));
    }
}

fn connect(server: &ServerProc) -> TcpStream {
    let stream = server.connect();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
}

/// Sends `request`, half-closes, and reads every reply up to the server's close.
fn half_closed(server: &ServerProc, request: &[u8]) -> Result<Vec<Response>, String> {
    let mut stream = connect(server);
    stream
        .write_all(request)
        .map_err(|err| format!("send: {err}"))?;
    stream
        .shutdown(Shutdown::Write)
        .map_err(|err| format!("shutdown: {err}"))?;
    let mut received = Vec::new();
    let read = stream.read_to_end(&mut received);
    let replies = parse_all(&received)?;
    match read {
        Ok(_) => Ok(replies),
        Err(err) => Err(format!("{err} after {:?}", statuses(&replies))),
    }
}

/// Sends a head announcing a body with `Expect: 100-continue`, waits for the interim
/// reply, then sends the body and reads the final one.
fn expect_continue(server: &ServerProc) -> Result<(), String> {
    let mut stream = connect(server);
    let head = b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
    stream
        .write_all(head)
        .map_err(|err| format!("send: {err}"))?;
    let mut received = Vec::new();
    let interim = read_until(&mut stream, &mut received, 1)?;
    if statuses(&interim) != [100] {
        return Err(format!("before the body: {:?}", statuses(&interim)));
    }
    stream
        .write_all(b"hello")
        .map_err(|err| format!("send the body: {err}"))?;
    let all = read_until(&mut stream, &mut received, 2)?;
    match statuses(&all).as_slice() {
        [100, 200] => Ok(()),
        got => Err(format!("got {got:?}")),
    }
}

/// Reads until `received` holds `count` complete replies; returns them.
fn read_until(
    stream: &mut TcpStream,
    received: &mut Vec<u8>,
    count: usize,
) -> Result<Vec<Response>, String> {
    loop {
        let replies = parse_all(received)?;
        if replies.len() >= count {
            return Ok(replies);
        }
        let mut buf = [0u8; 4096];
        match stream.read(&mut buf) {
            Ok(0) => return Err(format!("closed after {:?}", statuses(&replies))),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(err) => return Err(format!("{err} after {:?}", statuses(&replies))),
        }
    }
}

/// Every complete reply in `bytes` (a reply to a GET or POST: with its body); an error
/// if what follows them is not the start of one.
fn parse_all(mut bytes: &[u8]) -> Result<Vec<Response>, String> {
    let mut all = Vec::new();
    while !bytes.is_empty() {
        let parsed = std::panic::catch_unwind(|| parse(bytes, false))
            .map_err(|_| format!("not HTTP: {:?}", String::from_utf8_lossy(bytes)))?;
        let Some((response, used)) = parsed else {
            break;
        };
        all.push(response);
        bytes = &bytes[used..];
    }
    Ok(all)
}

fn statuses(replies: &[Response]) -> Vec<u16> {
    replies.iter().map(|r| r.status).collect()
}
