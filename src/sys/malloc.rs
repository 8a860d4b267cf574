//! Handing memory the program freed back to the system: glibc's malloc_trim(3), and
//! mallopt(3)'s cap on the number of arenas.
//!
//! glibc keeps freed memory for the next allocations, in the main heap and in each of
//! its arenas (up to eight per core, one per thread that allocated while another held
//! the heap), and gives back only what sits at the top of a heap. malloc_trim(3)
//! releases, with madvise(MADV_DONTNEED), every whole free page of every arena, except
//! the top of each arena other than the main heap, which keeps up to 128 KiB
//! (M_TOP_PAD, M_TRIM_THRESHOLD) resident: fewer arenas, less of that. Other C
//! libraries (musl) have neither call; there both do nothing.

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

/// Caps the number of malloc arenas, the main heap included (mallopt(3)
/// M_ARENA_MAX); true if glibc took it. Threads beyond the cap share arenas.
///
/// Call it while the process has a single thread: glibc reads the cap without a lock
/// (its manual marks mallopt MT-Unsafe), once, when a second thread first needs an
/// arena.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn limit_arenas(max: usize) -> bool {
    let max = libc::c_int::try_from(max.max(1)).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt takes two integers and no pointer. Its one hazard, a data race
    // with another thread's malloc, cannot happen: the only caller (the threads model)
    // calls it first thing on the main thread, before it starts any thread, and
    // `serve` starts none before the model (the stop signal is a handler, not a thread).
    unsafe { libc::mallopt(libc::M_ARENA_MAX, max) == 1 }
}

/// Does nothing: this C library has no arenas to cap.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_arenas(_max: usize) -> bool {
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
