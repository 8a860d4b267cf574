//! HTTP/1.1 plaintext in the TechEmpower style: every request is answered
//! `200 OK` with the body `Hello, World!`.
//!
//! - Keep-alive by default for HTTP/1.1; HTTP/1.0 closes unless it asks for keep-alive;
//!   `Connection: close` is honoured.
//! - `HEAD` is answered without a body; pipelined requests are answered in order.
//! - Request bodies (`Content-Length` or chunked) are read and discarded before the
//!   reply, so the next request on the connection parses from the right place.
//! - `Expect: 100-continue` on an HTTP/1.1 request that announces a body gets
//!   `100 Continue` as soon as its head is complete, before its body (RFC 9110 10.1.1;
//!   also when the body came with the head, which 10.1.1 allows, so the replies do not
//!   depend on how the input is split). An HTTP/1.0 request's `Expect` is ignored, as
//!   10.1.1 requires of 100-continue. Any other expectation gets `417` and a lingering
//!   close (10.1.1's MAY): this server meets none, and a reply as if it had would
//!   mislead the client.
//! - A malformed request gets `400` and a lingering close; a head longer than
//!   [`MAX_HEAD`] bytes, or with more than [`MAX_HEADERS`] fields, gets `431`.
//!   Malformed, beyond what httparse refuses (RFC 9112):
//!   - `Host`: missing from an HTTP/1.1 request, given twice, or whose value is not
//!     `host [":" port]` as RFC 3986 spells them (3.2; an empty value is valid);
//!   - `Content-Length`: not digits, or several that disagree (6.3);
//!   - `Transfer-Encoding`: anything but a single `chunked`, over all its fields (6.3:
//!     chunked is the final coding and is applied once; no other coding is decoded
//!     here), given with a `Content-Length` (6.1, a smuggling attempt), or in an
//!     HTTP/1.0 request (6.1).
//!
//! Parsing is httparse's; this file only frames requests and writes replies, and
//! checks what httparse leaves to it (above). The checks cost a length comparison per
//! header field, and a table look-up per byte of the Host value.

use std::mem::MaybeUninit;

use super::{date, Close, Progress, OUTPUT_HIGH_WATER};

#[path = "http_host.rs"]
mod host;

/// The largest request head (request line and header fields) accepted.
pub const MAX_HEAD: usize = 8 * 1024;
/// The most header fields accepted in one request.
pub const MAX_HEADERS: usize = 64;
/// The longest chunk-size line accepted (size, extensions, CRLF).
const MAX_CHUNK_LINE: usize = 1024;

/// The body every request is answered with.
pub const BODY: &[u8] = b"Hello, World!";
const HEAD_200: &[u8] =
    b"HTTP/1.1 200 OK\r\nServer: iomodels\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nDate: ";
/// The interim reply that asks a client waiting on `Expect: 100-continue` for the body.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Where a connection is in its stream of requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for (the rest of) a request head.
    Head,
    /// Discarding the rest of a `Content-Length` body.
    Body { remaining: u64 },
    /// Waiting for a chunk-size line.
    ChunkSize,
    /// Discarding chunk data.
    ChunkData { remaining: u64 },
    /// Expecting the CRLF that ends a chunk's data.
    ChunkEnd,
    /// Discarding trailer fields up to the empty line.
    Trailers,
    /// A final reply was written; everything that follows is ignored.
    Done,
}

/// The reply owed to the request whose body is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    head_only: bool,
    keep_alive: bool,
    http10: bool,
}

/// What one step of [`HttpSession::feed`] did with the input in front of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Consumed this many bytes; the next state goes on with what follows.
    Go(usize),
    /// Consumed this many bytes; nothing more can be done before more input arrives.
    Wait(usize),
    /// Consumed this many bytes, which completed a request: its reply is owed.
    Complete(usize),
    /// The request is refused with this status.
    Refuse(Status),
}

/// One connection's HTTP state.
#[derive(Debug)]
pub struct HttpSession {
    state: State,
    pending: Pending,
}

impl Default for HttpSession {
    fn default() -> Self {
        Self::new()
    }
}

