//! Carrying out the work a request needs ([`crate::protocol::Work`]): the backend every
//! model's connection layer calls, which never knows which model calls it.
//!
//! - [`cpu`]: burning CPU for real, by hashing, until the calling thread's CPU clock
//!   has advanced by the amount.
//! - [`block`](mod@block): carrying a work item out by blocking the calling thread (a burn, or a
//!   sleep for a wait): what a thread or a process that serves one connection does.
//! - [`pool`]: seed 004's pool of threads that carry work out as blocking calls and
//!   hand each finished item back to the event loop that sent it (a completion queue
//!   and an eventfd the loop waits on).
//! - [`timers`]: deadlines an event loop keeps itself, to express a wait without
//!   blocking (a min-heap folded into its poll timeout).
//!
//! Which of them a family uses, and when, is the connection layer's choice
//! (`serve --offload`): see [`crate::conn`].

pub mod block;
pub mod cpu;
pub mod pool;
pub mod timers;

pub use block::{block, block_unless_stopped};
pub use pool::{Completions, WorkPool};
pub use timers::WaitTimers;
