//! A streaming HTTP/1.1 response reader for the client side: fed whatever bytes a read
//! returned, it reports each complete response (status, and whether the server will
//! close). Headers are parsed with httparse; bodies are skipped without being
//! buffered: Content-Length, chunked, or until close. Only a response head split across
//! reads is kept, per connection.
//!
//! The load generator only counts responses ([`ResponseReader::feed`]); a client that
//! must judge what it was sent (`bench abuse`'s checkers) passes a [`ResponseObserver`]
//! ([`ResponseReader::feed_observed`]) and is shown each head and the body bytes. The
//! reader is generic over the observer, so the counting path, whose observer is `()`,
//! compiles to what it was without one.

/// The most header bytes a response may have before it counts as malformed.
pub const MAX_HEAD: usize = 64 * 1024;

/// Headers parsed on the fast path (a typical response has fewer than ten), and the
/// most any response may have.
const FEW_HEADERS: usize = 16;
const MANY_HEADERS: usize = 128;

/// A reply the reader could not make sense of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed HTTP response")]
pub struct Malformed;

/// A complete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completed {
    pub status: u16,
    /// The server said it will close the connection after this response.
    pub close: bool,
}

impl Completed {
    /// A 2xx or 3xx answer: a request served. Any other status is an answer but not a
    /// success (wrk's "Non-2xx or 3xx responses"): it counts as an `http_status` error,
    /// never as a request or as throughput.
    pub fn succeeded(&self) -> bool {
        (200..400).contains(&self.status)
    }
}

/// How a response's body is framed (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: a reply to HEAD, a 204 or 304, or `Content-Length: 0`.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
}

/// Shown what [`ResponseReader::feed`] reads past: each final response's head, and its
/// body bytes (chunked framing removed), in order. Both methods do nothing by default.
pub trait ResponseObserver {
    /// A final response's head was read (interim 1xx responses are not shown).
    fn head(&mut self, _status: u16, _framing: Framing) {}
    /// The next bytes of the current response's body.
    fn body(&mut self, _bytes: &[u8]) {}
}

/// Observes nothing: what [`ResponseReader::feed`] passes.
impl ResponseObserver for () {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Body {
    /// Waiting for (the rest of) a response head.
    #[default]
    Head,
    Length(u64),
    /// Chunked: inside a size line (digits so far), data, the CRLF after data, or trailers.
    ChunkSize(u64),
    ChunkExt(u64),
    ChunkData(u64),
    ChunkDataEnd(u8),
    Trailer(u8),
    UntilClose,
}

/// The per-connection reader state: small (no buffer) until a head is split.
#[derive(Debug, Default)]
pub struct ResponseReader {
    head: Vec<u8>,
    body: Body,
    status: u16,
    close: bool,
}

impl ResponseReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets any partial response (the connection was replaced).
    pub fn reset(&mut self) {
        self.head.clear();
        self.body = Body::Head;
    }

    /// Whether no response is partly read.
    pub fn is_idle(&self) -> bool {
        self.body == Body::Head && self.head.is_empty()
    }

    /// Feeds bytes; calls `done` for each complete response, in order. `head_request`
    /// says the requests were HEAD, whose responses have no body whatever they claim.
    pub fn feed(
        &mut self,
        data: &[u8],
        head_request: bool,
        done: &mut impl FnMut(Completed),
    ) -> Result<(), Malformed> {
        self.feed_observed(data, head_request, &mut (), done)
    }

    /// [`ResponseReader::feed`], also showing `observer` every head and body byte.
    pub fn feed_observed(
        &mut self,
        data: &[u8],
        head_request: bool,
        observer: &mut impl ResponseObserver,
        done: &mut impl FnMut(Completed),
    ) -> Result<(), Malformed> {
        if self.head.is_empty() {
            return self.feed_bytes(data, head_request, observer, done);
        }
        let mut pending = std::mem::take(&mut self.head);
        pending.extend_from_slice(data);
        let result = self.feed_bytes(&pending, head_request, observer, done);
        if self.head.is_empty() {
            pending.clear();
            self.head = pending; // keep the capacity for the next split head
        }
        result
    }

