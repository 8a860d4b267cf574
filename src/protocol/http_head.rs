//! A request head: parsed by httparse, then checked for what httparse leaves to this
//! server (RFC 9112; see [`super`]'s list), and routed by its path.

use std::mem::MaybeUninit;

use super::host;
use super::{
    Connection, Pending, Status, BAD_REQUEST, EXPECTATION_FAILED, MAX_HEAD, MAX_HEADERS, TOO_LARGE,
};
use crate::protocol::Query;

/// What a request asks for, by its path (TechEmpower style). Whatever the method, and
/// whatever query follows the path: the path alone routes (`/queries` also reads its
/// `queries` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    /// `/cpu`: burn the server's CPU amount, then answer.
    Cpu,
    /// `/wait`: wait the server's wait amount, then answer.
    Wait,
    /// `/db` and `/queries`: read rows of the `World` table, then answer them as JSON.
    Db(Query),
    /// Any other target (`/`, `/plaintext`, ...): answered at once.
    Hello,
}

impl Route {
    /// The route of a request target: origin form (`/path?query`) or absolute form
    /// (`http://host/path?query`, which RFC 9112 3.2.2 says a server must accept);
    /// `*` and anything else is answered at once.
    fn of(target: &str) -> Route {
        let origin = match target.split_once("://") {
            // The authority ends at the path, or at a query without one.
            Some((_, rest)) => match rest.find(['/', '?']) {
                Some(at) if rest[at..].starts_with('/') => &rest[at..],
                _ => "",
            },
            None => target,
        };
        let (path, query) = origin.split_once('?').unwrap_or((origin, ""));
        match path {
            "/cpu" => Route::Cpu,
            "/wait" => Route::Wait,
            "/db" => Route::Db(Query::One),
            "/queries" => Route::Db(Query::many(param(query, "queries"))),
            _ => Route::Hello,
        }
    }
}

/// The value of the first parameter `name` in a query string (`a=1&queries=20`), as
/// given (TechEmpower's clients send plain digits; nothing is percent-decoded).
fn param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// How a request's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyFraming {
    None,
    Length(u64),
    Chunked,
}

/// What the reply to a request depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Request {
    pub(super) pending: Pending,
    pub(super) body: BodyFraming,
    /// `100 Continue` is owed before the body.
    pub(super) continue_first: bool,
}

/// Parses one request head at the start of `input`: `Ok(None)` if it is incomplete,
/// `Ok(Some((head length, request)))` if complete, `Err(status)` if it must be refused.
pub(super) fn parse_head(input: &[u8]) -> Result<Option<(usize, Request)>, Status> {
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(input, &mut fields) {
        Ok(httparse::Status::Complete(len)) if len > MAX_HEAD => return Err(TOO_LARGE),
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(TOO_LARGE),
        Err(_) => return Err(BAD_REQUEST),
    };
    let mut head = Fields::default();
    for field in req.headers.iter() {
        head.read(field.name, field.value)?;
    }
    let route = Route::of(req.path.unwrap_or_default());
    let request = head.request(req.version == Some(0), req.method == Some("HEAD"), route)?;
    Ok(Some((len, request)))
}

/// What a request's header fields say about framing and answering it, gathered in one
/// pass over them.
#[derive(Debug, Default)]
struct Fields {
    close: bool,
    keep_alive_asked: bool,
    host: bool,
    length: Option<u64>,
    chunked: bool,
    expect_continue: bool,
    /// An expectation other than 100-continue.
    unmet_expectation: bool,
}

impl Fields {
    /// Takes one field into account; refuses the request if that field alone must.
    fn read(&mut self, name: &str, value: &[u8]) -> Result<(), Status> {
        // One comparison per field at most: the names interpreted differ in length.
        match name.len() {
            4 if name.eq_ignore_ascii_case("host") => self.host(value)?,
            6 if name.eq_ignore_ascii_case("expect") => self.expect(value),
            10 if name.eq_ignore_ascii_case("connection") => self.connection(value),
            14 if name.eq_ignore_ascii_case("content-length") => self.content_length(value)?,
            17 if name.eq_ignore_ascii_case("transfer-encoding") => {
                self.transfer_encoding(value)?
            }
            _ => {}
        }
        Ok(())
    }

    /// One Host field, whose value is a valid `host [":" port]` (RFC 9112 3.2: two, or
    /// an invalid one, get 400).
    fn host(&mut self, value: &[u8]) -> Result<(), Status> {
        if self.host || !host::is_valid(value) {
            return Err(BAD_REQUEST);
        }
        self.host = true;
        Ok(())
    }

    /// `Expect: 100-continue` (a list; names compare without case, RFC 9110 10.1.1).
    fn expect(&mut self, value: &[u8]) {
        for member in value.split(|&b| b == b',') {
            let member = member.trim_ascii();
            if member.eq_ignore_ascii_case(b"100-continue") {
                self.expect_continue = true;
            } else if !member.is_empty() {
                self.unmet_expectation = true;
            }
        }
    }

