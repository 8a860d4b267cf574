//! Unit tests of the HTTP session, without sockets (properties in [`props`]).

use super::head::parse_length;
use super::*;

#[path = "http_props.rs"]
mod props;
#[path = "http_work_tests.rs"]
mod work;

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
const HEAD: &[u8] = b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n";

/// Feeds `chunks` the way the connection layer does (unconsumed bytes are kept and
/// passed again with what follows; work asked for is done at once, after checking
/// that the session takes nothing more until then); returns the output and the close
/// asked for.
fn drive(chunks: &[&[u8]]) -> (Vec<u8>, Option<Close>) {
    let mut session = HttpSession::default();
    let mut pending = Vec::new();
    let mut out = Vec::new();
    for chunk in chunks {
        pending.extend_from_slice(chunk);
        loop {
            let mut p = session.feed(&pending, &mut out);
            pending.drain(..p.consumed);
            if p.work.is_some() {
                let before = out.len();
                let early = session.feed(&pending, &mut out);
                assert_eq!((early, out.len()), (Progress::default(), before));
                p = p.then(session.finish_work(&mut out, crate::protocol::Outcome::Done));
            }
            if p.close.is_some() {
                return (out, p.close);
            }
            if p.consumed == 0 || pending.is_empty() {
                break;
            }
        }
    }
    (out, None)
}

/// A parsed response: status, header fields (names lowercased), body.
type Response = (u16, Vec<(String, String)>, Vec<u8>);

/// Splits a stream of responses into its responses.
fn responses(mut out: &[u8], head_only: &[bool]) -> Vec<Response> {
    let mut all = Vec::new();
    let mut i = 0;
    while !out.is_empty() {
        let mut fields = [httparse::EMPTY_HEADER; 16];
        let mut res = httparse::Response::new(&mut fields);
        let len = match res.parse(out).expect("valid response") {
            httparse::Status::Complete(len) => len,
            httparse::Status::Partial => panic!("truncated response"),
        };
        let headers: Vec<(String, String)> = res
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect();
        // Every reply has a length but 100 Continue, which has no body.
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let body_len = if head_only.get(i).copied().unwrap_or(false) {
            0
        } else {
            length
        };
        let body = out[len..len + body_len].to_vec();
        all.push((res.code.unwrap(), headers, body));
        out = &out[len + body_len..];
        i += 1;
    }
    all
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Replaces every Date value so outputs produced a second apart compare equal.
fn without_dates(out: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(out);
    let mut clean = String::new();
    for line in text.split_inclusive("\r\n") {
        if line.starts_with("Date: ") {
            clean.push_str("Date: -\r\n");
        } else {
            clean.push_str(line);
        }
    }
    clean.into_bytes()
}

#[test]
fn get_is_answered_hello_world_and_kept_alive() {
    let (out, close) = drive(&[GET]);
    assert_eq!(close, None);
    let all = responses(&out, &[false]);
    let (status, headers, body) = &all[0];
    assert_eq!(*status, 200);
    assert_eq!(body, b"Hello, World!");
    assert_eq!(header(headers, "content-type"), Some("text/plain"));
    assert_eq!(header(headers, "content-length"), Some("13"));
    assert_eq!(header(headers, "server"), Some("iomodels"));
    assert_eq!(header(headers, "connection"), None);
    let date = header(headers, "date").unwrap();
    httpdate::parse_http_date(date).expect("a valid Date");
}

#[test]
fn head_has_the_length_but_no_body() {
    let (out, close) = drive(&[HEAD]);
    assert_eq!(close, None);
    let all = responses(&out, &[true]);
    assert_eq!(all.len(), 1);
    assert_eq!(header(&all[0].1, "content-length"), Some("13"));
    assert!(all[0].2.is_empty());
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let stream = [GET, HEAD, GET].concat();
    let (out, close) = drive(&[&stream]);
    assert_eq!(close, None);
    let all = responses(&out, &[false, true, false]);
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].2, BODY);
    assert!(all[1].2.is_empty());
    assert_eq!(all[2].2, BODY);
}