    /// The connection reached end of file: completes a body that runs until close.
    pub fn eof(&mut self, done: &mut impl FnMut(Completed)) -> bool {
        if self.body == Body::UntilClose {
            self.body = Body::Head;
            done(Completed {
                status: self.status,
                close: true,
            });
            return true;
        }
        false
    }

    fn feed_bytes(
        &mut self,
        mut data: &[u8],
        head_request: bool,
        observer: &mut impl ResponseObserver,
        done: &mut impl FnMut(Completed),
    ) -> Result<(), Malformed> {
        loop {
            match self.body {
                Body::Head => {
                    if data.is_empty() {
                        return Ok(());
                    }
                    match self.read_head(data, head_request, observer, done)? {
                        Some(len) => data = &data[len..],
                        None => return Ok(()),
                    }
                }
                Body::Length(left) => {
                    let owed;
                    (data, owed) = pass_body(data, left, observer);
                    if owed == 0 {
                        self.finish(done);
                    } else {
                        self.body = Body::Length(owed);
                        return Ok(());
                    }
                }
                Body::ChunkData(left) => {
                    let owed;
                    (data, owed) = pass_body(data, left, observer);
                    if owed == 0 {
                        self.body = Body::ChunkDataEnd(0);
                    } else {
                        self.body = Body::ChunkData(owed);
                        return Ok(());
                    }
                }
                Body::UntilClose => {
                    observer.body(data);
                    return Ok(());
                }
                _ => {
                    let Some((&byte, rest)) = data.split_first() else {
                        return Ok(());
                    };
                    data = rest;
                    self.chunk_byte(byte, done)?;
                }
            }
        }
    }

    /// Parses the response head `data` starts with. Returns its length once it is
    /// complete (its body, if it has one, is next), or `None` once an incomplete head is
    /// kept for the next read.
    #[inline]
    fn read_head(
        &mut self,
        data: &[u8],
        head_request: bool,
        observer: &mut impl ResponseObserver,
        done: &mut impl FnMut(Completed),
    ) -> Result<Option<usize>, Malformed> {
        let mut headers = [httparse::EMPTY_HEADER; FEW_HEADERS];
        let mut many = Vec::new();
        let mut response = httparse::Response::new(&mut headers);
        let mut parsed = response.parse(data);
        if parsed == Err(httparse::Error::TooManyHeaders) {
            // Rare: a response with many headers pays for a bigger array.
            many.resize(MANY_HEADERS, httparse::EMPTY_HEADER);
            response = httparse::Response::new(&mut many);
            parsed = response.parse(data);
        }
        match parsed {
            Ok(httparse::Status::Complete(len)) => {
                let status = response.code.ok_or(Malformed)?;
                let (body, close) = body_of(&response, head_request)?;
                self.status = status;
                self.close = close;
                if (100..200).contains(&status) && status != 101 {
                    return Ok(Some(len)); // interim response: the real one follows
                }
                observer.head(status, body.framing());
                self.body = body;
                if body == Body::Head {
                    done(Completed { status, close });
                }
                Ok(Some(len))
            }
            Ok(httparse::Status::Partial) => {
                if data.len() > MAX_HEAD {
                    return Err(Malformed);
                }
                self.head.extend_from_slice(data);
                Ok(None)
            }
            Err(_) => Err(Malformed),
        }
    }

