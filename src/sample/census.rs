//! What a server's process tree holds in the kernel, counted from `/proc`: its open
//! descriptors (`/proc/PID/fd`) and the registrations of its epoll instances (the
//! `tfd:` lines of `/proc/PID/fdinfo/FD`). The growth of both while connections are
//! held is the server's end of them ([`super::slab::growth`] prices it).
//!
//! The epoll instances are found once, before the connections come
//! ([`Census::before`]); one a model creates later is not counted, so its registrations
//! fall to the client's end. Counting reads a line per registration: at a million held
//! connections, about a second of kernel time, so it is done once while holding.

use std::fs;

use super::procfs::{open_descriptors, ProcessTree};
use super::slab::ServerCount;

/// A server tree's descriptors and its epoll instances, counted before its connections.
#[derive(Debug, Clone)]
pub struct Census {
    tree: ProcessTree,
    descriptors: u64,
    epoll_items: u64,
    /// The epoll instances found: (pid, fd).
    epolls: Vec<(u32, u32)>,
}

impl Census {
    /// Counts the tree of `pid` now: what it holds before the run.
    pub fn before(pid: u32) -> Option<Self> {
        let tree = ProcessTree::new(pid).ok()?;
        let pids = tree.pids().ok()?;
        let epolls: Vec<(u32, u32)> = pids.iter().flat_map(|&p| epoll_fds(p)).collect();
        let descriptors = pids
            .iter()
            .filter_map(|&p| open_descriptors(p))
            .sum::<usize>();
        let epoll_items = epolls.iter().map(|&(p, fd)| registrations(p, fd)).sum();
        Some(Self {
            tree,
            descriptors: descriptors as u64,
            epoll_items,
            epolls,
        })
    }

    /// What the tree holds now beyond what it held before; `None` if it is gone.
    pub fn growth(&self) -> Option<ServerCount> {
        let pids = self.tree.pids().ok()?;
        let descriptors = pids
            .iter()
            .filter_map(|&p| open_descriptors(p))
            .sum::<usize>();
        let epoll_items: u64 = self
            .epolls
            .iter()
            .map(|&(p, fd)| registrations(p, fd))
            .sum();
        Some(ServerCount {
            descriptors: (descriptors as u64).saturating_sub(self.descriptors),
            epoll_items: epoll_items.saturating_sub(self.epoll_items),
        })
    }
}

/// The descriptors of `pid` that are epoll instances.
fn epoll_fds(pid: u32) -> Vec<(u32, u32)> {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter(|e| {
            fs::read_link(e.path()).is_ok_and(|to| to.as_os_str() == "anon_inode:[eventpoll]")
        })
        .filter_map(|e| Some((pid, e.file_name().to_str()?.parse().ok()?)))
        .collect()
}

/// How many descriptors the epoll instance `fd` of `pid` watches (0 if it is gone).
fn registrations(pid: u32, fd: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
        .map_or(0, |text| count_registrations(&text))
}

/// The `tfd:` lines of an epoll instance's fdinfo: one per watched descriptor.
pub fn count_registrations(fdinfo: &str) -> u64 {
    fdinfo.lines().filter(|l| l.starts_with("tfd:")).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn counts_the_watched_descriptors_of_an_epoll_instance() {
        let text = "pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1038\n\
                    tfd:        4 events:       1f data:                4  pos:0 ino:62aaec sdev:f\n\
                    tfd:        7 events:       19 data:                7  pos:0 ino:62aaed sdev:f\n";
        assert_eq!(count_registrations(text), 2);
        assert_eq!(count_registrations("pos:\t0\n"), 0);
    }

    /// This process watches two sockets with an epoll instance: its fdinfo shows both,
    /// and the census sees both descriptors and both registrations (other tests open
    /// descriptors and epoll instances meanwhile, so the census gives lower bounds).
    #[test]
    fn counts_what_this_process_opens() {
        let poll = mio::Poll::new().unwrap();
        let before = Census::before(std::process::id()).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        for (i, fd) in [listener.as_raw_fd(), client.as_raw_fd()]
            .iter()
            .enumerate()
        {
            poll.registry()
                .register(
                    &mut mio::unix::SourceFd(fd),
                    mio::Token(i),
                    mio::Interest::READABLE,
                )
                .unwrap();
        }
        let own = std::process::id();
        assert_eq!(registrations(own, poll.as_raw_fd() as u32), 2);
        let grown = before.growth().unwrap();
        assert!(grown.descriptors >= 2, "{grown:?}");
        assert!(grown.epoll_items >= 2, "{grown:?}");
    }
}
