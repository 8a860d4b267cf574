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
            work: None,
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

    proptest::proptest! {
        /// Whatever the bytes and however they are split, the output is the input, and
        /// no call adds more than it was given.
        #[test]
        fn output_is_the_input_however_split(
            input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096),
            cuts in proptest::collection::vec(0usize..4097, 0..16),
        ) {
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
            points.sort_unstable();
            let mut session = EchoSession;
            let mut out = Vec::new();
            let mut from = 0;
            for point in points.into_iter().chain([input.len()]) {
                let before = out.len();
                let p = session.feed(&input[from..point], &mut out);
                proptest::prop_assert_eq!(p.consumed, point - from);
                proptest::prop_assert!(out.len() - before <= point - from);
                from = point;
            }
            proptest::prop_assert_eq!(out, input);
        }
    }
}
