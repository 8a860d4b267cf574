//! Unit tests of the requests that need work (`/cpu`, `/wait`, `/db`, `/queries`): what
//! the session asks for, that it takes nothing more until the work is done, and the
//! reply it owes then.

use std::time::Duration;

use super::{drive, header, responses, GET, HEAD};
use crate::protocol::http::NO_DATABASE;
use crate::protocol::http::{HttpSession, BODY};
use crate::protocol::{Close, Database, Handlers, Outcome, Progress, Protocol, Query, Work, World};

/// Amounts no default has, so a test sees they are the server's.
static HANDLERS: Handlers = Handlers {
    cpu: Duration::from_micros(7),
    wait: Duration::from_millis(3),
    database: Some(Database {
        url: DB,
        pool: None,
    }),
};

const DB: &str = "host=/nowhere dbname=hello_world";

fn request(method: &str, target: &str, extra: &str) -> Vec<u8> {
    format!("{method} {target} HTTP/1.1\r\nHost: x\r\n{extra}\r\n").into_bytes()
}

#[test]
fn cpu_and_wait_ask_for_the_servers_amounts_whatever_the_query() {
    for (target, work) in [
        ("/cpu", Work::Cpu(HANDLERS.cpu)),
        ("/cpu?amount=5s", Work::Cpu(HANDLERS.cpu)),
        ("/wait", Work::Wait(HANDLERS.wait)),
        ("/wait?ms=1", Work::Wait(HANDLERS.wait)),
    ] {
        let mut session = HttpSession::new(&HANDLERS);
        let mut out = Vec::new();
        let input = request("GET", target, "");
        let p = session.feed(&input, &mut out);
        assert_eq!(p.work, Some(work), "{target}");
        assert_eq!(
            (p.consumed, p.completed, p.close),
            (input.len(), true, None)
        );
        assert!(out.is_empty(), "no reply before the work: {target}");
    }
}

#[test]
fn other_paths_need_no_work() {
    for target in ["/", "/plaintext", "/cpus", "/x/wait", "*"] {
        let mut session = HttpSession::new(&HANDLERS);
        let mut out = Vec::new();
        let p = session.feed(&request("GET", target, ""), &mut out);
        assert_eq!(p.work, None, "{target}");
        assert!(out.starts_with(b"HTTP/1.1 200 OK"), "{target}");
    }
}

#[test]
fn nothing_is_taken_until_the_work_is_done_then_the_reply_comes_first() {
    let mut session = HttpSession::new(&HANDLERS);
    let mut out = Vec::new();
    let wait = request("GET", "/wait", "");
    let stream = [GET, &wait, HEAD].concat();
    let p = session.feed(&stream, &mut out);
    assert_eq!(p.consumed, GET.len() + wait.len());
    assert_eq!(p.work, Some(Work::Wait(HANDLERS.wait)));
    let first = out.len();
    assert_eq!(
        responses(&out, &[false]).len(),
        1,
        "the reply before it is out"
    );
    assert_eq!(session.work_owed(), p.work, "asked again, the same");
    for _ in 0..2 {
        let p = session.feed(HEAD, &mut out);
        assert_eq!(p, Progress::default());
        assert_eq!(out.len(), first);
    }
    let done = session.finish_work(&mut out, Outcome::Done);
    assert_eq!(
        done,
        Progress {
            consumed: 0,
            completed: true,
            close: None,
            work: None
        }
    );
    assert_eq!(session.work_owed(), None, "done");
    let p = session.feed(HEAD, &mut out);
    assert_eq!(p.consumed, HEAD.len());
    let all = responses(&out, &[false, false, true]);
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].2, BODY, "the /wait reply, second");
    assert!(all[2].2.is_empty(), "the HEAD reply, last");
}

#[test]
fn head_of_a_work_route_is_answered_without_a_body() {
    let stream = [request("HEAD", "/cpu", ""), GET.to_vec()].concat();
    let (out, close) = drive(&[&stream]);
    assert_eq!(close, None);
    let all = responses(&out, &[true, false]);
    assert_eq!(all.len(), 2);
    assert_eq!(header(&all[0].1, "content-length"), Some("13"));
    assert!(all[0].2.is_empty());
    assert_eq!(all[1].2, BODY);
}

#[test]
fn a_closing_work_request_closes_after_its_reply_and_lingers_on_more_input() {
    let closing = request("GET", "/wait", "Connection: close\r\n");
    let mut session = HttpSession::new(&HANDLERS);
    let mut out = Vec::new();
    session.feed(&closing, &mut out);
    let done = session.finish_work(&mut out, Outcome::Done);
    assert_eq!(done.close, Some(Close::AfterFlush));
    assert_eq!(
        header(&responses(&out, &[false])[0].1, "connection"),
        Some("close")
    );

    let (out, close) = drive(&[&[closing.as_slice(), GET].concat()]);
    assert_eq!(close, Some(Close::Linger));
    assert_eq!(
        responses(&out, &[false]).len(),
        1,
        "nothing after the close"
    );

    let (_, close) = drive(&[b"GET /cpu HTTP/1.0\r\n\r\n"]);
    assert_eq!(close, Some(Close::AfterFlush), "HTTP/1.0 closes");
}