    fn connection(&mut self, value: &[u8]) {
        for token in value.split(|&b| b == b',') {
            let token = token.trim_ascii();
            self.close |= token.eq_ignore_ascii_case(b"close");
            self.keep_alive_asked |= token.eq_ignore_ascii_case(b"keep-alive");
        }
    }

    /// Several Content-Length fields must agree (RFC 9112 6.3).
    fn content_length(&mut self, value: &[u8]) -> Result<(), Status> {
        let value = parse_length(value).ok_or(BAD_REQUEST)?;
        if self.length.is_some_and(|seen| seen != value) {
            return Err(BAD_REQUEST);
        }
        self.length = Some(value);
        Ok(())
    }

    /// Only `chunked` delimits a request body: it is the final coding and is applied
    /// once (RFC 9112 6.3), and no other coding is decoded here, so the codings of all
    /// the fields together must be one `chunked` (empty list elements aside, RFC 9110
    /// 5.6.1): `chunked, chunked` and `gzip, chunked` are refused.
    fn transfer_encoding(&mut self, value: &[u8]) -> Result<(), Status> {
        let codings = value
            .split(|&b| b == b',')
            .map(<[u8]>::trim_ascii)
            .filter(|coding| !coding.is_empty());
        let mut any = false;
        for coding in codings {
            if self.chunked || !coding.eq_ignore_ascii_case(b"chunked") {
                return Err(BAD_REQUEST);
            }
            self.chunked = true;
            any = true;
        }
        if any {
            Ok(())
        } else {
            Err(BAD_REQUEST)
        }
    }

    /// The request the fields describe, once all are read; refused if they do not
    /// add up.
    fn request(self, http10: bool, head_only: bool, route: Route) -> Result<Request, Status> {
        // HTTP/1.1 requires Host (RFC 9112 3.2). A request framed two ways is a
        // smuggling attempt; HTTP/1.0 has no transfer codings, so a Transfer-Encoding
        // makes its framing faulty, whatever else it says (6.1). (Any other coding
        // than a final chunked was refused already: `chunked` means the field is there.)
        if (!http10 && !self.host) || (self.chunked && (http10 || self.length.is_some())) {
            return Err(BAD_REQUEST);
        }
        // Expect is HTTP/1.1's: an HTTP/1.0 request's is ignored (RFC 9110 10.1.1).
        if self.unmet_expectation && !http10 {
            return Err(EXPECTATION_FAILED);
        }
        let body = match (self.chunked, self.length) {
            (true, _) => BodyFraming::Chunked,
            (false, Some(n)) if n > 0 => BodyFraming::Length(n),
            _ => BodyFraming::None,
        };
        let pending = Pending {
            head_only,
            connection: match (self.close, http10, self.keep_alive_asked) {
                (true, _, _) | (false, true, false) => Connection::Close,
                (false, true, true) => Connection::KeepAlive10,
                (false, false, _) => Connection::KeepAlive,
            },
            route,
        };
        Ok(Request {
            pending,
            body,
            continue_first: self.expect_continue && !http10 && body != BodyFraming::None,
        })
    }
}

/// A Content-Length value: ASCII digits only, no sign, no overflow.
pub(super) fn parse_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::{param, Query, Route};

    #[test]
    fn the_path_alone_routes() {
        for (target, route) in [
            ("/cpu", Route::Cpu),
            ("/cpu?n=5", Route::Cpu),
            ("/wait", Route::Wait),
            ("/wait?", Route::Wait),
            ("/", Route::Hello),
            ("/plaintext", Route::Hello),
            ("/cpu/", Route::Hello),
            ("/waiting", Route::Hello),
            ("/x?/cpu", Route::Hello),
            ("*", Route::Hello),
            ("/db", Route::Db(Query::One)),
            ("/db?queries=5", Route::Db(Query::One)),
            ("/queries", Route::Db(Query::Many(1))),
            ("/queries?queries=20", Route::Db(Query::Many(20))),
            ("/queries?x=1&queries=600", Route::Db(Query::Many(500))),
            ("/queries?queries=", Route::Db(Query::Many(1))),
            ("/queries?queries=abc", Route::Db(Query::Many(1))),
            ("http://h/queries?queries=3", Route::Db(Query::Many(3))),
            ("/queries/", Route::Hello),
            ("http://host:80/cpu?x", Route::Cpu),
            ("http://host?/wait", Route::Hello),
            ("http://host", Route::Hello),
        ] {
            assert_eq!(Route::of(target), route, "{target}");
        }
    }

    #[test]
    fn a_parameter_is_found_by_its_whole_name() {
        assert_eq!(param("queries=2", "queries"), Some("2"));
        assert_eq!(param("xqueries=2&queries=3", "queries"), Some("3"));
        assert_eq!(param("queries&queries=4", "queries"), Some("4"));
        assert_eq!(param("", "queries"), None);
    }
}
