//! A session with the input it has not consumed yet: what every connection that reads
//! into a shared scratch buffer keeps between reads (readiness connections,
//! select-threads' reader, tokio tasks).
//!
//! Bytes are fed from the reader's scratch buffer directly; only the unconsumed tail of
//! a partial request (or input held back by the output high-water mark) is copied into
//! the connection's own buffer, which is freed again as soon as it is empty, so an idle
//! connection owns no input buffer.

use crate::protocol::{Progress, Protocol, Session};

/// One connection's session and pending input.
#[derive(Debug)]
pub struct Intake {
    session: Session,
    /// Received bytes the session has not consumed yet.
    pending: Vec<u8>,
}

impl Intake {
    pub fn new(protocol: Protocol) -> Self {
        Intake {
            session: protocol.session(),
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

    /// Drops pending input, freeing its buffer (the connection is closing).
    pub fn discard(&mut self) {
        self.pending = Vec::new();
    }
}
