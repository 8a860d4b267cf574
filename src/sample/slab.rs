//! The kernel's memory of TCP connections, cache by cache, from `/proc/slabinfo`
//! (readable by root only; elsewhere every figure here is absent).
//!
//! A connection's socket structures live in a few slab caches, one object per cache at
//! each end: the TCP socket, its inode, dentry and file, their security blobs, and the
//! epoll entry that watches it ([`CONNECTION_CACHES`]). The connecting end also takes
//! port buckets; handshakes and closes pass through request and time-wait sockets.
//! An object costs its cache's slab pages over the objects they hold, overhead
//! included ([`SlabLine::footprint`]).
//!
//! SLUB merges caches of one size and flags: `eventpoll_pwq` may live in the cache
//! `/proc/slabinfo` names `anon_vma_chain`, and the port buckets in `eventpoll_epi`'s.
//! `/sys/kernel/slab` links each name to the cache it lives in ([`CacheGroup`]); a
//! merged cache's growth also holds what its other users allocated meanwhile, which
//! each row names.
//!
//! Which end a cache's growth belongs to ([`growth`]): the server takes the objects
//! it was counted to hold (its socket descriptors and epoll entries,
//! [`super::census`]), the client an object per socket it holds and its port buckets;
//! what neither explains is named apart: the cache's other users, or a process that
//! lists `/proc/PID/fd` of the ends (a dentry and a proc inode per descriptor listed).

use std::collections::HashMap;
use std::fs;
use std::io;

use serde::{Deserialize, Serialize};

/// What a connection's end holds of a cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// One object per socket, at each end.
    EachSocket,
    /// One object per epoll registration, at each end that watches its socket with epoll.
    EachWatch,
    /// The connecting end's port buckets (shared by the sockets of one port).
    Connecting,
    /// Passing: a handshake not yet accepted, or a closed connection's time-wait.
    Passing,
}

/// The caches a TCP connection allocates from, and which end holds them.
pub const CONNECTION_CACHES: [(&str, Holder); 13] = [
    ("TCP", Holder::EachSocket),
    ("sock_inode_cache", Holder::EachSocket),
    ("dentry", Holder::EachSocket),
    ("filp", Holder::EachSocket),
    ("lsm_inode_cache", Holder::EachSocket),
    ("lsm_file_cache", Holder::EachSocket),
    ("eventpoll_epi", Holder::EachWatch),
    ("eventpoll_pwq", Holder::EachWatch),
    ("ep_head", Holder::EachWatch),
    ("tcp_bind_bucket", Holder::Connecting),
    ("tcp_bind2_bucket", Holder::Connecting),
    ("request_sock_TCP", Holder::Passing),
    ("tw_sock_TCP", Holder::Passing),
];

/// One line of `/proc/slabinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlabLine {
    pub name: String,
    pub active_objs: u64,
    pub objsize: u64,
    pub objperslab: u64,
    pub pagesperslab: u64,
}

impl SlabLine {
    /// Bytes one object costs: its slab's pages over the objects a slab holds.
    pub fn footprint(&self, page: u64) -> f64 {
        (self.pagesperslab * page) as f64 / self.objperslab.max(1) as f64
    }
}

/// Parses `/proc/slabinfo` (version 2.1): one line per cache after the two header lines.
pub fn parse_slabinfo(text: &str) -> HashMap<String, SlabLine> {
    text.lines()
        .filter(|l| !l.starts_with("slabinfo") && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let num = |i: usize| f.get(i)?.parse::<u64>().ok();
            Some(SlabLine {
                name: f.first()?.to_string(),
                active_objs: num(1)?,
                objsize: num(3)?,
                objperslab: num(4)?,
                pagesperslab: num(5)?,
            })
        })
        .map(|line| (line.name.clone(), line))
        .collect()
}

/// Reads `/proc/slabinfo` now.
pub fn read_slabinfo() -> io::Result<HashMap<String, SlabLine>> {
    Ok(parse_slabinfo(&fs::read_to_string("/proc/slabinfo")?))
}

/// A line of `/proc/slabinfo` and the connection caches that live in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheGroup {
    /// The name `/proc/slabinfo` gives the cache.
    pub line: String,
    /// The connection caches in it, with their holders.
    pub caches: Vec<(&'static str, Holder)>,
    /// Other caches merged into it (their allocations count in its growth too).
    pub others: Vec<String>,
}

