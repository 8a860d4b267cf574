//! HTTP/1.1 in the TechEmpower style: plaintext `Hello, World!`, and the JSON of the
//! database tests.
//!
//! - Requests are routed by path, whatever their method: `/cpu` and `/wait` need work
//!   before their reply (the server's [`Handlers`] amounts; see [`super`] for how the
//!   connection layer carries it out) and are then answered `Hello, World!`; `/db` and
//!   `/queries?queries=N` read rows of the `World` table (N clamped to 1..=500) and are
//!   answered as JSON, or `503` with the reason when the database fails or the server
//!   has none; every other path is answered `Hello, World!` at once.
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
//! `http_head.rs` checks what httparse leaves to it (above) and routes. The checks cost a
//! length comparison per header field, and a table look-up per byte of the Host value.

use super::{
    date, world, Close, Handlers, Outcome, Progress, Query, Work, World, OUTPUT_HIGH_WATER,
};

#[path = "http_head.rs"]
mod head;
#[path = "http_host.rs"]
mod host;

use head::{parse_head, BodyFraming, Route};

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
const HEAD_200_JSON: &[u8] =
    b"HTTP/1.1 200 OK\r\nServer: iomodels\r\nContent-Type: application/json\r\nContent-Length: ";
const HEAD_503: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nServer: iomodels\r\n\
    Content-Type: text/plain\r\nContent-Length: ";
/// Why `/db` and `/queries` are refused by a server started without a database.
pub const NO_DATABASE: &str = "no database: start the server with --database URL";

/// What a reply carries.
#[derive(Debug, Clone, Copy)]
enum Body<'a> {
    /// `Hello, World!`.
    Hello,
    /// The rows read, as JSON.
    Rows(Query, &'a [World]),
    /// `503`, with the reason.
    Unavailable(&'a str),
}
/// The interim reply that asks a client waiting on `Expect: 100-continue` for the body.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Where a connection is in its stream of requests. (The bytes a body still has to come
/// are the session's `remaining`, outside this enum, so the session stays 24 bytes with
/// its handlers.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for (the rest of) a request head.
    Head,
    /// Discarding the rest of a `Content-Length` body.
    Body,
    /// Waiting for a chunk-size line.
    ChunkSize,
    /// Discarding chunk data.
    ChunkData,
    /// Expecting the CRLF that ends a chunk's data.
    ChunkEnd,
    /// Discarding trailer fields up to the empty line.
    Trailers,
    /// The request just completed needs work: nothing is consumed until it is done.
    /// `more_input`: bytes followed the request (a close after its reply lingers).
    Working { more_input: bool },
    /// A final reply was written; everything that follows is ignored.
    Done,
}

/// The reply owed to the request whose body is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    head_only: bool,
    connection: Connection,
    route: Route,
}

/// What becomes of the connection after a reply, and what its `Connection` field says.
/// (One byte for what two flags said, so a session, held by every idle connection,
/// stays 24 bytes.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connection {
    /// HTTP/1.1's default: no field.
    KeepAlive,
    /// An HTTP/1.0 client asked for keep-alive: `Connection: keep-alive`.
    KeepAlive10,
    /// `Connection: close`, then the connection ends.
    Close,
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
    /// Body bytes still to come, in [`State::Body`] and [`State::ChunkData`].
    remaining: u64,
    handlers: &'static Handlers,
}

impl Default for HttpSession {
    fn default() -> Self {
        Self::new(&Handlers::DEFAULT)
    }
}

/// An error reply: status code and reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u16, pub &'static str);

const BAD_REQUEST: Status = Status(400, "Bad Request");
const TOO_LARGE: Status = Status(431, "Request Header Fields Too Large");
const EXPECTATION_FAILED: Status = Status(417, "Expectation Failed");

