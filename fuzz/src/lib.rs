//! What every fuzz target checks: a session fed arbitrary bytes, split at arbitrary
//! points the way the connection layer splits them, never panics, keeps its output
//! bounded, and never leaves more unconsumed input than a blocking connection's read
//! buffer holds (a session that did would make that connection give up).

use iomodels::protocol::{Protocol, OUTPUT_HIGH_WATER};

/// The largest unconsumed input a session may leave (`conn::blocking`'s read buffer).
pub const MAX_PENDING: usize = 16 * 1024;
/// The largest single reply either protocol appends once the output is over the high
/// water mark (an HTTP error or 200 head with body; echo appends at most its input).
const MAX_REPLY: usize = 1024;

/// Runs one input: the first bytes give the sizes of the pieces the rest is cut into.
pub fn run(protocol: Protocol, data: &[u8]) {
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let count = (count as usize % 16).min(rest.len());
    let (sizes, stream) = rest.split_at(count);
    let mut session = protocol.session();
    let mut pending: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut from = 0;
    let mut turn = 0;
    while from < stream.len() {
        // Piece sizes cycle through `sizes` (1..=256 bytes); one piece if none given.
        let size = sizes
            .get(turn % sizes.len().max(1))
            .map_or(stream.len(), |&s| s as usize + 1);
        turn += 1;
        let to = (from + size).min(stream.len());
        let piece = &stream[from..to];
        from = to;
        pending.extend_from_slice(piece);
        loop {
            let before = out.len();
            let progress = session.feed(&pending, &mut out);
            assert!(progress.consumed <= pending.len(), "consumed more than given");
            assert!(
                out.len() - before <= progress.consumed.max(1) + OUTPUT_HIGH_WATER + MAX_REPLY,
                "one feed appended {} bytes",
                out.len() - before
            );
            pending.drain(..progress.consumed);
            if progress.close.is_some() {
                return;
            }
            // The connection layer flushes once the output is over the high water mark.
            if out.len() >= OUTPUT_HIGH_WATER {
                out.clear();
            }
            if progress.consumed == 0 || pending.is_empty() {
                break;
            }
        }
        assert!(
            pending.len() <= MAX_PENDING,
            "{} bytes left unconsumed",
            pending.len()
        );
    }
}
