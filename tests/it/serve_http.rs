//! The http protocol under every model: the TechEmpower plaintext reply, HEAD,
//! pipelining, HTTP/1.0, Connection: close (at once, and after keep-alive requests),
//! 400, 431, a request dribbled byte by byte, and many keep-alive clients at once.

use std::io::Write;
use std::time::Duration;

use crate::util::http::{get, read_responses};
use crate::util::{reads_to_eof, ServerProc};

per_model!([
    http_get,
    http_head,
    http_pipelined_get_head_get,
    http10_closes,
    http_connection_close,
    http_keep_alive_then_close,
    http_malformed_gets_400,
    http_oversized_header_gets_431,
    http_one_byte_at_a_time,
    http_50_keep_alive_clients,
]);

fn http_get(model: &str) {
    let server = ServerProc::start(model, "http", &[]);
    let mut stream = server.connect();
    let mut carry = Vec::new();
    for _ in 0..3 {
        stream.write_all(get("/").as_bytes()).unwrap();
        let r = &read_responses(&mut stream, &mut carry, &[false])[0];
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"Hello, World!");
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert_eq!(r.header("content-length"), Some("13"));
        assert!(r.header("server").is_some() && r.header("date").is_some());
    }
}

fn http_head(model: &str) {
    let server = ServerProc::start(model, "http", &[]);
    let mut stream = server.connect();
    stream
        .write_all(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut carry = Vec::new();
    let r = &read_responses(&mut stream, &mut carry, &[true])[0];
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("13"));
    // No body follows: the next reply starts right after the head.
    stream.write_all(get("/").as_bytes()).unwrap();
    let r = &read_responses(&mut stream, &mut carry, &[false])[0];
    assert_eq!(r.body, b"Hello, World!");
}

fn http_pipelined_get_head_get(model: &str) {
    let server = ServerProc::start(model, "http", &[]);
    let mut stream = server.connect();
    let burst = format!(
        "{}HEAD / HTTP/1.1\r\nHost: t\r\n\r\n{}",
        get("/a"),
        get("/b")
    );
    stream.write_all(burst.as_bytes()).unwrap();
    let all = read_responses(&mut stream, &mut Vec::new(), &[false, true, false]);
    assert_eq!(
        all.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 200, 200]
    );
    assert_eq!(all[0].body, b"Hello, World!");
    assert!(all[1].body.is_empty());
    assert_eq!(all[2].body, b"Hello, World!");
}

fn http10_closes(model: &str) {
    let server = ServerProc::start(model, "http", &[]);
    let mut stream = server.connect();
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let r = &read_responses(&mut stream, &mut Vec::new(), &[false])[0];
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(
        reads_to_eof(&mut stream),
        "HTTP/1.0 without keep-alive is closed"
    );
}

fn http_connection_close(model: &str) {
    let server = ServerProc::start(model, "http", &[]);
    let mut stream = server.connect();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = &read_responses(&mut stream, &mut Vec::new(), &[false])[0];
    assert_eq!(r.header("connection"), Some("close"));
    assert!(reads_to_eof(&mut stream));
}

/// Connections one after another, each making keep-alive requests and then asking to
/// close: each is really closed (uring registers a socket that keeps sending in its
/// ring's table, which must let go of it), and the next, reusing its slot and likely
/// its descriptor number, is served.
fn http_keep_alive_then_close(model: &str) {
    let server = ServerProc::start(model, "http", &[]);
    for round in 0..3 {
        let mut stream = server.connect();
        let mut carry = Vec::new();
        for _ in 0..3 {
            stream.write_all(get("/").as_bytes()).unwrap();
            let r = &read_responses(&mut stream, &mut carry, &[false])[0];
            assert_eq!(
                (r.status, r.body.as_slice()),
                (200, b"Hello, World!".as_slice())
            );
        }
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let r = &read_responses(&mut stream, &mut carry, &[false])[0];
        assert_eq!(r.header("connection"), Some("close"));
        assert!(
            reads_to_eof(&mut stream),
            "connection {round}: closed after its fourth request"
        );
    }
}

fn http_malformed_gets_400(model: &str) {
    let server = ServerProc::start(model, "http", &[]);
    let mut stream = server.connect();
    // The garbage is followed by more data the server never reads: with a plain close
    // the client would see a reset; the lingering close lets it read the 400.
    stream
        .write_all(b"NOT HTTP AT ALL\r\n\r\nmore garbage")
        .unwrap();
    let r = &read_responses(&mut stream, &mut Vec::new(), &[false])[0];
    assert_eq!(r.status, 400);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(reads_to_eof(&mut stream));
    // The server still serves.
    let mut stream = server.connect();
    stream.write_all(get("/").as_bytes()).unwrap();
    assert_eq!(
        read_responses(&mut stream, &mut Vec::new(), &[false])[0].status,
        200
    );
}

fn http_oversized_header_gets_431(model: &str) {
    let server = ServerProc::start(model, "http", &[]);
    let mut stream = server.connect();
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Huge: {}\r\n\r\n",
        "x".repeat(64 * 1024)
    );
    // The server answers once 8 KiB arrive; the rest may meet a closed reader.
    let _ = stream.write_all(huge.as_bytes());
    let r = &read_responses(&mut stream, &mut Vec::new(), &[false])[0];
    assert_eq!(r.status, 431);
    assert!(reads_to_eof(&mut stream));
}

fn http_one_byte_at_a_time(model: &str) {
    let server = ServerProc::start(model, "http", &[]);
    let mut stream = server.connect();
    stream.set_nodelay(true).unwrap();
    for byte in get("/slow").as_bytes() {
        stream.write_all(&[*byte]).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let r = &read_responses(&mut stream, &mut Vec::new(), &[false])[0];
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"Hello, World!");
}

fn http_50_keep_alive_clients(model: &str) {
    let server = ServerProc::start(model, "http", &[]);
    let clients: Vec<_> = (0..50)
        .map(|_| {
            let addr = server.addr;
            std::thread::spawn(move || {
                let mut stream = crate::util::connect(addr);
                let mut carry = Vec::new();
                for _ in 0..20 {
                    stream.write_all(get("/").as_bytes()).unwrap();
                    let r = &read_responses(&mut stream, &mut carry, &[false])[0];
                    assert_eq!(r.status, 200);
                    assert_eq!(r.body, b"Hello, World!");
                }
            })
        })
        .collect();
    for client in clients {
        client
            .join()
            .expect("every keep-alive client gets every reply");
    }
}
