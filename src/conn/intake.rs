//! A session with the input it has not consumed yet: what every connection that reads
//! into a shared scratch buffer keeps between reads (readiness connections,
//! select-threads' reader, tokio tasks, uring).
//!
//! A request that needs work leaves the input after it pending, like a partial
//! request: [`Intake::finish_work`] answers it once the work is done and feeds on.
//!
//! Bytes are fed from the reader's scratch buffer directly; only the unconsumed tail of
//! a partial request (or input held back by the output high-water mark) is copied into
//! the connection's own buffer, which is freed again as soon as it is empty, so an idle
//! connection owns no input buffer.

use super::ConnOptions;
use crate::protocol::{Outcome, Progress, Session, Work};

/// One connection's session and pending input.
#[derive(Debug)]
pub struct Intake {
    session: Session,
    /// Received bytes the session has not consumed yet.
    pending: Vec<u8>,
}

impl Intake {
    pub fn new(opts: &ConnOptions) -> Self {
        Intake {
            session: opts.protocol.session(opts.handlers),
            pending: Vec::new(),
        }
    }

    /// Is there input the session has not consumed (a partial request, or requests
    /// held back by the output high-water mark)?
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Feeds freshly read bytes after any pending ones, appending replies to `out`.
    pub fn absorb(&mut self, data: &[u8], out: &mut Vec<u8>) -> Progress {
        if !self.pending.is_empty() {
            self.pending.extend_from_slice(data);
            return self.resume(out);
        }
        let progress = self.session.feed(data, out);
        if progress.close.is_none() && progress.consumed < data.len() {
            self.pending.extend_from_slice(&data[progress.consumed..]);
        }
        progress
    }

    /// Feeds the pending input again, once the output it was held back for has drained.
    pub fn resume(&mut self, out: &mut Vec<u8>) -> Progress {
        let progress = self.session.feed(&self.pending, out);
        self.pending
            .drain(..progress.consumed.min(self.pending.len()));
        if progress.close.is_some() || self.pending.is_empty() {
            self.discard();
        }
        progress
    }

    /// The work the session waits for, if any (see [`Session::work_owed`]).
    pub fn work_owed(&self) -> Option<Work> {
        self.session.work_owed()
    }

    /// The work the last progress asked for is done, with `outcome`: appends its
    /// request's reply, then feeds the input that followed the request, as
    /// [`Self::resume`] does. The progress returned is both, as one (it may ask for
    /// work again: a pipeline).
    pub fn finish_work(&mut self, out: &mut Vec<u8>, outcome: Outcome) -> Progress {
        let done = self.session.finish_work(out, outcome);
        if done.close.is_some() {
            self.discard();
            return done;
        }
        if self.pending.is_empty() {
            return done;
        }
        done.then(self.resume(out))
    }

    /// Drops pending input, freeing its buffer (the connection is closing).
    pub fn discard(&mut self) {
        self.pending = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::protocol::{Close, Handlers, Protocol};

    fn http() -> ConnOptions {
        ConnOptions {
            protocol: Protocol::Http,
            timeout: None,
            nodelay: false,
            cork: false,
            handlers: &Handlers::DEFAULT,
            offload: super::super::Offload::Unset,
        }
    }

    const WAIT: &[u8] = b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n";
    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

    #[test]
    fn the_input_after_a_work_request_waits_then_is_fed_in_order() {
        let mut intake = Intake::new(&http());
        let mut out = Vec::new();
        let stream = [WAIT, WAIT, GET].concat();
        let p = intake.absorb(&stream, &mut out);
        assert_eq!(p.work, Some(Work::Wait(Duration::from_millis(10))));
        assert_eq!(intake.work_owed(), p.work);
        assert!(out.is_empty() && intake.has_pending());
        let p = intake.finish_work(&mut out, Outcome::Done);
        assert_eq!(
            p.work,
            Some(Work::Wait(Duration::from_millis(10))),
            "the next"
        );
        assert!(p.completed);
        let one = out.len();
        let p = intake.finish_work(&mut out, Outcome::Done);
        assert_eq!((p.work, p.consumed), (None, GET.len()));
        assert_eq!(intake.work_owed(), None);
        assert_eq!(out.len(), 3 * one, "three replies");
        assert!(!intake.has_pending());
    }

    #[test]
    fn a_closing_work_request_drops_what_follows() {
        let mut intake = Intake::new(&http());
        let mut out = Vec::new();
        let closing = b"GET /cpu HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        intake.absorb(&[closing.as_slice(), GET].concat(), &mut out);
        let p = intake.finish_work(&mut out, Outcome::Done);
        assert_eq!(p.close, Some(Close::Linger));
        assert!(!intake.has_pending());
    }
}