    /// One byte of chunked framing (sizes, extensions, CRLFs, trailers).
    fn chunk_byte(&mut self, byte: u8, done: &mut impl FnMut(Completed)) -> Result<(), Malformed> {
        self.body = match (self.body, byte) {
            (Body::ChunkSize(n), b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F') => {
                let digit = (byte as char).to_digit(16).ok_or(Malformed)? as u64;
                Body::ChunkSize(n.checked_mul(16).ok_or(Malformed)? + digit)
            }
            (Body::ChunkSize(n) | Body::ChunkExt(n), b'\n') if n == 0 => Body::Trailer(0),
            (Body::ChunkSize(n) | Body::ChunkExt(n), b'\n') => Body::ChunkData(n),
            (Body::ChunkSize(n) | Body::ChunkExt(n), _) => Body::ChunkExt(n),
            (Body::ChunkDataEnd(_), b'\r') => Body::ChunkDataEnd(1),
            (Body::ChunkDataEnd(_), b'\n') => Body::ChunkSize(0),
            (Body::ChunkDataEnd(_), _) => return Err(Malformed),
            // Trailer(n): n bytes on the current trailer line (CR not counted).
            (Body::Trailer(0), b'\n') => {
                self.finish(done);
                return Ok(());
            }
            (Body::Trailer(n), b'\r') => Body::Trailer(n),
            (Body::Trailer(_), b'\n') => Body::Trailer(0),
            (Body::Trailer(_), _) => Body::Trailer(1),
            _ => return Err(Malformed),
        };
        Ok(())
    }

    fn finish(&mut self, done: &mut impl FnMut(Completed)) {
        self.body = Body::Head;
        done(Completed {
            status: self.status,
            close: self.close,
        });
    }
}

/// Passes the first `left` bytes of `data` (or all of it, if fewer) to `observer` as
/// body bytes; returns the rest of `data` and how many body bytes are still to come.
#[inline]
fn pass_body<'d>(
    data: &'d [u8],
    left: u64,
    observer: &mut impl ResponseObserver,
) -> (&'d [u8], u64) {
    let take = left.min(data.len() as u64);
    let (body, rest) = data.split_at(take as usize);
    observer.body(body);
    (rest, left - take)
}

impl Body {
    /// The framing of a body about to be read (`self` as [`body_of`] returns it).
    fn framing(self) -> Framing {
        match self {
            Body::Length(n) => Framing::Length(n),
            Body::UntilClose => Framing::UntilClose,
            Body::Head => Framing::Empty,
            Body::ChunkSize(_)
            | Body::ChunkExt(_)
            | Body::ChunkData(_)
            | Body::ChunkDataEnd(_)
            | Body::Trailer(_) => Framing::Chunked,
        }
    }
}