impl HttpSession {
    /// A session that does the work `handlers` says for `/cpu` and `/wait`.
    pub fn new(handlers: &'static Handlers) -> Self {
        HttpSession {
            state: State::Head,
            pending: Pending {
                head_only: false,
                connection: Connection::KeepAlive,
                route: Route::Hello,
            },
            remaining: 0,
            handlers,
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
                // The reply owed comes first: nothing more before the work is done.
                State::Working { .. } => Step::Wait(0),
                State::Head => self.head(rest, out),
                State::Body => self.body(rest),
                State::ChunkSize => self.chunk_size(rest),
                State::ChunkData => self.chunk_data(rest),
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
                    let more_input = input.len() > pos;
                    if let Some(work) = self.work_of_route() {
                        self.state = State::Working { more_input };
                        return Progress {
                            consumed: pos,
                            completed,
                            close: None,
                            work: Some(work),
                        };
                    }
                    if let Some(close) = self.reply(out, more_input, self.body_at_once()) {
                        return Progress {
                            consumed: input.len(),
                            completed,
                            close: Some(close),
                            work: None,
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
            work: None,
        }
    }

    /// The work the session waits for before it goes on, if any: what the last
    /// progress asked for, until [`Self::finish_work`].
    pub fn work_owed(&self) -> Option<Work> {
        match self.state {
            State::Working { .. } => self.work_of_route(),
            _ => None,
        }
    }

    /// The work the request just completed needs before its reply, if any.
    fn work_of_route(&self) -> Option<Work> {
        match self.pending.route {
            Route::Cpu => Some(Work::Cpu(self.handlers.cpu)),
            Route::Wait => Some(Work::Wait(self.handlers.wait)),
            Route::Db(query) => self.handlers.database.map(|db| Work::Db(query, db.url)),
            Route::Hello => None,
        }
    }

    /// The reply to a request that needs no work.
    fn body_at_once(&self) -> Body<'static> {
        match self.pending.route {
            Route::Db(_) => Body::Unavailable(NO_DATABASE),
            _ => Body::Hello,
        }
    }

    /// The work [`Self::feed`] asked for is done, with `outcome`: appends its
    /// request's reply, and says whether the connection must close after it (a
    /// lingering close if input followed the request). Without work owed it does
    /// nothing.
    pub fn finish_work(&mut self, out: &mut Vec<u8>, outcome: Outcome) -> Progress {
        let State::Working { more_input } = self.state else {
            return Progress::default();
        };
        self.state = State::Head;
        let body = match (&outcome, self.pending.route) {
            (Outcome::Rows(rows), Route::Db(query)) => Body::Rows(query, rows),
            (Outcome::Failed(reason), _) => Body::Unavailable(reason),
            _ => Body::Hello,
        };
        Progress {
            consumed: 0,
            completed: true,
            close: self.reply(out, more_input, body),
            work: None,
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
                (self.state, self.remaining) = match request.body {
                    BodyFraming::None => (State::Body, 0),
                    BodyFraming::Length(n) => (State::Body, n),
                    BodyFraming::Chunked => (State::ChunkSize, 0),
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
    fn body(&mut self, rest: &[u8]) -> Step {
        let taken = self.discard(rest);
        if self.remaining > 0 {
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
                (self.state, self.remaining) = (State::ChunkData, size);
                Step::Go(len)
            }
            Ok(httparse::Status::Partial) if rest.len() <= MAX_CHUNK_LINE => Step::Wait(0),
            _ => Step::Refuse(BAD_REQUEST),
        }
    }

    fn chunk_data(&mut self, rest: &[u8]) -> Step {
        let taken = self.discard(rest);
        if self.remaining > 0 {
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
    fn reply(&mut self, out: &mut Vec<u8>, more_input: bool, body: Body) -> Option<Close> {
        let Pending {
            head_only,
            connection,
            ..
        } = self.pending;
        write_head(out, body);
        date::append_now(out);
        out.extend_from_slice(match connection {
            Connection::KeepAlive => b"\r\n\r\n".as_slice(),
            Connection::KeepAlive10 => b"\r\nConnection: keep-alive\r\n\r\n",
            Connection::Close => b"\r\nConnection: close\r\n\r\n",
        });
        if !head_only {
            write_body(out, body);
        }
        if connection != Connection::Close {
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
            work: None,
        }
    }

    /// Takes what `rest` holds of the body bytes still to come; returns how many.
    fn discard(&mut self, rest: &[u8]) -> usize {
        let taken = self.remaining.min(rest.len() as u64);
        self.remaining -= taken;
        taken as usize
    }
}

/// A reply's status line and fields up to the `Date` value.
fn write_head(out: &mut Vec<u8>, body: Body) {
    let (head, len) = match body {
        Body::Hello => return out.extend_from_slice(HEAD_200),
        Body::Rows(query, rows) => (HEAD_200_JSON, world::len(query, rows)),
        Body::Unavailable(reason) => (HEAD_503, reason.len() + 1),
    };
    out.extend_from_slice(head);
    out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
    out.extend_from_slice(b"\r\nDate: ");
}

fn write_body(out: &mut Vec<u8>, body: Body) {
    match body {
        Body::Hello => out.extend_from_slice(BODY),
        Body::Rows(query, rows) => world::write(query, rows, out),
        Body::Unavailable(reason) => {
            out.extend_from_slice(reason.as_bytes());
            out.push(b'\n');
        }
    }
}

fn find_crlf(input: &[u8]) -> Option<usize> {
    input.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