#[test]
fn work_comes_once_the_body_is_in_and_after_100_continue() {
    let mut session = HttpSession::new(&HANDLERS);
    let mut out = Vec::new();
    let head = request(
        "POST",
        "/cpu",
        "Expect: 100-continue\r\nContent-Length: 4\r\n",
    );
    let p = session.feed(&head, &mut out);
    assert_eq!((p.work, p.completed), (None, false));
    assert!(out.starts_with(b"HTTP/1.1 100 Continue"));
    let p = session.feed(b"body", &mut out);
    assert_eq!(p.work, Some(Work::Cpu(HANDLERS.cpu)));
    session.finish_work(&mut out, Outcome::Done);
    let statuses: Vec<u16> = responses(&out, &[false; 2]).iter().map(|r| r.0).collect();
    assert_eq!(statuses, [100, 200]);
}

#[test]
fn finishing_without_work_owed_does_nothing() {
    let mut session = HttpSession::new(&HANDLERS);
    let mut out = Vec::new();
    assert_eq!(
        session.finish_work(&mut out, Outcome::Done),
        Progress::default()
    );
    session.feed(GET, &mut out);
    let len = out.len();
    assert_eq!(
        session.finish_work(&mut out, Outcome::Done),
        Progress::default()
    );
    assert_eq!(out.len(), len);
}

#[test]
fn echo_never_asks_for_work() {
    let mut session = Protocol::Echo.session(&HANDLERS);
    let mut out = Vec::new();
    let input = request("GET", "/wait", "");
    let p = session.feed(&input, &mut out);
    assert_eq!((p.work, p.consumed), (None, input.len()));
    assert_eq!(
        session.finish_work(&mut out, Outcome::Done),
        Progress::default()
    );
    assert_eq!(out, input);
}

#[test]
fn db_and_queries_ask_for_rows_from_the_servers_database() {
    for (target, query) in [
        ("/db", Query::One),
        ("/queries?queries=20", Query::Many(20)),
        ("/queries?queries=600", Query::Many(500)),
        ("/queries?queries=zero", Query::Many(1)),
    ] {
        let mut session = HttpSession::new(&HANDLERS);
        let p = session.feed(&request("GET", target, ""), &mut Vec::new());
        assert_eq!(p.work, Some(Work::Db(query, DB)), "{target}");
    }
}

/// Feeds `target`, finishes its work with `outcome`; the one response.
fn db_reply(target: &str, method: &str, outcome: Outcome) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut session = HttpSession::new(&HANDLERS);
    let mut out = Vec::new();
    session.feed(&request(method, target, ""), &mut out);
    let done = session.finish_work(&mut out, outcome);
    assert_eq!((done.completed, done.close), (true, None), "kept alive");
    responses(&out, &[method == "HEAD"]).remove(0)
}

const ROWS: [World; 2] = [
    World {
        id: 42,
        random_number: 9001,
    },
    World {
        id: 10000,
        random_number: 1,
    },
];

#[test]
fn rows_are_answered_as_techempowers_json() {
    let (status, fields, body) = db_reply("/db", "GET", Outcome::Rows(ROWS[..1].to_vec()));
    assert_eq!(status, 200);
    assert_eq!(header(&fields, "content-type"), Some("application/json"));
    assert!(header(&fields, "date").is_some() && header(&fields, "server").is_some());
    assert_eq!(body, br#"{"id":42,"randomNumber":9001}"#);
    let (_, fields, body) = db_reply("/queries?queries=2", "GET", Outcome::Rows(ROWS.to_vec()));
    assert_eq!(
        body,
        br#"[{"id":42,"randomNumber":9001},{"id":10000,"randomNumber":1}]"#
    );
    assert_eq!(header(&fields, "content-length"), Some("61"));
    let (_, fields, body) = db_reply("/queries", "HEAD", Outcome::Rows(ROWS.to_vec()));
    assert_eq!(
        (header(&fields, "content-length"), body.len()),
        (Some("61"), 0)
    );
}

#[test]
fn a_failed_query_is_a_503_with_its_reason_and_the_connection_lives() {
    let reason = "database: sorry, too many clients already";
    let (status, _, body) = db_reply("/db", "GET", Outcome::Failed(reason.into()));
    assert_eq!((status, body), (503, format!("{reason}\n").into_bytes()));
}

#[test]
fn without_a_database_db_is_a_503_at_once() {
    static NONE: Handlers = Handlers {
        database: None,
        ..Handlers::DEFAULT
    };
    let mut session = HttpSession::new(&NONE);
    let mut out = Vec::new();
    let stream = [request("GET", "/queries?queries=3", ""), GET.to_vec()].concat();
    let p = session.feed(&stream, &mut out);
    assert_eq!((p.work, p.close, p.consumed), (None, None, stream.len()));
    let all = responses(&out, &[false, false]);
    assert_eq!((all[0].0, all[1].0), (503, 200));
    assert_eq!(all[0].2, format!("{NO_DATABASE}\n").into_bytes());
}

#[test]
fn the_session_stays_small() {
    // Held by every idle connection: the handlers are shared, not copied.
    assert!(std::mem::size_of::<crate::protocol::Session>() <= 24);
}