/// How the body of `response` is framed (RFC 9112 §6.3), and whether the connection
/// closes after it.
fn body_of(response: &httparse::Response, head_request: bool) -> Result<(Body, bool), Malformed> {
    let status = response.code.unwrap_or(0);
    let mut close = response.version == Some(0);
    let mut length = None;
    let mut chunked = false;
    for h in response.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(h.value).map_err(|_| Malformed)?;
            length = Some(text.trim().parse::<u64>().map_err(|_| Malformed)?);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h
                .value
                .windows(7)
                .any(|w| w.eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            if h.value.eq_ignore_ascii_case(b"close") {
                close = true;
            } else if h.value.eq_ignore_ascii_case(b"keep-alive") {
                close = false;
            }
        }
    }
    let body = if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
        Body::Head
    } else if chunked {
        Body::ChunkSize(0)
    } else if let Some(0) = length {
        Body::Head
    } else if let Some(n) = length {
        Body::Length(n)
    } else {
        close = true;
        Body::UntilClose
    };
    Ok((body, close))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        reader: &mut ResponseReader,
        chunks: &[&[u8]],
        head: bool,
    ) -> Result<Vec<Completed>, Malformed> {
        let mut out = Vec::new();
        for chunk in chunks {
            reader.feed(chunk, head, &mut |c| out.push(c))?;
        }
        Ok(out)
    }

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nServer: x\r\n\r\nHello, World!";

    #[test]
    fn pipelined_responses_in_one_read() {
        let mut data = OK.to_vec();
        data.extend_from_slice(OK);
        data.extend_from_slice(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n");
        let got = run(&mut ResponseReader::new(), &[&data], false).unwrap();
        let statuses: Vec<u16> = got.iter().map(|c| c.status).collect();
        assert_eq!(statuses, [200, 200, 500]);
    }

    #[test]
    fn every_split_point_gives_one_response() {
        for split in 0..=OK.len() {
            let mut reader = ResponseReader::new();
            let got = run(&mut reader, &[&OK[..split], &OK[split..]], false).unwrap();
            assert_eq!(got.len(), 1, "split at {split}");
            assert!(reader.is_idle());
        }
    }

    #[test]
    fn head_responses_have_no_body() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n";
        let mut data = head.to_vec();
        data.extend_from_slice(head);
        let got = run(&mut ResponseReader::new(), &[&data], true).unwrap();
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn chunked_bodies_with_trailers() {
        let data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                     5;ext=1\r\nHello\r\n8\r\n, World!\r\n0\r\nX-T: 1\r\n\r\n";
        for split in 0..data.len() {
            let got = run(
                &mut ResponseReader::new(),
                &[&data[..split], &data[split..]],
                false,
            )
            .unwrap();
            assert_eq!(got.len(), 1, "split at {split}");
        }
    }

    #[test]
    fn close_and_until_close() {
        let mut reader = ResponseReader::new();
        let got = run(&mut reader, &[b"HTTP/1.0 200 OK\r\n\r\nbody bytes"], false).unwrap();
        assert!(got.is_empty());
        let mut out = Vec::new();
        assert!(reader.eof(&mut |c| out.push(c)));
        assert_eq!(
            out,
            [Completed {
                status: 200,
                close: true
            }]
        );
        let got = run(
            &mut ResponseReader::new(),
            &[b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"],
            false,
        )
        .unwrap();
        assert!(got[0].close);
    }

    #[test]
    fn garbage_is_malformed() {
        assert_eq!(
            run(&mut ResponseReader::new(), &[b"SSH-2.0-OpenSSH\r\n"], false),
            Err(Malformed)
        );
        let huge = vec![b'a'; MAX_HEAD + 10];
        let mut start = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        start.extend_from_slice(&huge);
        assert_eq!(
            run(&mut ResponseReader::new(), &[&start], false),
            Err(Malformed)
        );
    }

    /// Every head and body byte an observer is shown.
    #[derive(Default)]
    struct Seen {
        heads: Vec<(u16, Framing)>,
        body: Vec<u8>,
    }

    impl ResponseObserver for Seen {
        fn head(&mut self, status: u16, framing: Framing) {
            self.heads.push((status, framing));
        }
        fn body(&mut self, bytes: &[u8]) {
            self.body.extend_from_slice(bytes);
        }
    }

    fn observe(chunks: &[&[u8]], head: bool) -> (Seen, usize) {
        let (mut seen, mut done) = (Seen::default(), 0);
        let mut reader = ResponseReader::new();
        for chunk in chunks {
            reader
                .feed_observed(chunk, head, &mut seen, &mut |_| done += 1)
                .unwrap();
        }
        (seen, done)
    }

    #[test]
    fn an_observer_sees_heads_and_bodies() {
        for split in 0..=OK.len() {
            let (seen, done) = observe(&[&OK[..split], &OK[split..]], false);
            assert_eq!(done, 1, "split at {split}");
            assert_eq!(seen.heads, [(200, Framing::Length(13))], "split at {split}");
            assert_eq!(seen.body, b"Hello, World!", "split at {split}");
        }
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                        5;ext=1\r\nHello\r\n8\r\n, World!\r\n0\r\n\r\n";
        for split in 0..chunked.len() {
            let (seen, done) = observe(&[&chunked[..split], &chunked[split..]], false);
            assert_eq!(done, 1, "split at {split}");
            assert_eq!(seen.heads, [(200, Framing::Chunked)]);
            assert_eq!(seen.body, b"Hello, World!", "split at {split}");
        }
        let (seen, _) = observe(&[b"HTTP/1.0 200 OK\r\n\r\nuntil ", b"close"], false);
        assert_eq!(seen.heads, [(200, Framing::UntilClose)]);
        assert_eq!(seen.body, b"until close");
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n";
        let (seen, done) = observe(&[head], true);
        assert_eq!(
            (seen.heads, seen.body.len(), done),
            (vec![(200, Framing::Empty)], 0, 1)
        );
    }

    #[test]
    fn interim_responses_are_skipped() {
        let data = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
        let got = run(&mut ResponseReader::new(), &[data], false).unwrap();
        assert_eq!(
            got,
            [Completed {
                status: 204,
                close: false
            }]
        );
    }
}
