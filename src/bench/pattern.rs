//! The bytes of echo messages: every message has its own deterministic content, so an
//! echo that returns another message's bytes, or the right bytes out of order, is
//! caught, and nothing needs to be stored per message to check it.

/// The seed of message `message` of round `round` of worker `worker`.
pub fn seed(worker: usize, round: u32, message: u32) -> u64 {
    mix((worker as u64) << 40 ^ u64::from(round) << 20 ^ u64::from(message))
}

/// splitmix64's finalizer: a fast bijective scramble.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Byte `offset` of the message with `seed`: printable ASCII, so a message is
/// readable in a packet capture.
#[inline]
pub fn byte(seed: u64, offset: usize) -> u8 {
    let word = mix(seed ^ (offset as u64 >> 3));
    let b = (word >> ((offset & 7) * 8)) as u8;
    b'!' + b % 94
}

/// Writes the message's bytes `offset..offset + out.len()` into `out`.
pub fn fill(seed: u64, offset: usize, out: &mut [u8]) {
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = byte(seed, offset + i);
    }
}

/// Whether `data` equals the message's bytes starting at `offset`.
pub fn matches(seed: u64, offset: usize, data: &[u8]) -> bool {
    data.iter()
        .enumerate()
        .all(|(i, &b)| b == byte(seed, offset + i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_differ_and_verify() {
        let (a, b) = (seed(1, 0, 0), seed(1, 0, 1));
        let mut ma = [0u8; 32];
        let mut mb = [0u8; 32];
        fill(a, 0, &mut ma);
        fill(b, 0, &mut mb);
        assert_ne!(ma, mb);
        assert!(matches(a, 0, &ma));
        assert!(matches(a, 5, &ma[5..]));
        assert!(!matches(b, 0, &ma));
        // Two different bytes out of order are caught.
        let i = (0..ma.len() - 1)
            .find(|&i| ma[i] != ma[i + 1])
            .expect("a message is not one byte repeated");
        let mut swapped = ma;
        swapped.swap(i, i + 1);
        assert!(!matches(a, 0, &swapped));
    }
}