/// The connection caches grouped by the `/proc/slabinfo` line they live in. `links`
/// maps a cache name to the merged cache it links to in `/sys/kernel/slab` (names
/// without a link are caches of their own); `lines` are the names slabinfo lists.
/// Caches found nowhere (an LSM blob cache on a kernel without one) are left out.
pub fn group(links: &HashMap<String, String>, lines: &[String]) -> Vec<CacheGroup> {
    let home = |name: &str| links.get(name).cloned().unwrap_or_else(|| name.to_string());
    let mut groups: Vec<CacheGroup> = Vec::new();
    for (cache, holder) in CONNECTION_CACHES {
        let target = home(cache);
        let Some(line) = lines.iter().find(|l| home(l) == target) else {
            continue;
        };
        match groups.iter_mut().find(|g| &g.line == line) {
            Some(g) => g.caches.push((cache, holder)),
            None => groups.push(CacheGroup {
                line: line.clone(),
                caches: vec![(cache, holder)],
                others: Vec::new(),
            }),
        }
    }
    for g in &mut groups {
        let target = home(&g.line);
        let mut others: Vec<String> = links
            .iter()
            .filter(|(name, to)| **to == target && !g.caches.iter().any(|(c, _)| c == name))
            .map(|(name, _)| name.clone())
            .collect();
        others.sort();
        g.others = others;
    }
    groups
}

/// The connection caches of this kernel, grouped ([`group`]) from `/sys/kernel/slab`
/// and `lines`.
pub fn connection_groups(lines: &HashMap<String, SlabLine>) -> Vec<CacheGroup> {
    let mut links = HashMap::new();
    if let Ok(dir) = fs::read_dir("/sys/kernel/slab") {
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Ok(to) = fs::read_link(entry.path()) {
                links.insert(name, to.to_string_lossy().into_owned());
            }
        }
    }
    let mut names: Vec<String> = lines.keys().cloned().collect();
    names.sort();
    group(&links, &names)
}

/// Bytes of slab one end of a connection takes (a socket watched by epoll): the
/// footprint of one object of each cache its socket and its epoll entry take.
pub fn bytes_per_end(lines: &HashMap<String, SlabLine>, groups: &[CacheGroup], page: u64) -> f64 {
    groups
        .iter()
        .filter_map(|g| Some((lines.get(&g.line)?, g)))
        .map(|(line, g)| {
            let held = g
                .caches
                .iter()
                .filter(|(_, h)| matches!(h, Holder::EachSocket | Holder::EachWatch))
                .count();
            held as f64 * line.footprint(page)
        })
        .sum()
}

/// What the server was counted to hold while connections were held, beyond what it
/// held before the first one ([`super::census`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerCount {
    /// Descriptors it opened (its connections' sockets).
    pub descriptors: u64,
    /// Epoll registrations it added.
    pub epoll_items: u64,
}

/// Who holds what on this machine while connections are held: the server's count
/// (nothing, for a server elsewhere; `None` when it was not counted) and the client's
/// sockets, each watched by the load generator's epoll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ends {
    pub server: Option<ServerCount>,
    pub client_sockets: u64,
}

/// One slabinfo line's growth while connections were held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheGrowth {
    /// The line's name in `/proc/slabinfo`.
    pub cache: String,
    /// The connection caches that live in it, where the kernel merged them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holds: Vec<String>,
    /// Other caches merged into it, whose allocations count in its growth.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_with: Vec<String>,
    /// Objects in use, more than before (0 if fewer: a cache that shrank, as time-wait
    /// sockets of an earlier run expire, cost the connections nothing).
    pub objects: u64,
    /// Bytes one object costs, slab overhead included.
    pub object_b: f64,
    /// The growth per held connection, in bytes, and its parts (absent when the
    /// server was not counted): the server's end (the objects it was counted to
    /// hold), the client's (an object per socket it holds, and its port buckets) and
    /// the rest, which no end of a connection explains (the cache's other users, a
    /// process reading `/proc/PID/fd`).
    pub per_conn_b: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_per_conn_b: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_per_conn_b: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_per_conn_b: Option<f64>,
}

