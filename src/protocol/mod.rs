//! What bytes mean, without touching a socket (sans-I/O).
//!
//! # The session contract
//!
//! A [`Session`] holds one connection's protocol state. The connection layer (`conn/`)
//! calls [`Session::feed`] with every byte received and not yet consumed, and an output
//! buffer. The session:
//!
//! - consumes a prefix of the input (a partial request stays unconsumed: the caller keeps
//!   it and passes it again, followed by what arrives next);
//! - appends its replies to the output buffer, in order;
//! - stops consuming once the output holds [`OUTPUT_HIGH_WATER`] bytes or more, so a
//!   client that pipelines faster than it reads cannot grow the server's memory; the
//!   caller feeds the rest after flushing;
//! - says through [`Progress::close`] when the connection must end, and how;
//! - on a request that needs work before its reply (HTTP's `/cpu`, `/wait`, `/db` and
//!   `/queries`),
//!   consumes that request, names the work in [`Progress::work`], and consumes nothing
//!   more until the connection layer has carried the work out and called
//!   [`Session::finish_work`], which appends that request's reply. Replies stay in
//!   request order: those before it are in the output already, those after it come
//!   from feeding the rest of the input afterwards. Echo never asks for work.
//!
//! A session never blocks, never allocates per byte, and gives the same replies however
//! the input is split (every model, blocking or completion-based, sees different splits).
//!
//! # Timeouts
//!
//! The idle/header timeout (`--timeout`) defaults to 10 s for HTTP and to none for echo:
//! an echo connection may legitimately stay silent for long (the hold workload keeps
//! thousands open), and closing it would be a protocol choice echo does not make. What
//! echo does not get is a client that *never reads*: replies wait at most the idle
//! timeout, or [`WRITE_STALL`](crate::conn::WRITE_STALL) (10 s) without one, before the
//! connection ends, so such a client cannot hold a worker of a blocking pool forever.
//! (Readiness models hold a stalled reply in one bounded buffer and no worker.) A silent
//! echo client still holds a blocking worker until `--timeout`; give one to a pool that
//! faces untrusted clients.

mod date;
pub mod echo;
pub mod http;
mod work;
mod world;

pub use work::{Database, Handlers, Outcome, Query, Work, World};

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A session stops consuming input once its output buffer holds this many bytes, and
/// the connection layer stops reading from a socket whose unsent output is this large.
pub const OUTPUT_HIGH_WATER: usize = 64 * 1024;

/// What a connection speaks: the one protocol type of every command (`serve --proto`,
/// `bench hold --proto`, `bench abuse --proto`) and of every layer ([`about`](Self::about)
/// says what each is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Echo,
    Http,
}

impl Protocol {
    /// Every protocol, in the order the command line lists them.
    pub const ALL: [Protocol; 2] = [Protocol::Echo, Protocol::Http];

    /// A fresh session for a new connection, doing the work `handlers` says for the
    /// requests that need some. The session keeps the reference (8 bytes), not a copy.
    pub fn session(self, handlers: &'static Handlers) -> Session {
        match self {
            Protocol::Echo => Session::Echo(echo::EchoSession),
            Protocol::Http => Session::Http(http::HttpSession::new(handlers)),
        }
    }

    /// The idle/header timeout when the user gives none: HTTP clients that never finish a
    /// request are cut off, echo connections may stay silent forever (but not stop
    /// reading forever; see the module documentation).
    pub fn default_timeout(self) -> Option<Duration> {
        match self {
            Protocol::Echo => None,
            Protocol::Http => Some(Duration::from_secs(10)),
        }
    }

    /// The protocol's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Echo => "echo",
            Protocol::Http => "http",
        }
    }

    /// What it is, in a few words, for the command line's help.
    pub fn about(self) -> &'static str {
        match self {
            Protocol::Echo => "Every byte received is sent back, in order",
            Protocol::Http => "HTTP/1.1 plaintext, TechEmpower style",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Protocol {
    type Err = String;

    /// A protocol by its [`name`](Protocol::name).
    fn from_str(name: &str) -> Result<Self, String> {
        Protocol::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Protocol::ALL.iter().map(|p| p.name()).collect();
                format!(
                    "no protocol named '{name}' (protocols: {})",
                    names.join(", ")
                )
            })
    }
}

/// How a connection ends when its session asks it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// Send what is buffered, then close.
    AfterFlush,
    /// Send what is buffered, shut down the sending side, and keep reading (discarding)
    /// for a short while before closing, so the client reads the last reply instead of
    /// a reset caused by its own unread data (nginx's lingering close).
    Linger,
}

/// What one call of [`Session::feed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Bytes of the input consumed; the rest must be passed again.
    pub consumed: usize,
    /// At least one request was completed: the idle/header timeout starts again.
    pub completed: bool,
    /// The connection must end after the output is sent.
    pub close: Option<Close>,
    /// The last request consumed needs this work before its reply: carry it out, then
    /// call [`Session::finish_work`]; until then the session consumes nothing.
    pub work: Option<Work>,
}

impl Progress {
    /// This progress followed by `next`'s, as one: what a feed did, then what
    /// finishing its work (and feeding on) did.
    pub fn then(self, next: Progress) -> Progress {
        Progress {
            consumed: self.consumed + next.consumed,
            completed: self.completed || next.completed,
            close: next.close.or(self.close),
            work: next.work,
        }
    }
}

/// One connection's protocol state, for either protocol. An enum rather than a trait
/// object: the call is a jump, not an indirect call, on every read of every model.
#[derive(Debug)]
pub enum Session {
    Echo(echo::EchoSession),
    Http(http::HttpSession),
}

impl Session {
    /// Consumes input and appends replies; see the module documentation.
    #[inline]
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Progress {
        match self {
            Session::Echo(s) => s.feed(input, out),
            Session::Http(s) => s.feed(input, out),
        }
    }

    /// The work the session waits for before it goes on, if any: what the last
    /// [`Progress::work`] named, until [`Self::finish_work`]. (A caller that would
    /// rather not keep the progress around asks here.)
    pub fn work_owed(&self) -> Option<Work> {
        match self {
            Session::Echo(_) => None,
            Session::Http(s) => s.work_owed(),
        }
    }

    /// The work named by the last [`Progress::work`] is done, with `outcome`: appends
    /// that request's reply to `out`. The returned progress completes the request and
    /// says whether the connection must close after it; feeding goes on with the input
    /// not consumed yet. Without work owed it does nothing.
    pub fn finish_work(&mut self, out: &mut Vec<u8>, outcome: Outcome) -> Progress {
        match self {
            Session::Echo(_) => Progress::default(),
            Session::Http(s) => s.finish_work(out, outcome),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Protocol;

    #[test]
    fn every_protocol_is_parsed_back_from_its_name() {
        for protocol in Protocol::ALL {
            assert_eq!(protocol.name().parse::<Protocol>(), Ok(protocol));
            assert_eq!(protocol.to_string(), protocol.name());
        }
        let err = "gopher".parse::<Protocol>().unwrap_err();
        assert_eq!(err, "no protocol named 'gopher' (protocols: echo, http)");
    }
}
