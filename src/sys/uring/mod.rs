//! io_uring(7) through the io-uring crate, reduced to what the `uring` model needs:
//! multishot accept, multishot receive into a ring of provided buffers, sends,
//! timeouts (a wait the ring expresses itself), a poll for a descriptor the ring does
//! not read (a work pool's eventfd), and cancellation, with completions handed back as
//! owned values.
//!
//! A connection that keeps sending has its socket registered in the ring's table of
//! fixed files (`FixedFiles`), so each of its sends names the socket by slot and the
//! kernel does not look the descriptor up (and count a reference) per send.
//!
//! The safety contract of io_uring is that memory the kernel was given stays valid
//! until the operation's last completion. [`Ring`] keeps it so by construction:
//!
//! - a send's buffer is moved into the ring and handed back with its completion;
//! - a timeout's `timespec` is boxed, so its address holds, and kept until its
//!   completion;
//! - received bytes land in the provided-buffer ring, which the [`Ring`] owns, and a
//!   buffer is given back to the kernel only by [`Ring::recycle`], after its bytes
//!   were used;
//! - dropping the ring cancels every operation and waits (bounded) for their last
//!   completions; memory whose operations never completed is leaked, not freed.
//!
//! Operations are tagged with a connection key; completions name it back.

mod buf_ring;

use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, RawFd};
use std::time::{Duration, Instant};

use io_uring::types::{CancelBuilder, Fd, Fixed, SubmitArgs, Timespec};
use io_uring::{cqueue, opcode, squeue, IoUring};
use slab::Slab;

use buf_ring::BufRing;

/// The provided-buffer group every receive draws from.
const BUF_GROUP: u16 = 0;

const KIND_SHIFT: u32 = 56;
const ACCEPT: u64 = 1;
const RECV: u64 = 2;
const SEND: u64 = 3;
const CANCEL: u64 = 4;
const TIMEOUT: u64 = 5;
const POLL: u64 = 6;
const KEY_MASK: u64 = (1 << KIND_SHIFT) - 1;

fn tag(kind: u64, key: usize) -> u64 {
    (kind << KIND_SHIFT) | (key as u64 & KEY_MASK)
}

/// What one completion reports.
#[derive(Debug)]
pub enum Completion {
    /// A connection accepted by the multishot accept; `more` is false once it ended.
    Accepted {
        result: io::Result<TcpStream>,
        more: bool,
    },
    /// `result` bytes received for connection `conn` (0: the peer closed), in
    /// provided buffer `buf` if one was used (give it back with [`Ring::recycle`]);
    /// `more` is false once the multishot receive ended.
    Received {
        conn: usize,
        result: io::Result<usize>,
        buf: Option<u16>,
        more: bool,
    },
    /// A send of connection `conn` completed; its buffer is given back.
    Sent {
        conn: usize,
        result: io::Result<usize>,
        buf: Vec<u8>,
    },
    /// The timeout armed with `token` ([`Ring::timeout`]) expired (or was cancelled,
    /// which only dropping the ring does).
    TimedOut { token: usize },
    /// The descriptor of [`Ring::poll_readable`] is readable; poll it again for more.
    Readable,
}

/// One io_uring instance with its provided-buffer ring.
pub struct Ring {
    ring: IoUring,
    bufs: BufRing,
    /// The buffers of sends in flight, and their connection: the kernel reads them
    /// until the send completes.
    sends: Slab<(usize, Vec<u8>)>,
    /// The timespecs of timeouts in flight, and their tokens: the kernel reads a
    /// timespec when the timeout is submitted, after [`Ring::timeout`] returns.
    timeouts: Slab<(Box<Timespec>, usize)>,
    /// Operations whose last completion has not arrived (multishot ones count once).
    in_flight: usize,
    /// Completions copied out of the queue by [`Self::reap`]; `cqes[next..]` are yet
    /// to be handed out.
    cqes: Vec<cqueue::Entry>,
    next: usize,
    files: FixedFiles,
}

