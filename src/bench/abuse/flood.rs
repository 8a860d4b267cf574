//! The connection flood of `bench abuse`: silent connections opened as fast as a ramp
//! allows, up to a count bounded by this process's descriptor limit, and held until the
//! abuse ends. It finds what a server does when descriptors run out (EMFILE), its
//! process or thread cap is reached, or its listen backlog is full.
//!
//! One thread drives every connection with non-blocking sockets and poll(2), which sees
//! a connect complete and the server's close without reading anything.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::outcome::{Fate, Tally, PROMPT};

/// Connections opened per turn of the loop.
const RAMP: usize = 500;
/// One turn of the loop: open a batch, then wait this long for events.
const TURN: Duration = Duration::from_millis(100);
/// Connections the flood may open over the whole run, as a multiple of its size: a
/// server that closes floods at once is not flooded forever.
const ATTEMPTS_PER_SLOT: usize = 2;

struct Flooder {
    socket: Socket,
    opened: Instant,
    established: bool,
}

/// Floods `addr` with up to `size` connections until `end`, and tallies what the server
/// did with each. Connections never established count as refused.
pub fn run(addr: SocketAddr, size: usize, end: Instant, stop: &AtomicBool) -> io::Result<Tally> {
    let mut tally = Tally::default();
    let mut live: Vec<Flooder> = Vec::with_capacity(size);
    let mut attempts = 0usize;
    while Instant::now() < end && !stop.load(Ordering::SeqCst) {
        // No new connection in the last moments: it could only be `kept`.
        let opening = Instant::now() + PROMPT < end;
        let batch = RAMP
            .min(size - live.len())
            .min(size * ATTEMPTS_PER_SLOT - attempts)
            * usize::from(opening);
        for _ in 0..batch {
            attempts += 1;
            match open(addr) {
                Ok(socket) => live.push(Flooder {
                    socket,
                    opened: Instant::now(),
                    established: false,
                }),
                // Out of ports or descriptors here: the flood is as big as it gets.
                Err(_) => {
                    tally.count(Fate::Refused, None);
                    break;
                }
            }
        }
        let ended = poll_all(&mut live)?;
        for index in ended.into_iter().rev() {
            let flooder = live.swap_remove(index);
            let lived = flooder.opened.elapsed();
            let outcome = if flooder.established {
                Fate::of_close(None, lived)
            } else {
                Fate::Refused
            };
            tally.count(outcome, flooder.established.then_some(lived));
        }
    }
    for flooder in &live {
        let outcome = if flooder.established {
            Fate::Kept
        } else {
            Fate::Refused
        };
        tally.count(outcome, None);
    }
    Ok(tally)
}

fn open(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => Ok(socket),
        Err(err) if err.raw_os_error() == Some(libc::EINPROGRESS) => Ok(socket),
        Err(err) => Err(err),
    }
}

/// Waits one turn for events on every connection; marks the ones whose connect
/// completed, and returns (ascending) the indexes of those that ended.
fn poll_all(live: &mut [Flooder]) -> io::Result<Vec<usize>> {
    let started = Instant::now();
    let mut ended = Vec::new();
    {
        let mut fds: Vec<PollFd> = live
            .iter()
            .map(|f| {
                // A flood connection never sends, so anything readable is the server's
                // end of file (or an answer to nothing, which ends it for us too). Only
                // flags nix knows: `revents` drops the lot if an unknown bit is set.
                let events = if f.established {
                    PollFlags::POLLIN
                } else {
                    PollFlags::POLLOUT
                };
                PollFd::new(f.socket.as_fd(), events)
            })
            .collect();
        let wait = u16::try_from(TURN.as_millis()).unwrap_or(u16::MAX);
        match poll(&mut fds, wait) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Ok(ended),
            Err(err) => return Err(err.into()),
        }
        for (index, fd) in fds.iter().enumerate() {
            let events = fd.revents().unwrap_or(PollFlags::empty());
            if events.is_empty() {
                continue;
            }
            let flooder = &live[index];
            let failed = events.intersects(PollFlags::POLLERR | PollFlags::POLLHUP)
                || (flooder.established && events.contains(PollFlags::POLLIN));
            if failed || flooder.socket.take_error().ok().flatten().is_some() {
                ended.push(index);
            }
        }
    }
    for f in live.iter_mut() {
        if !f.established {
            f.established = f.socket.peer_addr().is_ok();
        }
    }
    // poll returns early on events; keep the ramp's pace.
    std::thread::sleep(TURN.saturating_sub(started.elapsed()));
    Ok(ended)
}