/// An error reply: status code and reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u16, pub &'static str);

const BAD_REQUEST: Status = Status(400, "Bad Request");
const TOO_LARGE: Status = Status(431, "Request Header Fields Too Large");
const EXPECTATION_FAILED: Status = Status(417, "Expectation Failed");

impl HttpSession {
    pub fn new() -> Self {
        HttpSession {
            state: State::Head,
            pending: Pending {
                head_only: false,
                keep_alive: true,
                http10: false,
            },
        }
    }

    /// Consumes complete requests (and bodies) from `input`, appending replies to `out`:
    /// each state takes what it can of the input in front of it, and says what comes next.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Progress {
        let mut pos = 0;
        let mut completed = false;
        loop {
            let rest = &input[pos..];
            let step = match self.state {
                // After the final reply nothing is answered: the input counts as consumed.
                State::Done => Step::Wait(rest.len()),
                State::Head => self.head(rest, out),
                State::Body { remaining } => self.body(rest, remaining),
                State::ChunkSize => self.chunk_size(rest),
                State::ChunkData { remaining } => self.chunk_data(rest, remaining),
                State::ChunkEnd => self.chunk_end(rest),
                State::Trailers => self.trailers(rest),
            };
            match step {
                Step::Go(n) => pos += n,
                Step::Wait(n) => {
                    pos += n;
                    break;
                }
                Step::Complete(n) => {
                    pos += n;
                    completed = true;
                    if let Some(close) = self.reply(out, input.len() > pos) {
                        return Progress {
                            consumed: input.len(),
                            completed,
                            close: Some(close),
                        };
                    }
                }
                Step::Refuse(status) => return self.fail(status, out, completed, input.len()),
            }
        }
        Progress {
            consumed: pos,
            completed,
            close: None,
        }
    }

    /// Parses a request head; once it is complete, the body (if any) comes next.
    fn head(&mut self, rest: &[u8], out: &mut Vec<u8>) -> Step {
        // Replies waiting at the high-water mark hold further requests back.
        if rest.is_empty() || out.len() >= OUTPUT_HIGH_WATER {
            return Step::Wait(0);
        }
        match parse_head(rest) {
            Ok(None) if rest.len() > MAX_HEAD => Step::Refuse(TOO_LARGE),
            Ok(None) => Step::Wait(0),
            Ok(Some((len, request))) => {
                self.pending = request.pending;
                self.state = match request.body {
                    BodyFraming::None => State::Body { remaining: 0 },
                    BodyFraming::Length(n) => State::Body { remaining: n },
                    BodyFraming::Chunked => State::ChunkSize,
                };
                // Once per request, the head being consumed once: the client holds the
                // body back until it reads this.
                if request.continue_first {
                    out.extend_from_slice(CONTINUE);
                }
                Step::Go(len)
            }
            Err(status) => Step::Refuse(status),
        }
    }

    /// Discards a `Content-Length` body; the request is complete at its end (at once,
    /// for a request without a body).
    fn body(&mut self, rest: &[u8], remaining: u64) -> Step {
        let (taken, remaining) = discard(rest, remaining);
        if remaining > 0 {
            self.state = State::Body { remaining };
            return Step::Wait(taken);
        }
        self.state = State::Head;
        Step::Complete(taken)
    }

    fn chunk_size(&mut self, rest: &[u8]) -> Step {
        match httparse::parse_chunk_size(rest) {
            // The last chunk: trailer fields follow.
            Ok(httparse::Status::Complete((len, 0))) => {
                self.state = State::Trailers;
                Step::Go(len)
            }
            Ok(httparse::Status::Complete((len, size))) => {
                self.state = State::ChunkData { remaining: size };
                Step::Go(len)
            }
            Ok(httparse::Status::Partial) if rest.len() <= MAX_CHUNK_LINE => Step::Wait(0),
            _ => Step::Refuse(BAD_REQUEST),
        }
    }

    fn chunk_data(&mut self, rest: &[u8], remaining: u64) -> Step {
        let (taken, remaining) = discard(rest, remaining);
        if remaining > 0 {
            self.state = State::ChunkData { remaining };
            return Step::Wait(taken);
        }
        self.state = State::ChunkEnd;
        Step::Go(taken)
    }

    fn chunk_end(&mut self, rest: &[u8]) -> Step {
        match rest {
            [b'\r', b'\n', ..] => {
                self.state = State::ChunkSize;
                Step::Go(2)
            }
            [] | [b'\r'] => Step::Wait(0),
            _ => Step::Refuse(BAD_REQUEST),
        }
    }

    /// Discards trailer fields; the empty line after them completes the request.
    fn trailers(&mut self, rest: &[u8]) -> Step {
        match find_crlf(rest) {
            Some(0) => {
                self.state = State::Head;
                Step::Complete(2)
            }
            Some(line) => Step::Go(line + 2),
            None if rest.len() > MAX_HEAD => Step::Refuse(TOO_LARGE),
            None => Step::Wait(0),
        }
    }

    /// Writes the reply owed to the request just completed; returns how the connection
    /// must close, if it must.
    fn reply(&mut self, out: &mut Vec<u8>, more_input: bool) -> Option<Close> {
        let Pending {
            head_only,
            keep_alive,
            http10,
        } = self.pending;
        out.extend_from_slice(HEAD_200);
        date::append_now(out);
        out.extend_from_slice(match (keep_alive, http10) {
            (true, false) => b"\r\n\r\n".as_slice(),
            (true, true) => b"\r\nConnection: keep-alive\r\n\r\n",
            (false, _) => b"\r\nConnection: close\r\n\r\n",
        });
        if !head_only {
            out.extend_from_slice(BODY);
        }
        if keep_alive {
            return None;
        }
        self.state = State::Done;
        // Bytes after the last request would be unread at close(2), which makes the
        // kernel send a reset that can destroy the reply in flight: linger instead.
        Some(if more_input {
            Close::Linger
        } else {
            Close::AfterFlush
        })
    }

    /// Writes an error reply and ends the session with a lingering close; all the input
    /// (`input_len` bytes) counts as consumed.
    fn fail(
        &mut self,
        status: Status,
        out: &mut Vec<u8>,
        completed: bool,
        input_len: usize,
    ) -> Progress {
        let Status(code, reason) = status;
        out.extend_from_slice(
            format!("HTTP/1.1 {code} {reason}\r\nServer: iomodels\r\nDate: ").as_bytes(),
        );
        date::append_now(out);
        out.extend_from_slice(
            format!(
                "\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reason}\n",
                reason.len() + 1
            )
            .as_bytes(),
        );
        self.state = State::Done;
        Progress {
            consumed: input_len,
            completed,
            close: Some(Close::Linger),
        }
    }
}