/// A ring of `entries` for one thread. Where the kernel allows it (6.1 and later), the
/// ring is the thread's alone (`SINGLE_ISSUER`) and the kernel defers its work on
/// completions (`DEFER_TASKRUN`) until the thread asks for them: a receive that
/// completes while the thread is busy neither interrupts it nor wakes it, and the
/// thread finishes a whole batch of them in one io_uring_enter. From 6.6 the
/// submission queue also drops its array of indices (`NO_SQARRAY`): the kernel reads
/// entries in order, one indirection less per submission. Each older kernel gets the
/// most of this it has, down to a plain ring.
fn build(entries: u32) -> io::Result<IoUring> {
    let setups: [fn(&mut io_uring::Builder); 3] = [
        |b| {
            b.setup_single_issuer()
                .setup_defer_taskrun()
                .setup_no_sqarray();
        },
        |b| {
            b.setup_single_issuer().setup_defer_taskrun();
        },
        |_| {},
    ];
    let mut refused = None;
    for setup in setups {
        let mut builder = IoUring::builder();
        setup(&mut builder);
        match builder.build(entries) {
            Ok(ring) => return Ok(ring),
            Err(err) if err.raw_os_error() == Some(libc::EINVAL) => refused = Some(err),
            Err(err) => return Err(err),
        }
    }
    Err(refused.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EINVAL)))
}

