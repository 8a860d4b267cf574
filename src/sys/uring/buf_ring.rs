//! The ring of provided buffers every receive of a [`super::Ring`] draws from, and the
//! raw allocations it and its buffers live in.

use std::alloc::{self, Layout};
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::IoUring;

use super::BUF_GROUP;

/// A ring of provided buffers (io_uring_register_buf_ring(3)): the kernel picks a free
/// buffer for each receive, so a connection owns no buffer while it waits for data.
pub(super) struct BufRing {
    /// The ring of entries shared with the kernel, page-aligned.
    entries: Allocation,
    /// The buffers themselves, `len` bytes each; raw, since the kernel writes into
    /// them behind our back.
    memory: Allocation,
    len: usize,
    mask: u16,
    /// Our copy of the tail; published to the kernel after each recycle.
    tail: u16,
}

impl BufRing {
    pub(super) fn new(ring: &IoUring, count: u16, len: usize) -> io::Result<BufRing> {
        assert!(
            count.is_power_of_two(),
            "a buffer ring holds a power of two"
        );
        let entries = Allocation::zeroed(
            usize::from(count) * std::mem::size_of::<BufRingEntry>(),
            4096,
        )?;
        // Freed on return if this fails: the kernel has not seen `entries` yet.
        let memory = Allocation::zeroed(usize::from(count) * len, 64)?;
        let mut bufs = BufRing {
            entries,
            memory,
            len,
            mask: count - 1,
            tail: 0,
        };
        // SAFETY: `entries` is page-aligned, zeroed, `count` entries long, and lives
        // until the ring is dropped (`Ring` drops `ring` before `bufs`) or is leaked.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                bufs.entries.ptr as u64,
                count,
                BUF_GROUP,
                0,
            )?;
        }
        for buf in 0..count {
            bufs.recycle(buf);
        }
        Ok(bufs)
    }

    fn entries(&self) -> *mut BufRingEntry {
        self.entries.ptr.cast()
    }

    /// Buffer `buf`'s first `len` bytes; the caller holds the buffer (the kernel
    /// handed it over in a completion and it is not recycled yet).
    pub(super) fn get(&self, buf: u16, len: usize) -> &[u8] {
        let buf = usize::from(buf & self.mask);
        // SAFETY: the range lies inside the allocation, and the kernel does not write
        // into a buffer between handing it over and our recycling it.
        unsafe {
            std::slice::from_raw_parts(self.memory.ptr.add(buf * self.len), len.min(self.len))
        }
    }

    pub(super) fn recycle(&mut self, buf: u16) {
        let buf = buf & self.mask;
        // SAFETY: the offset lies inside the allocation.
        let addr = unsafe { self.memory.ptr.add(usize::from(buf) * self.len) } as u64;
        // SAFETY: the index is masked into the ring's `count` entries; the kernel
        // reads an entry only once the tail published below covers it.
        unsafe {
            let entry = &mut *self.entries().add(usize::from(self.tail & self.mask));
            entry.set_addr(addr);
            entry.set_len(self.len as u32);
            entry.set_bid(buf);
        }
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail field overlays the first entry's reserved field, a u16
        // the kernel reads concurrently: published with a release store.
        unsafe {
            let tail = BufRingEntry::tail(self.entries()).cast::<AtomicU16>();
            (*tail).store(self.tail, Ordering::Release);
        }
    }

    /// Forgets the memory: the kernel might still write into it.
    pub(super) fn leak(&mut self) {
        self.entries.leak();
        self.memory.leak();
    }
}

/// Zeroed heap memory handed to the kernel, freed when dropped unless leaked.
struct Allocation {
    ptr: *mut u8,
    layout: Layout,
}

impl Allocation {
    /// `size` zeroed bytes aligned to `align`.
    fn zeroed(size: usize, align: usize) -> io::Result<Allocation> {
        let layout = Layout::from_size_align(size, align).map_err(io::Error::other)?;
        if layout.size() == 0 {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        // SAFETY: the layout has a non-zero size (checked above).
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        Ok(Allocation { ptr, layout })
    }

    /// Forgets the memory instead of freeing it.
    fn leak(&mut self) {
        self.ptr = std::ptr::null_mut();
    }
}

impl Drop for Allocation {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: allocated in `zeroed` with this layout and not freed since; a
            // buffer ring's memory is dropped only after the ring that used it
            // (`Ring` drops its `IoUring` first), or leaked.
            unsafe { alloc::dealloc(self.ptr, self.layout) };
        }
    }
}