/// Each connection cache's growth from `before` to `holding`, per connection of the
/// `held` then, split between the ends when the server was counted.
pub fn growth(
    before: &HashMap<String, SlabLine>,
    holding: &HashMap<String, SlabLine>,
    groups: &[CacheGroup],
    page: u64,
    held: u64,
    ends: Ends,
) -> Vec<CacheGrowth> {
    let per_conn = |objects: u64, object_b: f64| objects as f64 * object_b / held.max(1) as f64;
    groups
        .iter()
        .filter_map(|g| {
            let now = holding.get(&g.line)?;
            let then = before.get(&g.line).map_or(0, |l| l.active_objs);
            let objects = now.active_objs.saturating_sub(then);
            let object_b = now.footprint(page);
            let split = ends
                .server
                .map(|server| split(g, objects, server, ends.client_sockets));
            let merged = g.caches.len() > 1 || g.caches.iter().any(|(c, _)| *c != g.line);
            Some(CacheGrowth {
                cache: g.line.clone(),
                holds: if merged {
                    g.caches.iter().map(|(c, _)| c.to_string()).collect()
                } else {
                    Vec::new()
                },
                shared_with: g.others.clone(),
                objects,
                object_b: (object_b * 10.0).round() / 10.0,
                per_conn_b: whole(objects as f64 * object_b / held.max(1) as f64),
                server_per_conn_b: split.map(|s| whole(per_conn(s.0, object_b))),
                client_per_conn_b: split.map(|s| whole(per_conn(s.1, object_b))),
                other_per_conn_b: split.map(|s| whole(per_conn(s.2, object_b))),
            })
        })
        .collect()
}

/// `objects` of `group`'s growth as (server's, client's, the rest): each end takes the
/// objects it is known to hold, in turn, and the client also its port buckets, which
/// it holds a number of no one counts.
fn split(
    group: &CacheGroup,
    objects: u64,
    server: ServerCount,
    client_sockets: u64,
) -> (u64, u64, u64) {
    let known = |sockets: u64, watches: u64| -> u64 {
        group
            .caches
            .iter()
            .map(|(_, holder)| match holder {
                Holder::EachSocket => sockets,
                Holder::EachWatch => watches,
                Holder::Connecting | Holder::Passing => 0,
            })
            .sum()
    };
    let server_objects = known(server.descriptors, server.epoll_items).min(objects);
    let left = objects - server_objects;
    let client_objects = if group.caches.iter().any(|(_, h)| *h == Holder::Connecting) {
        left
    } else {
        known(client_sockets, client_sockets).min(left)
    };
    (server_objects, client_objects, left - client_objects)
}