#[test]
fn http10_closes_unless_asked_to_keep_alive() {
    let (out, close) = drive(&[b"GET / HTTP/1.0\r\n\r\n"]);
    assert_eq!(close, Some(Close::AfterFlush));
    assert_eq!(
        header(&responses(&out, &[false])[0].1, "connection"),
        Some("close")
    );

    let (out, close) = drive(&[b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"]);
    assert_eq!(close, None);
    assert_eq!(
        header(&responses(&out, &[false])[0].1, "connection"),
        Some("keep-alive")
    );
}

#[test]
fn connection_close_is_honoured() {
    let (out, close) =
        drive(&[b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n"]);
    assert_eq!(close, Some(Close::AfterFlush));
    assert_eq!(
        header(&responses(&out, &[false])[0].1, "connection"),
        Some("close")
    );
}

#[test]
fn bytes_after_a_closing_request_make_the_close_linger() {
    let stream = [
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".as_slice(),
        GET,
    ]
    .concat();
    let (out, close) = drive(&[&stream]);
    assert_eq!(close, Some(Close::Linger));
    assert_eq!(
        responses(&out, &[false]).len(),
        1,
        "nothing after the close is answered"
    );
}

#[test]
fn malformed_requests_get_400_and_a_lingering_close() {
    for bad in [
        b"GARBAGE\r\n\r\n".as_slice(),
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo, chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ,\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ] {
        let (out, close) = drive(&[bad]);
        assert_eq!(
            close,
            Some(Close::Linger),
            "{}",
            String::from_utf8_lossy(bad)
        );
        let all = responses(&out, &[false]);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0, 400, "{}", String::from_utf8_lossy(bad));
        assert_eq!(header(&all[0].1, "connection"), Some("close"));
    }
}

/// Feeds one request and returns the status of its reply and the close asked for.
fn status_of(request: &[u8]) -> (u16, Option<Close>) {
    let (out, close) = drive(&[request]);
    let all = responses(&out, &[false]);
    assert_eq!(all.len(), 1, "{}", String::from_utf8_lossy(request));
    (all[0].0, close)
}

#[test]
fn host_must_be_present_in_http11_single_and_valid() {
    for bad in [
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\nhost: b\r\n\r\n",
        "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bad host\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: user@host\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a:port\r\n\r\n",
        "GET / HTTP/1.0\r\nHost: a/b\r\n\r\n",
    ] {
        assert_eq!(
            status_of(bad.as_bytes()),
            (400, Some(Close::Linger)),
            "{bad}"
        );
    }
    for good in [
        "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
        "GET / HTTP/1.1\r\nHOST: 127.0.0.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
        // No authority in the target: an empty Host (RFC 9112 3.2).
        "OPTIONS * HTTP/1.1\r\nHost:\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
    ] {
        assert_eq!(status_of(good.as_bytes()).0, 200, "{good}");
    }
}

#[test]
fn transfer_encoding_in_http10_gets_400_and_a_close() {
    for bad in [
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.0\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\nx",
    ] {
        let (out, close) = drive(&[bad.as_bytes()]);
        assert_eq!(close, Some(Close::Linger), "{bad}");
        let all = responses(&out, &[false]);
        assert_eq!(all.len(), 1, "{bad}");
        assert_eq!(all[0].0, 400, "{bad}");
        assert_eq!(header(&all[0].1, "connection"), Some("close"));
    }
    let (status, _) = status_of(b"POST / HTTP/1.0\r\nContent-Length: 1\r\n\r\nx");
    assert_eq!(status, 200, "a Content-Length body is fine in HTTP/1.0");
}

const EXPECT_HEAD: &[u8] =
    b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";

#[test]
fn expect_100_continue_is_answered_before_the_body_arrives() {
    let mut session = HttpSession::default();
    let mut out = Vec::new();
    let p = session.feed(EXPECT_HEAD, &mut out);
    assert_eq!(p.consumed, EXPECT_HEAD.len());
    assert!(!p.completed);
    assert_eq!(p.close, None);
    assert_eq!(out, CONTINUE, "at once, before the body");
    let p = session.feed(b"hello", &mut out);
    assert!(p.completed);
    let all = responses(&out, &[false, false]);
    assert_eq!(all.iter().map(|r| r.0).collect::<Vec<_>>(), [100, 200]);
    assert_eq!(all[1].2, BODY);
}

/// However the input is split, even a byte at a time, one 100 Continue per request:
/// sent the moment its head is complete, never before, never twice.
#[test]
fn expect_100_continue_is_sent_once_however_the_input_is_split() {
    let stream = [EXPECT_HEAD, b"hello", EXPECT_HEAD, b"world", GET].concat();
    let (whole, close) = drive(&[&stream]);
    assert_eq!(close, None);
    let statuses: Vec<u16> = responses(&whole, &[false; 5]).iter().map(|r| r.0).collect();
    assert_eq!(statuses, [100, 200, 100, 200, 200]);

    let mut session = HttpSession::default();
    let (mut pending, mut out) = (Vec::new(), Vec::new());
    for (i, &byte) in stream.iter().enumerate() {
        pending.push(byte);
        let p = session.feed(&pending, &mut out);
        pending.drain(..p.consumed);
        let sent = out
            .windows(CONTINUE.len())
            .filter(|w| *w == CONTINUE)
            .count();
        let heads_complete = [EXPECT_HEAD.len(), 2 * EXPECT_HEAD.len() + 5]
            .iter()
            .filter(|&&end| i + 1 >= end)
            .count();
        assert_eq!(sent, heads_complete, "after byte {i}");
    }
    assert_eq!(without_dates(&out), without_dates(&whole), "byte by byte");
}

#[test]
fn expect_100_continue_with_a_chunked_body() {
    let head =
        b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nEXPECT: 100-Continue\r\n\r\n";
    let (out, _) = drive(&[head]);
    assert_eq!(out, CONTINUE);
    let (out, _) = drive(&[head, b"3\r\nabc\r\n0\r\n\r\n"]);
    let statuses: Vec<u16> = responses(&out, &[false; 2]).iter().map(|r| r.0).collect();
    assert_eq!(statuses, [100, 200]);
}

#[test]
fn no_100_continue_without_a_body_nor_for_http10() {
    for request in [
        "GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
        "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab",
        // Expect is not HTTP/1.0's: even an unknown expectation is ignored.
        "POST / HTTP/1.0\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\nab",
    ] {
        let (out, _) = drive(&[request.as_bytes()]);
        let statuses: Vec<u16> = responses(&out, &[false]).iter().map(|r| r.0).collect();
        assert_eq!(statuses, [200], "{request}");
    }
}

#[test]
fn an_unknown_expectation_gets_417_and_a_close() {
    for request in [
        "POST / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\nab",
        "GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue, x=y\r\n\r\n",
    ] {
        let (out, close) = drive(&[request.as_bytes()]);
        assert_eq!(close, Some(Close::Linger), "{request}");
        let all = responses(&out, &[false]);
        assert_eq!(all.len(), 1, "no 100 Continue first: {request}");
        assert_eq!(all[0].0, 417, "{request}");
    }
}

#[test]
fn a_bad_chunk_gets_400() {
    let (out, close) =
        drive(&[b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]);
    assert_eq!(close, Some(Close::Linger));
    assert_eq!(responses(&out, &[false])[0].0, 400);
}

#[test]
fn oversized_heads_get_431_whole_or_split() {
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(MAX_HEAD)
    );
    let (whole, close) = drive(&[big.as_bytes()]);
    assert_eq!(close, Some(Close::Linger));
    assert_eq!(responses(&whole, &[false])[0].0, 431);
    let pieces: Vec<&[u8]> = big.as_bytes().chunks(1000).collect();
    let (split, _) = drive(&pieces);
    assert_eq!(without_dates(&split), without_dates(&whole));

    let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: y\r\n")).collect();
    let (out, _) = drive(&[format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes()]);
    assert_eq!(responses(&out, &[false])[0].0, 431);
}

#[test]
fn an_endless_head_is_cut_at_the_bound() {
    let mut session = HttpSession::default();
    let mut out = Vec::new();
    let endless = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; MAX_HEAD]].concat();
    let p = session.feed(&endless, &mut out);
    assert_eq!(p.close, Some(Close::Linger));
    assert!(out.starts_with(b"HTTP/1.1 431 "));
}

