//! What a process tree costs, read from `/proc`: a process and all its descendants
//! (forked workers, their threads), sampled on a background thread while a workload
//! runs, and the load generator's own cost from getrusage(2).
//!
//! ```no_run
//! use std::time::Duration;
//! use iomodels::sample::{ProcessTree, Sampler};
//!
//! let tree = ProcessTree::new(1234)?;
//! let sampler = Sampler::start(tree, Duration::from_millis(200));
//! // ... run a workload against the server ...
//! let usage = sampler.finish(); // a `TreeUsage` over the interval
//! println!("{} s of CPU, {} kB peak PSS", usage.cpu_user_s + usage.cpu_sys_s, usage.pss_peak_kb);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! - [`procfs`]: parsing `/proc/PID/stat` and `/proc/PID/task/TID/status`, and finding
//!   descendants; one [`TreeSnapshot`] per [`ProcessTree::sample`].
//! - [`sampler`]: the background thread, and how snapshots add up to a [`TreeUsage`].
//! - [`own`]: the calling process's own CPU time and peak RSS ([`own_usage`]).
//! - [`host`]: the whole machine's busy and stolen CPU time, from `/proc/stat`, and
//!   [`others`]: the CPU other processes took meanwhile (what interference is).
//! - [`command`]: `iomodels sample` (hidden), a tree sampled until a signal, printed as
//!   JSON: how compare samples a server on another host; [`args`], its command line.
//! - [`sockstat`]: the kernel's TCP sockets and their buffer memory, from
//!   `/proc/net/sockstat`; [`slab`]: their structures, cache by cache, from
//!   `/proc/slabinfo`; [`census`]: the descriptors and epoll entries a server holds;
//!   [`netstat`]: the kernel's TCP counters that say why connections are lost.
//! - [`machine`]: what this machine allows connections (descriptors, ports, memory,
//!   backlogs, conntrack, CPUs), for bench's check before a hold.

pub mod args;
pub mod census;
pub mod command;
pub mod host;
pub mod machine;
pub mod netstat;
pub mod others;
pub mod own;
pub mod procfs;
pub mod sampler;
pub mod slab;
pub mod sockstat;

pub use host::{HostTimes, HostWatch};
pub use own::{own_usage, OwnUsage};
pub use procfs::{ProcessTree, TreeSnapshot};
pub use sampler::{Sampler, TreeUsage, UsageAccumulator};
pub use sockstat::{tcp_sockets, TcpSockets};