impl Ring {
    /// A ring of `entries` submissions and `buffers` provided buffers of `buf_len`
    /// bytes. Fails where io_uring, multishot accept or receive, or buffer rings are
    /// unavailable (old kernel, disabled by sysctl or seccomp).
    pub fn new(entries: u32, buffers: u16, buf_len: usize) -> io::Result<Ring> {
        let ring = build(entries)?;
        let mut probe = io_uring::Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        for code in [
            opcode::AcceptMulti::CODE,
            opcode::RecvMulti::CODE,
            opcode::Send::CODE,
        ] {
            if !probe.is_supported(code) {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "this kernel's io_uring lacks multishot accept/receive",
                ));
            }
        }
        let bufs = BufRing::new(&ring, buffers, buf_len)?;
        let files = FixedFiles::new(&ring);
        Ok(Ring {
            ring,
            bufs,
            sends: Slab::new(),
            timeouts: Slab::new(),
            in_flight: 0,
            cqes: Vec::new(),
            next: 0,
            files,
        })
    }

    /// Starts a multishot accept on `listener`.
    pub fn accept_multi(&mut self, listener: &TcpListener) -> io::Result<()> {
        let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        let sqe = opcode::AcceptMulti::new(Fd(listener.as_raw_fd()))
            .flags(flags)
            .build()
            .user_data(tag(ACCEPT, 0));
        self.push_counted(&sqe)
    }

    /// Starts a multishot receive on connection `conn`'s socket.
    pub fn recv_multi(&mut self, conn: usize, socket: &TcpStream) -> io::Result<()> {
        let sqe = opcode::RecvMulti::new(Fd(socket.as_raw_fd()), BUF_GROUP)
            .build()
            .user_data(tag(RECV, conn));
        self.push_counted(&sqe)
    }

    /// Queues a send of `buf` on connection `conn`'s socket; it is submitted with the
    /// next [`Self::submit_and_wait`], together with every other queued operation.
    /// From the connection's second send on, its socket is named by its fixed slot.
    pub fn send(&mut self, conn: usize, socket: &TcpStream, buf: Vec<u8>) -> io::Result<()> {
        let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        let (ptr, fd) = (buf.as_ptr(), socket.as_raw_fd());
        let sqe = match self.files.slot_for_send(&self.ring, conn, fd) {
            Some(slot) => opcode::Send::new(Fixed(slot), ptr, len).build(),
            None => opcode::Send::new(Fd(fd), ptr, len).build(),
        };
        let slot = self.sends.insert((conn, buf));
        self.push_counted(&sqe.user_data(tag(SEND, slot)))
            .inspect_err(|_| drop(self.sends.remove(slot)))
    }

    /// Queues a timeout that completes after `after` ([`Completion::TimedOut`] with
    /// `token`), submitted with the next [`Self::submit_and_wait`].
    pub fn timeout(&mut self, after: Duration, token: usize) -> io::Result<()> {
        let timespec = Box::new(Timespec::from(after));
        let sqe = opcode::Timeout::new(&*timespec).build();
        let slot = self.timeouts.insert((timespec, token));
        self.push_counted(&sqe.user_data(tag(TIMEOUT, slot)))
            .inspect_err(|_| drop(self.timeouts.remove(slot)))
    }

    /// Queues a one-shot poll for `fd` becoming readable ([`Completion::Readable`]).
    /// `fd` must stay open until it completes or the ring is dropped.
    pub fn poll_readable(&mut self, fd: impl AsFd) -> io::Result<()> {
        let raw = fd.as_fd().as_raw_fd();
        let sqe = opcode::PollAdd::new(Fd(raw), libc::POLLIN as u32)
            .build()
            .user_data(tag(POLL, 0));
        self.push_counted(&sqe)
    }

    /// Connection `conn` is done and its socket about to close: its fixed slot, if it
    /// had one, lets go of the socket (or the socket would stay open in the table).
    pub fn forget(&mut self, conn: usize) {
        self.files.release(&self.ring, conn);
    }

    /// Cancels connection `conn`'s multishot receive; its last completion follows.
    pub fn cancel_recv(&mut self, conn: usize) -> io::Result<()> {
        let sqe = opcode::AsyncCancel::new(tag(RECV, conn))
            .build()
            .user_data(tag(CANCEL, 0));
        self.push(&sqe)
    }

    /// Submits what is queued and waits for at least one completion, at most
    /// `timeout`. Sends to sockets with room complete as they are submitted, so a turn
    /// that sent replies returns at once with their completions and whatever requests
    /// arrived meanwhile; a turn with nothing to do sleeps until the next request.
    ///
    /// It never waits for a batch: with few clients, holding the requests that came
    /// for more to come keeps those clients waiting, and with many a busy thread finds
    /// a batch queued anyway (docs/results.md, *What io_uring costs*).
    pub fn submit_and_wait(&mut self, timeout: Duration) -> io::Result<()> {
        let ts = Timespec::from(timeout);
        let args = SubmitArgs::new().timespec(&ts);
        match self.ring.submitter().submit_with_args(1, &args) {
            Ok(_) => Ok(()),
            Err(err) if matches!(err.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Takes every completion that has arrived, for [`Self::next_completion`] to hand
    /// out after any not handed out yet.
    pub fn reap(&mut self) {
        self.cqes.drain(..self.next);
        self.next = 0;
        self.cqes.extend(self.ring.completion());
    }

    /// The next completion [`Self::reap`] took, if any is left.
    pub fn next_completion(&mut self) -> Option<Completion> {
        while let Some(cqe) = self.cqes.get(self.next).cloned() {
            self.next += 1;
            if let Some(completion) = self.complete(&cqe) {
                return Some(completion);
            }
        }
        None
    }

    fn complete(&mut self, cqe: &cqueue::Entry) -> Option<Completion> {
        let (kind, key) = (
            cqe.user_data() >> KIND_SHIFT,
            (cqe.user_data() & KEY_MASK) as usize,
        );
        let more = cqueue::more(cqe.flags());
        let result = cqe.result();
        if kind != CANCEL && (kind == SEND || !more) {
            self.in_flight -= 1;
        }
        let error = || io::Error::from_raw_os_error(-result);
        match kind {
            ACCEPT => Some(Completion::Accepted {
                // SAFETY: a successful accept completion carries a new descriptor
                // that nothing else owns.
                result: (result >= 0)
                    .then(|| unsafe { TcpStream::from_raw_fd(result as RawFd) })
                    .ok_or_else(error),
                more,
            }),
            RECV => Some(Completion::Received {
                conn: key,
                result: if result >= 0 {
                    Ok(result as usize)
                } else {
                    Err(error())
                },
                buf: cqueue::buffer_select(cqe.flags()),
                more,
            }),
            TIMEOUT => Some(Completion::TimedOut {
                token: self.timeouts.remove(key).1,
            }),
            POLL => Some(Completion::Readable),
            SEND => {
                let (conn, buf) = self.sends.remove(key);
                Some(Completion::Sent {
                    conn,
                    result: if result >= 0 {
                        Ok(result as usize)
                    } else {
                        Err(error())
                    },
                    buf,
                })
            }
            _ => None,
        }
    }

    /// The bytes a receive left in provided buffer `buf`.
    pub fn buffer(&self, buf: u16, len: usize) -> &[u8] {
        self.bufs.get(buf, len)
    }

    /// Gives provided buffer `buf` back to the kernel, its bytes used.
    pub fn recycle(&mut self, buf: u16) {
        self.bufs.recycle(buf);
    }

    /// [`Self::push`] an operation whose last completion is awaited when the ring drops.
    fn push_counted(&mut self, sqe: &squeue::Entry) -> io::Result<()> {
        self.push(sqe)?;
        self.in_flight += 1;
        Ok(())
    }

    fn push(&mut self, sqe: &squeue::Entry) -> io::Result<()> {
        // SAFETY: every pointer in the entries we build stays valid until their last
        // completion: send buffers are held in `sends`, timespecs boxed in `timeouts`,
        // provided buffers in `bufs`, and sockets outlive their operations (the model closes a connection only
        // once none of its operations is in flight).
        if unsafe { self.ring.submission().push(sqe) }.is_ok() {
            return Ok(());
        }
        // The submission queue is full: submit what it holds to make room.
        self.ring.submit()?;
        // SAFETY: as above.
        unsafe { self.ring.submission().push(sqe) }
            .map_err(|_| io::Error::other("io_uring submission queue full"))
    }
}

impl Drop for Ring {
    /// Cancels everything in flight and waits (at most a second) for the last
    /// completions, so no buffer is freed while the kernel may still use it.
    fn drop(&mut self) {
        let cancel = opcode::AsyncCancel2::new(CancelBuilder::any())
            .build()
            .user_data(tag(CANCEL, 0));
        let give_up = Instant::now() + Duration::from_secs(1);
        let _ = self.push(&cancel);
        while self.in_flight > 0 && Instant::now() < give_up {
            if self.submit_and_wait(Duration::from_millis(20)).is_err() {
                break;
            }
            self.reap();
            while let Some(completion) = self.next_completion() {
                if let Completion::Received { buf: Some(buf), .. } = completion {
                    self.bufs.recycle(buf);
                }
            }
        }
        if self.in_flight > 0 {
            // The kernel may still read or write these: leak them rather than free.
            std::mem::forget(std::mem::take(&mut self.sends));
            std::mem::forget(std::mem::take(&mut self.timeouts));
            self.bufs.leak();
        }
    }
}

/// The ring's table of fixed files (io_uring_register_files(3)), one slot per
/// connection key below [`FixedFiles::SLOTS`]. A send naming a slot spares the kernel
/// the descriptor lookup and reference count (fget/fput) it makes for a plain
/// descriptor; a multishot receive takes its socket once and needs no slot.
///
/// A connection's socket is registered at its second send, so a connection that makes
/// one request pays no registration (two io_uring_register calls), and released when
/// the connection is done ([`Ring::forget`]). Registration is synchronous: once the
/// call has returned, the slot names that socket and no other. Where the kernel has no
/// sparse tables (before 5.19), or an update fails, sends name the descriptor.
struct FixedFiles {
    /// What each slot holds: nothing, a socket seen once (not registered), a
    /// registered socket, or a socket the kernel refused to register (it sends by
    /// descriptor, without asking again on every send).
    slots: Vec<Slot>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Empty,
    Seen(RawFd),
    Registered(RawFd),
    Refused(RawFd),
}

impl FixedFiles {
    /// Slots in each ring's table: the connections of a busy reactor. Keys above it
    /// send by descriptor.
    const SLOTS: usize = 4096;

    fn new(ring: &IoUring) -> FixedFiles {
        let slots = match ring.submitter().register_files_sparse(Self::SLOTS as u32) {
            Ok(()) => vec![Slot::Empty; Self::SLOTS],
            Err(_) => Vec::new(),
        };
        FixedFiles { slots }
    }

    /// The fixed slot connection `conn` (socket `fd`) sends through, registering the
    /// socket on its second send; `None`: send by descriptor.
    fn slot_for_send(&mut self, ring: &IoUring, conn: usize, fd: RawFd) -> Option<u32> {
        let slot = self.slots.get_mut(conn)?;
        match *slot {
            Slot::Registered(registered) if registered == fd => return u32::try_from(conn).ok(),
            Slot::Refused(refused) if refused == fd => return None,
            Slot::Seen(seen) if seen == fd => {}
            Slot::Empty | Slot::Seen(_) | Slot::Registered(_) | Slot::Refused(_) => {
                // A slot left by another socket (the connection was not forgotten)
                // is released before it is reused.
                self.release(ring, conn);
                self.slots[conn] = Slot::Seen(fd);
                return None;
            }
        }
        let index = u32::try_from(conn).ok()?;
        match ring.submitter().register_files_update(index, &[fd]) {
            Ok(1) => {
                self.slots[conn] = Slot::Registered(fd);
                Some(index)
            }
            _ => {
                self.slots[conn] = Slot::Refused(fd);
                None
            }
        }
    }

    /// Empties connection `conn`'s slot, so the table no longer holds its socket open.
    fn release(&mut self, ring: &IoUring, conn: usize) {
        let Some(slot) = self.slots.get_mut(conn) else {
            return;
        };
        if let Slot::Registered(_) = *slot {
            // Clearing a slot of a live table fails only for want of memory; the socket
            // then closes when the slot is next written, or with the ring.
            let _ = ring.submitter().register_files_update(conn as u32, &[-1]);
        }
        *slot = Slot::Empty;
    }
}