#[test]
fn bodies_are_consumed_before_the_next_request() {
    let stream = [
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world".as_slice(),
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
        GET,
    ]
    .concat();
    let (out, close) = drive(&[&stream]);
    assert_eq!(close, None);
    let all = responses(&out, &[false, false, false]);
    assert_eq!(all.len(), 3);
    assert!(all
        .iter()
        .all(|(status, _, body)| *status == 200 && body == BODY));
}

#[test]
fn a_request_is_not_answered_before_its_body_arrives() {
    let mut session = HttpSession::default();
    let mut out = Vec::new();
    let head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab";
    let p = session.feed(head, &mut out);
    assert_eq!(p.consumed, head.len());
    assert!(!p.completed);
    assert!(out.is_empty());
    let p = session.feed(b"cd", &mut out);
    assert!(p.completed);
    assert!(out.starts_with(b"HTTP/1.1 200 OK"));
}

/// The same stream, split at every byte boundary and byte by byte, gives the same
/// replies as when it arrives whole.
#[test]
fn every_split_gives_the_same_replies() {
    let stream = [
        GET,
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n12345".as_slice(),
        HEAD,
        b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ]
    .concat();
    let (whole, close) = drive(&[&stream]);
    assert_eq!(close, Some(Close::AfterFlush));
    assert_eq!(
        responses(&whole, &[false, false, true, false, false, false]).len(),
        6
    );
    let whole = without_dates(&whole);
    for cut in 0..=stream.len() {
        let (left, right) = stream.split_at(cut);
        let (out, split_close) = drive(&[left, right]);
        assert_eq!(without_dates(&out), whole, "split at {cut}");
        assert_eq!(split_close, close, "split at {cut}");
    }
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    let (out, _) = drive(&bytes);
    assert_eq!(without_dates(&out), whole, "byte by byte");
}

