//! A minimal HTTP/1.1 response reader for the tests (httparse on the client side).

use std::io::Read;
use std::net::TcpStream;

/// A response as the tests look at it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A GET request with a Host header.
pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
}

/// Reads one response per entry of `head_only` (true: a reply to HEAD, no body), keeping
/// bytes that arrive early for the next response in `carry`.
pub fn read_responses(
    stream: &mut TcpStream,
    carry: &mut Vec<u8>,
    head_only: &[bool],
) -> Vec<Response> {
    let mut all = Vec::new();
    for &head in head_only {
        loop {
            if let Some((response, used)) = parse(carry, head) {
                carry.drain(..used);
                all.push(response);
                break;
            }
            let mut buf = [0u8; 16 * 1024];
            let n = match stream.read(&mut buf) {
                // A read with a timeout fails with EINTR when the process is stopped
                // and resumed, even without a signal handler (signal(7)).
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                read => read.expect("read a response"),
            };
            assert!(
                n > 0,
                "connection closed after {} responses; got {:?}",
                all.len(),
                String::from_utf8_lossy(carry)
            );
            carry.extend_from_slice(&buf[..n]);
        }
    }
    all
}

/// The response at the start of `input` and its length, or `None` if it is incomplete;
/// panics if `input` does not start like an HTTP response.
pub fn parse(input: &[u8], head_only: bool) -> Option<(Response, usize)> {
    let mut fields = [httparse::EMPTY_HEADER; 32];
    let mut res = httparse::Response::new(&mut fields);
    let len = match res.parse(input).expect("a valid HTTP response") {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return None,
    };
    let headers: Vec<(String, String)> = res
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().expect("numeric content-length"));
    let body_len = if head_only { 0 } else { length };
    if input.len() < len + body_len {
        return None;
    }
    let response = Response {
        status: res.code.unwrap(),
        headers,
        body: input[len..len + body_len].to_vec(),
    };
    Some((response, len + body_len))
}
