//! Handing memory the program freed back to the system: glibc's malloc_trim(3).
//!
//! glibc keeps freed memory for the next allocations, in the main heap and in each of
//! its arenas (up to eight per core, one per thread that allocated while another held
//! the heap), and gives back only what sits at the top of a heap. malloc_trim(3)
//! releases, with madvise(MADV_DONTNEED), every whole free page of every arena. Other
//! C libraries (musl) have no such call; there trimming does nothing.

/// Releases the free memory of every malloc arena; true if any was released.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn trim() -> bool {
    // SAFETY: malloc_trim takes no pointer and has no precondition: it locks each
    // arena in turn, like malloc itself, so it may run on any thread while others
    // allocate. A pad of 0 keeps nothing spare at the top of the main heap.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Does nothing: this C library has no malloc_trim.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_free_pages_between_live_blocks() {
        // 64 KiB blocks (below the mmap threshold), every other one freed, the last one
        // kept: the freed pages lie between live blocks, where only a trim reaches them.
        let mut blocks: Vec<Option<Vec<u8>>> =
            (0..64).map(|_| Some(vec![1u8; 64 * 1024])).collect();
        for block in blocks.iter_mut().step_by(2) {
            *block = None;
        }
        assert_eq!(trim(), cfg!(all(target_os = "linux", target_env = "gnu")));
        drop(blocks);
    }
}