#[test]
fn output_stops_growing_at_the_high_water_mark() {
    let stream = GET.repeat(5000);
    let mut session = HttpSession::default();
    let mut out = Vec::new();
    let p = session.feed(&stream, &mut out);
    assert!(
        p.consumed < stream.len(),
        "stops before consuming everything"
    );
    assert!(
        out.len() < OUTPUT_HIGH_WATER + 512,
        "bounded: {}",
        out.len()
    );
    // Flushing and feeding again answers the rest, in order.
    let mut answered = out.len();
    let mut offset = p.consumed;
    while offset < stream.len() {
        out.clear();
        let p = session.feed(&stream[offset..], &mut out);
        assert!(p.consumed > 0);
        offset += p.consumed;
        answered += out.len();
    }
    let one = drive(&[GET]).0.len();
    assert_eq!(answered, one * 5000);
}

#[test]
fn content_lengths_parse_strictly() {
    assert_eq!(parse_length(b"0"), Some(0));
    assert_eq!(parse_length(b" 42 "), Some(42));
    assert_eq!(parse_length(b"+1"), None);
    assert_eq!(parse_length(b""), None);
    assert_eq!(parse_length(b"1 2"), None);
    assert_eq!(parse_length(b"99999999999999999999"), None);
}

#[test]
fn one_chunked_coding_is_accepted_whatever_its_case_and_empty_list_elements() {
    for good in [
        "Transfer-Encoding: Chunked",
        "Transfer-Encoding: , chunked ,",
    ] {
        let request = format!("POST / HTTP/1.1\r\nHost: x\r\n{good}\r\n\r\n0\r\n\r\n");
        assert_eq!(status_of(request.as_bytes()).0, 200, "{good}");
    }
}
