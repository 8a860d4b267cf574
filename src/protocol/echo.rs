//! The echo protocol: every byte received is sent back, in order.
//!
//! Back-pressure is the connection layer's job: it stops reading from a client whose
//! echoed bytes are not being read (see [`super::OUTPUT_HIGH_WATER`]), so the output a
//! session produces is bounded by one read.

use super::Progress;

/// Echo has no state: the bytes themselves are the reply.
#[derive(Debug, Default, Clone, Copy)]
pub struct EchoSession;

impl EchoSession {
    /// Appends all of `input` to `out`.
    #[inline]
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Progress {
        out.extend_from_slice(input);
        Progress {
            consumed: input.len(),
            completed: !input.is_empty(),
            close: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_every_byte_in_order() {
        let mut session = EchoSession;
        let mut out = Vec::new();
        let p = session.feed(b"hello", &mut out);
        assert_eq!(p.consumed, 5);
        assert!(p.completed);
        session.feed(b" world", &mut out);
        assert_eq!(out, b"hello world");
    }

    #[test]
    fn empty_input_completes_nothing() {
        let p = EchoSession.feed(b"", &mut Vec::new());
        assert_eq!(p, Progress::default());
    }
}