/// `x` rounded to a whole number, never `-0`.
fn whole(x: f64) -> f64 {
    x.round() + 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLABINFO: &str = "slabinfo - version: 2.1\n\
        # name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n\
        TCP                   92    143   2368   13    8 : tunables    0    0    0 : slabdata     11     11      0\n\
        eventpoll_epi        275    384    128   32    1 : tunables    0    0    0 : slabdata     12     12      0\n\
        anon_vma_chain       625    768     64   64    1 : tunables    0    0    0 : slabdata     12     12      0\n\
        filp                 598    609    192   21    1 : tunables    0    0    0 : slabdata     29     29      0\n";

    fn links() -> HashMap<String, String> {
        [
            ("anon_vma_chain", ":A-64"),
            ("eventpoll_pwq", ":A-64"),
            ("fs_cache", ":A-64"),
            ("eventpoll_epi", ":A-128"),
            ("tcp_bind_bucket", ":A-128"),
            ("tcp_bind2_bucket", ":A-128"),
            ("fib6_node", ":A-128"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    }

    fn names(lines: &HashMap<String, SlabLine>) -> Vec<String> {
        let mut n: Vec<String> = lines.keys().cloned().collect();
        n.sort();
        n
    }

    #[test]
    fn parses_lines_and_prices_objects_with_their_slab() {
        let lines = parse_slabinfo(SLABINFO);
        assert_eq!(lines.len(), 4);
        let tcp = &lines["TCP"];
        assert_eq!((tcp.active_objs, tcp.objsize), (92, 2368));
        assert!((tcp.footprint(4096) - 8.0 * 4096.0 / 13.0).abs() < 1e-9);
    }

    #[test]
    fn merged_caches_are_found_under_the_line_slabinfo_shows() {
        let lines = parse_slabinfo(SLABINFO);
        let groups = group(&links(), &names(&lines));
        let epi = groups.iter().find(|g| g.line == "eventpoll_epi").unwrap();
        let held: Vec<&str> = epi.caches.iter().map(|(c, _)| *c).collect();
        assert_eq!(
            held,
            ["eventpoll_epi", "tcp_bind_bucket", "tcp_bind2_bucket"]
        );
        assert_eq!(epi.others, ["fib6_node"]);
        let pwq = groups.iter().find(|g| g.line == "anon_vma_chain").unwrap();
        assert_eq!(pwq.caches, [("eventpoll_pwq", Holder::EachWatch)]);
        assert_eq!(pwq.others, ["anon_vma_chain", "fs_cache"]);
        assert!(
            groups.iter().all(|g| g.line != "dentry"),
            "not on this kernel"
        );
        // Each end: a TCP socket (2,520.6 B), a file (195.0), an epoll item (128) and
        // its wait queue (64).
        let per_end = bytes_per_end(&lines, &groups, 4096);
        let want = 8.0 * 4096.0 / 13.0 + 4096.0 / 21.0 + 128.0 + 64.0;
        assert!((per_end - want).abs() < 1e-6, "{per_end}");
    }

    #[test]
    fn growth_gives_each_end_what_it_holds_and_names_the_rest() {
        let before = parse_slabinfo(SLABINFO);
        let mut holding = before.clone();
        // 1,000 connections: 2,000 sockets and 300 sockets' worth of someone else's
        // files; 2,000 epoll items and 600 port buckets.
        holding.get_mut("TCP").unwrap().active_objs += 2_000;
        holding.get_mut("filp").unwrap().active_objs += 2_300;
        holding.get_mut("eventpoll_epi").unwrap().active_objs += 2_600;
        let groups = group(&links(), &names(&before));
        let ends = Ends {
            server: Some(ServerCount {
                descriptors: 1_000,
                epoll_items: 1_000,
            }),
            client_sockets: 1_000,
        };
        let rows = growth(&before, &holding, &groups, 4096, 1_000, ends);
        let tcp = rows.iter().find(|r| r.cache == "TCP").unwrap();
        let socket = (8.0 * 4096.0 / 13.0_f64).round();
        assert_eq!(tcp.objects, 2_000);
        assert_eq!(tcp.per_conn_b, (2.0 * 8.0 * 4096.0 / 13.0_f64).round());
        assert_eq!(
            (tcp.server_per_conn_b, tcp.client_per_conn_b),
            (Some(socket), Some(socket))
        );
        assert_eq!(tcp.other_per_conn_b, Some(0.0));
        assert!(tcp.holds.is_empty());
        let filp = rows.iter().find(|r| r.cache == "filp").unwrap();
        assert_eq!(
            filp.other_per_conn_b,
            Some((0.3 * 4096.0 / 21.0_f64).round())
        );
        // The epoll items' line also holds the client's port buckets.
        let epi = rows.iter().find(|r| r.cache == "eventpoll_epi").unwrap();
        assert_eq!(epi.per_conn_b, 333.0); // 2.6 objects of 128 B
        assert_eq!(epi.server_per_conn_b, Some(128.0));
        assert_eq!(epi.client_per_conn_b, Some(205.0));
        assert_eq!(epi.other_per_conn_b, Some(0.0));
        assert_eq!(epi.shared_with, ["fib6_node"]);
        let pwq = rows.iter().find(|r| r.cache == "anon_vma_chain").unwrap();
        assert_eq!(pwq.server_per_conn_b, Some(0.0), "it did not grow");
        // A server elsewhere holds nothing here: it is all the client's.
        let remote = Ends {
            server: Some(ServerCount::default()),
            client_sockets: 1_000,
        };
        let rows = growth(&before, &holding, &groups, 4096, 1_000, remote);
        let tcp = rows.iter().find(|r| r.cache == "TCP").unwrap();
        assert_eq!(
            (tcp.client_per_conn_b, tcp.other_per_conn_b),
            (Some(socket), Some(socket))
        );
        let unsplit = growth(
            &before,
            &holding,
            &groups,
            4096,
            1_000,
            Ends {
                server: None,
                client_sockets: 1_000,
            },
        );
        assert!(unsplit
            .iter()
            .all(|r| r.server_per_conn_b.is_none() && r.other_per_conn_b.is_none()));
    }

    #[test]
    fn reads_this_machine_as_root() {
        let Ok(lines) = read_slabinfo() else {
            return; // not root: slabinfo is unreadable, and every figure is absent
        };
        let groups = connection_groups(&lines);
        assert!(groups.iter().any(|g| g.line == "TCP"), "{groups:?}");
        assert!(bytes_per_end(&lines, &groups, 4096) > 1000.0);
    }
}