/// How a request's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyFraming {
    None,
    Length(u64),
    Chunked,
}

/// What the reply to a request depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Request {
    pending: Pending,
    body: BodyFraming,
    /// `100 Continue` is owed before the body.
    continue_first: bool,
}

/// Parses one request head at the start of `input`: `Ok(None)` if it is incomplete,
/// `Ok(Some((head length, request)))` if complete, `Err(status)` if it must be refused.
fn parse_head(input: &[u8]) -> Result<Option<(usize, Request)>, Status> {
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
    let request = head.request(req.version == Some(0), req.method == Some("HEAD"))?;
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
    fn request(self, http10: bool, head_only: bool) -> Result<Request, Status> {
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
            keep_alive: !self.close && (!http10 || self.keep_alive_asked),
            http10,
        };
        Ok(Request {
            pending,
            body,
            continue_first: self.expect_continue && !http10 && body != BodyFraming::None,
        })
    }
}

/// A Content-Length value: ASCII digits only, no sign, no overflow.
fn parse_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Takes what `rest` holds of a body with `remaining` bytes to come: (bytes taken,
/// bytes still to come).
fn discard(rest: &[u8], remaining: u64) -> (usize, u64) {
    let taken = remaining.min(rest.len() as u64);
    (taken as usize, remaining - taken)
}

fn find_crlf(input: &[u8]) -> Option<usize> {
    input.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
