//! Burning CPU for real: hashing a small buffer until the calling thread's CPU clock
//! (CLOCK_THREAD_CPUTIME_ID) has advanced by the amount.
//!
//! The thread's own clock, not the wall clock: a thread preempted on a busy machine
//! still burns the whole amount, so `/cpu` costs the server the same CPU however
//! loaded the machine is, as real work would. The clock is read every
//! few kilobytes hashed: small enough that a burn overshoots its amount
//! by little, large enough that reading it (a system call: this clock has no vDSO
//! path) is a small part of the burn.

use std::hint::black_box;
use std::time::Duration;

use nix::time::{clock_gettime, ClockId};

/// Bytes hashed between two reads of the clock.
const BYTES_PER_LOOK: usize = 4096;

/// The buffer hashed, over and over: it stays in the L1 cache, so the burn is work of
/// the core, not of memory.
const BUFFER: usize = 256;

/// Hashes until the calling thread has used `amount` more CPU time than when called.
pub fn burn(amount: Duration) {
    let start = thread_cpu_time();
    let mut buffer = [0u8; BUFFER];
    let mut hash = FNV_OFFSET;
    loop {
        for _ in 0..BYTES_PER_LOOK / BUFFER {
            // black_box: the compiler can neither skip the hashing nor fold the passes.
            hash = fnv1a(black_box(&buffer), hash);
        }
        // Feed the result back, so each pass depends on the one before.
        buffer[hash as usize % BUFFER] ^= hash as u8;
        if thread_cpu_time().saturating_sub(start) >= amount {
            black_box(hash);
            return;
        }
    }
}

/// The CPU time the calling thread has used.
pub fn thread_cpu_time() -> Duration {
    let now = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .expect("Linux has CLOCK_THREAD_CPUTIME_ID (since 2.6.12)");
    Duration::from(now)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, continued from `hash`: a multiply per byte, each depending on the last.
fn fnv1a(bytes: &[u8], mut hash: u64) -> u64 {
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// A burn uses at least its amount of the thread's CPU, and not much more (the
    /// bound is loose: the test checks the mechanism, not the machine's speed).
    #[test]
    fn a_burn_takes_its_amount_of_thread_cpu() {
        let amount = Duration::from_millis(30);
        let (cpu, wall) = (thread_cpu_time(), Instant::now());
        burn(amount);
        let (used, elapsed) = (thread_cpu_time() - cpu, wall.elapsed());
        assert!(used >= amount, "burnt {used:?}");
        assert!(used < amount * 3, "burnt {used:?} for {amount:?}");
        assert!(elapsed >= amount, "CPU time cannot outrun the wall clock");
    }

    #[test]
    fn the_thread_clock_counts_this_threads_cpu_only() {
        let before = thread_cpu_time();
        std::thread::sleep(Duration::from_millis(30));
        let slept = thread_cpu_time() - before;
        assert!(slept < Duration::from_millis(15), "sleeping used {slept:?}");
    }

    #[test]
    fn fnv1a_is_the_reference_function() {
        // The FNV-1a test vectors for "" and "a".
        assert_eq!(fnv1a(b"", FNV_OFFSET), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a", FNV_OFFSET), 0xaf63_dc4c_8601_ec8c);
    }
}
