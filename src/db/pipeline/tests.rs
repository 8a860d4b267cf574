//! The pipeline against a fake PostgreSQL on a Unix socket: enough of the protocol to
//! answer the handshake and the queries (every id's `randomNumber` is twice the id),
//! and to misbehave on purpose (close mid-request, stop reading, ask for passwords).

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::*;
use crate::protocol::World;

/// A directory with the fake server's socket, removed at the end.
struct Fake {
    dir: PathBuf,
}

impl Fake {
    fn new(name: &str) -> Fake {
        let dir =
            std::env::temp_dir().join(format!("iomodels-fakepg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Fake { dir }
    }

    fn url(&self, extra: &str) -> String {
        format!(
            "host={} port=5432 user=u dbname=d {extra}",
            self.dir.display()
        )
    }

    fn listen(&self) -> UnixListener {
        let path = self.dir.join(".s.PGSQL.5432");
        let _ = std::fs::remove_file(&path);
        UnixListener::bind(path).unwrap()
    }

    /// Serves one connection on a thread: `session` runs after the handshake.
    fn serve(
        &self,
        auth: Auth,
        session: impl FnOnce(&mut UnixStream) + Send + 'static,
    ) -> JoinHandle<()> {
        let listener = self.listen();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            if handshake(&mut stream, auth) {
                session(&mut stream);
            }
        })
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What the fake asks for, and the password it expects.
#[derive(Clone, Copy)]
enum Auth {
    Trust,
    Cleartext(&'static str),
    Md5(&'static str),
}

fn backend(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Reads one frontend message: (tag, body).
fn frontend_message(stream: &mut UnixStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).ok()?;
    let len = i32::from_be_bytes(head[1..].try_into().unwrap()) as usize;
    let mut body = vec![0; len - 4];
    stream.read_exact(&mut body).ok()?;
    Some((head[0], body))
}

/// Startup, authentication and the statement's Parse; false if the client did not
/// authenticate.
fn handshake(stream: &mut UnixStream, auth: Auth) -> bool {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).unwrap();
    let mut startup = vec![0; i32::from_be_bytes(len) as usize - 4];
    stream.read_exact(&mut startup).unwrap();
    let text = String::from_utf8_lossy(&startup);
    assert!(
        text.contains("user\0u\0") && text.contains("database\0d\0"),
        "{text:?}"
    );
    let expected = match auth {
        Auth::Trust => None,
        Auth::Cleartext(password) => {
            stream
                .write_all(&backend(b'R', &3i32.to_be_bytes()))
                .unwrap();
            Some(format!("{password}\0"))
        }
        Auth::Md5(password) => {
            let mut body = 5i32.to_be_bytes().to_vec();
            body.extend_from_slice(b"salt");
            stream.write_all(&backend(b'R', &body)).unwrap();
            let hash =
                postgres_protocol::authentication::md5_hash(b"u", password.as_bytes(), *b"salt");
            Some(format!("{hash}\0"))
        }
    };
    if let Some(expected) = expected {
        // The client may give up (it has no password to send).
        let Some((tag, body)) = frontend_message(stream) else {
            return false;
        };
        if (tag, body.as_slice()) != (b'p', expected.as_bytes()) {
            let error = backend(b'E', b"SFATAL\0VFATAL\0Mpassword authentication failed\0\0");
            stream.write_all(&error).unwrap();
            return false;
        }
    }
    let mut out = backend(b'R', &0i32.to_be_bytes());
    out.extend(backend(b'Z', b"I"));
    stream.write_all(&out).unwrap();
    // Parse, Sync.
    assert_eq!(frontend_message(stream).unwrap().0, b'P');
    assert_eq!(frontend_message(stream).unwrap().0, b'S');
    let mut out = backend(b'1', b"");
    out.extend(backend(b'Z', b"I"));
    stream.write_all(&out).unwrap();
    true
}

/// The id a Bind carries: after the portal and statement names, one parameter format,
/// one parameter of four bytes.
fn bound_id(body: &[u8]) -> i32 {
    let names_end = body
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == 0)
        .nth(1)
        .unwrap()
        .0
        + 1;
    let value = &body[names_end + 2 + 2 + 2 + 4..][..4];
    i32::from_be_bytes(value.try_into().unwrap())
}

/// Answers `requests` requests as PostgreSQL would, then returns.
fn answer(stream: &mut UnixStream, requests: usize) {
    answer_first(stream, requests, requests);
}

/// Reads `requests` requests, answering the first `answered` of them as PostgreSQL
/// would.
fn answer_first(stream: &mut UnixStream, requests: usize, answered: usize) {
    let mut done = 0;
    while done < requests {
        let (tag, body) = frontend_message(stream).expect("the rest of a request");
        let answering = done < answered;
        let reply = match tag {
            b'B' => {
                let id = bound_id(&body);
                let mut row = 2i16.to_be_bytes().to_vec();
                for value in [id, id * 2] {
                    row.extend_from_slice(&4i32.to_be_bytes());
                    row.extend_from_slice(&value.to_be_bytes());
                }
                [backend(b'2', b""), backend(b'D', &row)].concat()
            }
            b'E' => backend(b'C', b"SELECT 1\0"),
            b'S' => {
                done += 1;
                backend(b'Z', b"I")
            }
            other => panic!("unexpected message {}", other as char),
        };
        if answering {
            stream.write_all(&reply).unwrap();
        }
    }
}

/// Polls the pipeline and takes outcomes until `n` came back (10 s at most).
fn outcomes(pipeline: &Pipeline, n: usize) -> Vec<(usize, Outcome)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut all = Vec::new();
    while all.len() < n {
        assert!(
            Instant::now() < deadline,
            "{} of {n} outcomes in 10 s",
            all.len()
        );
        let mut fds = [PollFd::new(pipeline.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::from(100u16)).unwrap();
        pipeline.on_readable(&mut all);
    }
    all
}

/// Polls the pipeline until it has noticed that its connection closed (10 s at most).
fn until_closed(pipeline: &Pipeline) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pipeline.lock().conn.is_some() {
        assert!(Instant::now() < deadline, "the close unnoticed for 10 s");
        let mut fds = [PollFd::new(pipeline.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::from(100u16)).unwrap();
        let mut none = Vec::new();
        pipeline.on_readable(&mut none);
        assert!(none.is_empty(), "nothing was in flight: {none:?}");
    }
}

fn rows_fit(outcome: &Outcome, n: usize) -> bool {
    matches!(outcome, Outcome::Rows(rows) if rows.len() == n
        && rows.iter().all(|&World { id, random_number }| random_number == id * 2
            && (1..=crate::db::world::ROWS).contains(&id)))
}

#[test]
fn requests_come_back_in_order_each_with_its_rows() {
    let fake = Fake::new("order");
    let server = fake.serve(Auth::Trust, |s| answer(s, 3));
    let pipeline = Pipeline::new(&fake.url("")).unwrap();
    pipeline.submit(Query::Many(20), 1);
    pipeline.submit(Query::One, 2);
    pipeline.submit(Query::Many(3), 3);
    let back = outcomes(&pipeline, 3);
    let tokens: Vec<usize> = back.iter().map(|(token, _)| *token).collect();
    assert_eq!(tokens, [1, 2, 3]);
    for ((_, outcome), n) in back.iter().zip([20, 1, 3]) {
        assert!(rows_fit(outcome, n), "{outcome:?}");
    }
    assert_eq!(pipeline.in_flight(), 0);
    drop(pipeline);
    server.join().unwrap();
}

#[test]
fn a_break_fails_what_is_in_flight_and_the_next_request_reconnects() {
    let fake = Fake::new("break");
    // The first connection reads three requests, answers one, and closes.
    let first = fake.serve(Auth::Trust, |s| answer_first(s, 3, 1));
    let pipeline = Pipeline::new(&fake.url("")).unwrap();
    for token in 1..=3 {
        pipeline.submit(Query::Many(2), token);
    }
    first.join().unwrap();
    let back = outcomes(&pipeline, 3);
    assert!(rows_fit(&back[0].1, 2), "{back:?}");
    let closed = Outcome::Failed("database: the server closed the connection".into());
    assert_eq!(back[1..], [(2, closed.clone()), (3, closed)]);
    // The next request opens a new connection.
    let second = fake.serve(Auth::Trust, |s| answer(s, 1));
    pipeline.submit(Query::One, 4);
    let back = outcomes(&pipeline, 1);
    assert_eq!(back[0].0, 4);
    assert!(rows_fit(&back[0].1, 1), "{back:?}");
    second.join().unwrap();
}

#[test]
fn a_server_that_is_gone_fails_requests_at_once_then_is_tried_again() {
    let fake = Fake::new("gone");
    let first = fake.serve(Auth::Trust, |_| {});
    let pipeline = Pipeline::new(&fake.url("")).unwrap();
    first.join().unwrap();
    until_closed(&pipeline);
    std::fs::remove_file(fake.dir.join(".s.PGSQL.5432")).unwrap();
    // The connection closed: the next request finds no server, nor does the one after,
    // which is not even tried (the descriptor still says when each has failed).
    pipeline.submit(Query::One, 1);
    pipeline.submit(Query::One, 2);
    let back = outcomes(&pipeline, 2);
    for (token, (got, outcome)) in [1, 2].into_iter().zip(&back) {
        assert_eq!(token, *got);
        assert!(
            matches!(outcome, Outcome::Failed(why) if why.starts_with("database: cannot connect to ")),
            "{outcome:?}"
        );
    }
    let again = fake.serve(Auth::Trust, |s| answer(s, 1));
    std::thread::sleep(RETRY_AFTER);
    pipeline.submit(Query::One, 3);
    assert!(rows_fit(&outcomes(&pipeline, 1)[0].1, 1));
    again.join().unwrap();
}

#[test]
fn output_waits_for_room_while_replies_are_read() {
    let fake = Fake::new("room");
    const REQUESTS: usize = 100;
    let (go, ready) = mpsc::channel::<()>();
    // The server reads nothing until told: the socket's buffers fill.
    let server = fake.serve(Auth::Trust, move |s| {
        ready.recv().unwrap();
        answer(s, REQUESTS);
    });
    let pipeline = Pipeline::new(&fake.url("")).unwrap();
    let started = Instant::now();
    for token in 0..REQUESTS {
        pipeline.submit(Query::Many(Query::MAX_ROWS), token);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "submitting blocked"
    );
    let unsent = pipeline
        .lock()
        .conn
        .as_ref()
        .map(|c| (c.output.len(), c.writing));
    assert!(
        matches!(unsent, Some((n, true)) if n > 0),
        "2 MB of requests all went out at once? {unsent:?}"
    );
    go.send(()).unwrap();
    let back = outcomes(&pipeline, REQUESTS);
    assert!(back
        .iter()
        .all(|(_, o)| rows_fit(o, Query::MAX_ROWS.into())));
    let unsent = pipeline
        .lock()
        .conn
        .as_ref()
        .map(|c| (c.output.len(), c.writing));
    assert_eq!(
        unsent,
        Some((0, false)),
        "the socket asked for writing still"
    );
    server.join().unwrap();
}

#[test]
fn passwords_go_as_the_server_asks() {
    for auth in [Auth::Cleartext("sesame"), Auth::Md5("sesame")] {
        let fake = Fake::new("password");
        let server = fake.serve(auth, |s| answer(s, 1));
        let pipeline = Pipeline::new(&fake.url("password=sesame")).unwrap();
        pipeline.submit(Query::One, 0);
        assert!(rows_fit(&outcomes(&pipeline, 1)[0].1, 1));
        server.join().unwrap();
        for (password, why) in [
            ("password=wrong", "database: password authentication failed"),
            (
                "",
                "database: the server asks for a password, and the address has none",
            ),
        ] {
            let server = fake.serve(auth, |_| {});
            // Refused at the start, answered to the next request (not tried again so soon).
            let pipeline = Pipeline::new(&fake.url(password)).unwrap();
            server.join().unwrap();
            pipeline.submit(Query::One, 1);
            assert_eq!(outcomes(&pipeline, 1), [(1, Outcome::Failed(why.into()))]);
        }
    }
}
