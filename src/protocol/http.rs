//! HTTP/1.1 plaintext in the TechEmpower style: every request is answered
//! `200 OK` with the body `Hello, World!`.
//!
//! - Keep-alive by default for HTTP/1.1; HTTP/1.0 closes unless it asks for keep-alive;
//!   `Connection: close` is honoured.
//! - `HEAD` is answered without a body; pipelined requests are answered in order.
//! - Request bodies (`Content-Length` or chunked) are read and discarded before the
//!   reply, so the next request on the connection parses from the right place.
//! - A malformed request gets `400` and a lingering close; a head longer than
//!   [`MAX_HEAD`] bytes, or with more than [`MAX_HEADERS`] fields, gets `431`.
//!
//! Parsing is httparse's; this file only frames requests and writes replies.

use std::mem::MaybeUninit;

use super::{date, Close, Progress, OUTPUT_HIGH_WATER};

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

    /// Consumes complete requests (and bodies) from `input`, appending replies to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Progress {
        let mut pos = 0;
        let mut completed = false;
        loop {
            let rest = &input[pos..];
            match self.state {
                State::Done => {
                    return Progress {
                        consumed: input.len(),
                        completed,
                        close: None,
                    }
                }
                State::Head => {
                    if rest.is_empty() || out.len() >= OUTPUT_HIGH_WATER {
                        break;
                    }
                    match parse_head(rest) {
                        Ok(None) if rest.len() > MAX_HEAD => {
                            return self.fail(TOO_LARGE, out, completed, input.len())
                        }
                        Ok(None) => break,
                        Ok(Some((len, request))) => {
                            pos += len;
                            self.pending = request.pending;
                            self.state = match request.body {
                                BodyFraming::None => State::Body { remaining: 0 },
                                BodyFraming::Length(n) => State::Body { remaining: n },
                                BodyFraming::Chunked => State::ChunkSize,
                            };
                        }
                        Err(status) => return self.fail(status, out, completed, input.len()),
                    }
                }
                State::Body { remaining } | State::ChunkData { remaining } => {
                    let take = remaining.min(rest.len() as u64);
                    pos += take as usize;
                    let remaining = remaining - take;
                    let chunked = matches!(self.state, State::ChunkData { .. });
                    self.state = match (chunked, remaining) {
                        (false, 0) => {
                            completed = true;
                            if let Some(close) = self.reply(out, input.len() > pos) {
                                return Progress {
                                    consumed: input.len(),
                                    completed,
                                    close: Some(close),
                                };
                            }
                            State::Head
                        }
                        (true, 0) => State::ChunkEnd,
                        (false, remaining) => State::Body { remaining },
                        (true, remaining) => State::ChunkData { remaining },
                    };
                    if remaining > 0 {
                        break;
                    }
                }
                State::ChunkSize => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((len, 0))) => {
                        pos += len;
                        self.state = State::Trailers;
                    }
                    Ok(httparse::Status::Complete((len, size))) => {
                        pos += len;
                        self.state = State::ChunkData { remaining: size };
                    }
                    Ok(httparse::Status::Partial) if rest.len() <= MAX_CHUNK_LINE => break,
                    _ => return self.fail(BAD_REQUEST, out, completed, input.len()),
                },
                State::ChunkEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        pos += 2;
                        self.state = State::ChunkSize;
                    }
                    [] | [b'\r'] => break,
                    _ => return self.fail(BAD_REQUEST, out, completed, input.len()),
                },
                State::Trailers => match find_crlf(rest) {
                    // The empty line: the body is over, the request complete.
                    Some(0) => {
                        pos += 2;
                        self.state = State::Body { remaining: 0 };
                    }
                    Some(line) => pos += line + 2,
                    None if rest.len() > MAX_HEAD => {
                        return self.fail(TOO_LARGE, out, completed, input.len())
                    }
                    None => break,
                },
            }
        }
        Progress {
            consumed: pos,
            completed,
            close: None,
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
    let http10 = req.version == Some(0);
    let mut close = false;
    let mut keep_alive_asked = false;
    let mut host = false;
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for field in req.headers.iter() {
        let name = field.name;
        if name.eq_ignore_ascii_case("connection") {
            for token in field.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_asked |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            let value = parse_length(field.value).ok_or(BAD_REQUEST)?;
            if length.is_some_and(|seen| seen != value) {
                return Err(BAD_REQUEST);
            }
            length = Some(value);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Only `chunked` as the final coding delimits a request body (RFC 9112 6.1).
            let last = field
                .value
                .rsplit(|&b| b == b',')
                .next()
                .unwrap_or_default();
            if chunked || !last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Err(BAD_REQUEST);
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("host") {
            host = true;
        }
    }
    // HTTP/1.1 requires Host; a request framed two ways is a smuggling attempt.
    if (!http10 && !host) || (chunked && length.is_some()) {
        return Err(BAD_REQUEST);
    }
    let body = match (chunked, length) {
        (true, _) => BodyFraming::Chunked,
        (false, Some(n)) if n > 0 => BodyFraming::Length(n),
        _ => BodyFraming::None,
    };
    let keep_alive = !close && (!http10 || keep_alive_asked);
    let pending = Pending {
        head_only: req.method == Some("HEAD"),
        keep_alive,
        http10,
    };
    Ok(Some((len, Request { pending, body })))
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

fn find_crlf(input: &[u8]) -> Option<usize> {
    input.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
