//! How an event loop carries out the work a request needs (`/cpu`, `/wait`, `/db`,
//! `/queries`): the one place where a readiness loop, select-threads' reader and uring
//! decide what a [`Progress::work`] becomes, the way `serve --offload` says
//! ([`Offload`]).
//!
//! - **Inline** (`--offload 0`): the loop's thread burns the CPU, sleeps through the
//!   wait or queries the database on a blocking connection, and every other
//!   connection of the loop waits with it: the seeds' code, ported naively. A sleep
//!   still ends once the stop flag is set, so a stopping server does not wait out a
//!   long wait.
//! - **A pool** (`--offload N`): seed 004's design. The loop hands the work to a
//!   [`WorkPool`] of N threads and goes on serving; a pool thread carries it out as a
//!   blocking call (a query on a connection of its own) and hands the connection's
//!   token back through [`Completions`], an eventfd the loop waits on with its other
//!   descriptors. One pool per event loop (an epoll set, a select or poll loop, a
//!   ring): a loop's pool serves it alone, so the loops share nothing, and N means the
//!   same in every model, also in epoll-prefork, whose loops are processes and each
//!   must start its own threads after the fork. reuseport, epoll-prefork and uring
//!   with N loops therefore have N pools; epoll-threads' threads wait on one epoll
//!   set, one loop, and share its pool ([`LoopWork::sibling`]). Stopping never joins a
//!   pool thread: one may sleep 60 s.
//! - **The loop's own** (`--offload` unset, every loop's default): a wait is a
//!   deadline the loop keeps ([`WaitTimers`]) and folds into its poll timeout, to the
//!   microsecond (epoll_pwait2, ppoll and select take them; mio rounds up to whole
//!   milliseconds), never rounded down so it does not wake early and spin
//!   ([`LoopWork::timeout`]); uring arms an io_uring timeout operation per wait instead
//!   ([`LoopWork::for_ring`]). A query goes down the loop's own non-blocking,
//!   pipelined connection to PostgreSQL ([`Pipeline`], opened when the loop starts).
//!   No thread is involved. CPU work runs
//!   in the loop: a loop has nowhere else to put it without a pool.
//!
//! Work that comes back without a timer (the pool's, the pipeline's) comes through
//! one descriptor the loop watches for reading with its sockets
//! ([`LoopWork::completions`]: the pool's eventfd, or the pipeline's), and
//! [`LoopWork::take_completed`] takes it. epoll-threads' threads share the pipeline
//! as they share a pool: one loop, one connection.
//!
//! A connection whose work is in flight holds a [`Ticket`]; it stops reading, is not
//! expired by the idle sweep, and keeps its slot. The token the pool, the pipeline or
//! the timers carry names the slot and the ticket, so when a connection closes while
//! its work is in flight (a reset while it had replies to write) and a newer one takes
//! its slot, the finished work is told apart and dropped (`LoopWork::resume`).

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::intake::Intake;
use super::{ConnOptions, Offload};
use crate::db::Pipeline;
use crate::protocol::{Outcome, Progress, Work};
use crate::sys::signal::{Stop, STOP_POLL};
use crate::work::{self, Completions, WaitTimers, WorkPool};

/// Tells one work item in flight apart from every other of the process: a slot's
/// next connection never holds its predecessor's ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u32);

/// Tickets are numbered across the process, so the threads of epoll-threads, which
/// share connections, never hand out the same one. (A ticket comes round again after
/// 2^32 work items, long after any wait, at most a minute, has ended.)
static NEXT_TICKET: AtomicU32 = AtomicU32::new(0);

impl Ticket {
    /// A new ticket for work of slot `key`, and the token that names both.
    fn issue(key: usize) -> (Ticket, usize) {
        let ticket = Ticket(NEXT_TICKET.fetch_add(1, Ordering::Relaxed));
        (ticket, token(key, ticket))
    }
}

/// Work that has come back: the slot of the connection it was for, its ticket, and
/// what the work came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub key: usize,
    ticket: Ticket,
    outcome: Outcome,
}

/// A slot key and a ticket packed into the token the pool and the timers carry.
fn token(key: usize, ticket: Ticket) -> usize {
    const { assert!(usize::BITS == 64, "a token packs a 32-bit key and a ticket") };
    debug_assert!(key <= u32::MAX as usize, "a slot key fits 32 bits");
    ((ticket.0 as usize) << 32) | key
}

impl Finished {
    /// The work a token names, done with nothing to show (a timer's wait).
    pub fn of(token: usize) -> Finished {
        Finished::with(token, Outcome::Done)
    }

    /// The work a token names, come back with `outcome`.
    pub fn with(token: usize, outcome: Outcome) -> Finished {
        Finished {
            key: token & u32::MAX as usize,
            ticket: Ticket((token >> 32) as u32),
            outcome,
        }
    }
}

/// One event loop's way of carrying out its connections' work.
#[derive(Debug)]
pub struct LoopWork {
    way: Way,
    /// The loop's own connection to the database, beside its timers (`--offload`
    /// unset, `--database` given).
    db: Option<Arc<Pipeline>>,
    /// The finished tokens and outcomes of the pool or the pipeline, reused between
    /// turns.
    tokens: Vec<(usize, Outcome)>,
}

/// The descriptor a loop watches for reading, with its sockets, when work comes back
/// through one: readable once [`LoopWork::take_completed`] has something to take. A
/// handle of the loop's own (cloning it is cheap), so what a loop builds around it
/// borrows nothing of the [`LoopWork`].
#[derive(Debug, Clone)]
pub enum Watched {
    /// The pool's completion queue (its eventfd).
    Pool(Arc<Completions>),
    /// The pipeline to the database (its epoll set: the socket and a wake-up).
    Db(Arc<Pipeline>),
}

impl AsFd for Watched {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Watched::Pool(done) => done.as_fd(),
            Watched::Db(db) => db.as_fd(),
        }
    }
}

#[derive(Debug)]
enum Way {
    /// On the loop's thread; the stop flag ends a wait early.
    Inline(Stop),
    Pool {
        pool: Arc<WorkPool>,
        done: Arc<Completions>,
    },
    /// Waits as deadlines folded into the loop's poll timeout; CPU inline.
    Timers(WaitTimers),
    /// Waits the loop arms as timers of its own (uring's timeout operations): each
    /// (wait, token) here waits to be armed; CPU inline.
    RingTimers(Vec<(Duration, usize)>),
}

impl LoopWork {
    /// A readiness loop's: inline, a pool of its own, or its timers and its pipeline
    /// to the database (connected now, blocking, if `opts.handlers` names one; a
    /// refusal is answered to the requests, see [`Pipeline::new`]), as `opts.offload`
    /// says. `stop` ends an inline wait early.
    pub fn new(opts: &ConnOptions, stop: &Stop) -> io::Result<LoopWork> {
        let (way, db) = match opts.offload {
            Offload::Inline => (Way::Inline(stop.clone()), None),
            Offload::Pool(threads) => (
                Way::Pool {
                    pool: Arc::new(WorkPool::new(usize::from(threads))?),
                    done: Completions::new()?,
                },
                None,
            ),
            Offload::Unset => {
                let db = match opts.handlers.database {
                    Some(db) => Some(Arc::new(Pipeline::new(db.url).map_err(io::Error::other)?)),
                    None => None,
                };
                (Way::Timers(WaitTimers::new()), db)
            }
        };
        Ok(LoopWork {
            way,
            db,
            tokens: Vec::new(),
        })
    }

    /// A ring's: as [`Self::new`], except that without `--offload` the ring arms a
    /// timeout operation per wait ([`Self::take_ring_timers`]).
    pub fn for_ring(opts: &ConnOptions, stop: &Stop) -> io::Result<LoopWork> {
        let mut work = LoopWork::new(opts, stop)?;
        if let Way::Timers(_) = work.way {
            work.way = Way::RingTimers(Vec::new());
        }
        Ok(work)
    }

    /// For another thread of the same loop (epoll-threads): the same pool and
    /// completion queue, or the same pipeline, and timers of its own (each thread's
    /// poll timeout wakes it for its own).
    pub fn sibling(&self) -> LoopWork {
        let way = match &self.way {
            Way::Inline(stop) => Way::Inline(stop.clone()),
            Way::Pool { pool, done } => Way::Pool {
                pool: Arc::clone(pool),
                done: Arc::clone(done),
            },
            Way::Timers(_) => Way::Timers(WaitTimers::new()),
            Way::RingTimers(_) => Way::RingTimers(Vec::new()),
        };
        LoopWork {
            way,
            db: self.db.clone(),
            tokens: Vec::new(),
        }
    }

    /// What the loop must watch for reading with its sockets, when work comes back
    /// through a descriptor (a pool's, or the pipeline's): readable once there is
    /// something for [`Self::take_completed`] to take. The same one for the loop's
    /// life.
    pub fn completions(&self) -> Option<Watched> {
        match (&self.way, &self.db) {
            (Way::Pool { done, .. }, _) => Some(Watched::Pool(Arc::clone(done))),
            (_, Some(db)) => Some(Watched::Db(Arc::clone(db))),
            _ => None,
        }
    }

    /// How long the loop may wait for events: the stop-flag period, or less, until the
    /// earliest wait is due, rounded up to a whole microsecond (select's unit; epoll
    /// and poll wait to the nanosecond, mio rounds up to its milliseconds itself): never
    /// rounded down, or the loop would wake before the deadline and turn round idle.
    pub fn timeout(&self, now: Instant) -> Duration {
        let Way::Timers(timers) = &self.way else {
            return STOP_POLL;
        };
        timers.next_timeout(now).map_or(STOP_POLL, |left| {
            let us = left.as_nanos().div_ceil(1_000);
            Duration::from_micros(u64::try_from(us).unwrap_or(u64::MAX)).min(STOP_POLL)
        })
    }

    /// The descriptor of [`Self::completions`] was reported readable: the work items
    /// the pool finished, or the requests the pipeline has answers for.
    pub fn take_completed(&mut self, into: &mut Vec<Finished>) {
        match (&self.way, &self.db) {
            (Way::Pool { done, .. }, _) => done.take(&mut self.tokens),
            (_, Some(db)) => db.on_readable(&mut self.tokens),
            _ => return,
        }
        into.extend(
            self.tokens
                .drain(..)
                .map(|(token, outcome)| Finished::with(token, outcome)),
        );
    }

    /// After each wait for events: the waits that are due.
    pub fn take_due(&mut self, now: Instant, into: &mut Vec<Finished>) {
        if let Way::Timers(timers) = &mut self.way {
            into.extend(std::iter::from_fn(|| timers.pop_due(now)).map(Finished::of));
        }
    }

    /// The waits a ring must arm a timeout for, each with the token its completion
    /// hands back ([`Finished::of`]).
    pub fn take_ring_timers(&mut self) -> impl Iterator<Item = (Duration, usize)> + '_ {
        let pending = match &mut self.way {
            Way::RingTimers(pending) => Some(pending.drain(..)),
            _ => None,
        };
        pending.into_iter().flatten()
    }

    /// Carries out the work `progress` asks for, for the connection in slot `key`:
    /// done at once (inline, or CPU beside timers), the request is answered and the
    /// input after it fed, and so on while requests ask for work; started elsewhere,
    /// `in_flight` holds its ticket and the connection waits for [`Self::resume`].
    /// Returns the progress of it all, as one.
    pub(super) fn carry(
        &mut self,
        intake: &mut Intake,
        mut progress: Progress,
        out: &mut Vec<u8>,
        (key, in_flight): (usize, &mut Option<Ticket>),
        now: Instant,
    ) -> Progress {
        while let Some(owed) = progress.work {
            let outcome = match self.start(owed, key, now) {
                Started::InFlight(ticket) => {
                    *in_flight = Some(ticket);
                    break;
                }
                Started::Done(outcome) => outcome,
            };
            progress = progress.then(intake.finish_work(out, outcome));
        }
        progress
    }

    /// `finished` came back: if it is the work `in_flight` holds, answers its request
    /// and carries on as [`Self::carry`] does (the input after it may ask for work
    /// again); `None` if it is not this connection's (its slot changed hands).
    pub(super) fn resume(
        &mut self,
        finished: Finished,
        intake: &mut Intake,
        out: &mut Vec<u8>,
        in_flight: &mut Option<Ticket>,
        now: Instant,
    ) -> Option<Progress> {
        if *in_flight != Some(finished.ticket) {
            return None;
        }
        *in_flight = None;
        let progress = intake.finish_work(out, finished.outcome);
        Some(self.carry(intake, progress, out, (finished.key, in_flight), now))
    }

    /// Starts `owed` for slot `key`: in flight with its ticket, or done already.
    fn start(&mut self, owed: Work, key: usize, now: Instant) -> Started {
        if let (Some(db), Work::Db(query, _)) = (&self.db, owed) {
            let (ticket, token) = Ticket::issue(key);
            db.submit(query, token);
            return Started::InFlight(ticket);
        }
        match (&mut self.way, owed) {
            (Way::Inline(stop), _) => {
                // A stopping server's wait ends early; its reply goes nowhere anyway.
                Started::Done(work::block_unless_stopped(owed, stop).unwrap_or(Outcome::Done))
            }
            // A query beside timers goes down the pipeline (above): here only without
            // a database, which the session answers without asking for work.
            (Way::Timers(_) | Way::RingTimers(_), Work::Cpu(_) | Work::Db(..)) => {
                Started::Done(work::block(owed))
            }
            (Way::Pool { pool, done }, _) => {
                let (ticket, token) = Ticket::issue(key);
                pool.submit(owed, token, done);
                Started::InFlight(ticket)
            }
            (Way::Timers(timers), Work::Wait(amount)) => {
                let (ticket, token) = Ticket::issue(key);
                timers.add(now + amount, token);
                Started::InFlight(ticket)
            }
            (Way::RingTimers(pending), Work::Wait(amount)) => {
                let (ticket, token) = Ticket::issue(key);
                pending.push((amount, token));
                Started::InFlight(ticket)
            }
        }
    }
}

/// What starting a work item did.
enum Started {
    /// It is in flight: the connection holds this ticket until it comes back.
    InFlight(Ticket),
    /// It was carried out at once, with this outcome.
    Done(Outcome),
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

    use super::*;
    use crate::protocol::{Handlers, Protocol};

    const WAIT: Handlers = Handlers {
        cpu: Duration::from_millis(5),
        wait: Duration::from_millis(30),
        database: None,
    };

    fn opts(offload: Offload) -> ConnOptions {
        ConnOptions {
            protocol: Protocol::Http,
            timeout: None,
            nodelay: false,
            cork: false,
            handlers: &WAIT,
            offload,
        }
    }

    const TWO_WAITS_AND_GET: &[u8] = b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n\
        GET /wait HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";

    /// Feeds two `/wait`s and a `GET /` to a connection in slot 3; returns its intake,
    /// output, ticket in flight and the progress so far.
    fn feed(work: &mut LoopWork, now: Instant) -> (Intake, Vec<u8>, Option<Ticket>, Progress) {
        let mut intake = Intake::new(&opts(Offload::Unset));
        let (mut out, mut in_flight) = (Vec::new(), None);
        let progress = intake.absorb(TWO_WAITS_AND_GET, &mut out);
        let progress = work.carry(&mut intake, progress, &mut out, (3, &mut in_flight), now);
        (intake, out, in_flight, progress)
    }

    #[test]
    fn a_token_packs_the_slot_and_the_ticket() {
        let ticket = Ticket(0xdead_beef);
        assert_eq!(
            Finished::of(token(77, ticket)),
            Finished {
                key: 77,
                ticket,
                outcome: Outcome::Done
            }
        );
    }

    #[test]
    fn inline_work_is_done_before_carry_returns() {
        let mut work = LoopWork::new(&opts(Offload::Inline), &Stop::new()).unwrap();
        let started = Instant::now();
        let (_, out, in_flight, progress) = feed(&mut work, started);
        assert!(started.elapsed() >= WAIT.wait * 2, "both waits slept");
        assert_eq!((in_flight, progress.work), (None, None));
        assert_eq!(out.windows(13).filter(|w| w == b"Hello, World!").count(), 3);
    }

    #[test]
    fn timers_set_the_poll_timeout_and_resume_in_turn() {
        let mut work = LoopWork::new(&opts(Offload::Unset), &Stop::new()).unwrap();
        assert!(work.completions().is_none());
        let now = Instant::now();
        assert_eq!(work.timeout(now), STOP_POLL, "nothing pending");
        let (mut intake, mut out, mut in_flight, _) = feed(&mut work, now);
        assert!(in_flight.is_some() && out.is_empty());
        // 29.5 ms and a few ns left: rounded up to the microsecond, never down.
        let timeout = work.timeout(now + Duration::from_nanos(500_003));
        assert_eq!(timeout, Duration::from_micros(29_500));
        let mut due = Vec::new();
        work.take_due(now + Duration::from_millis(29), &mut due);
        assert!(due.is_empty());
        work.take_due(now + WAIT.wait, &mut due);
        assert_eq!(due.len(), 1);
        let later = now + WAIT.wait;
        let progress = work
            .resume(due[0].clone(), &mut intake, &mut out, &mut in_flight, later)
            .expect("its own ticket");
        assert!(
            progress.work.is_some() && in_flight.is_some(),
            "the second wait"
        );
        assert_eq!(work.timeout(later), WAIT.wait);
        due.clear();
        work.take_due(later + WAIT.wait, &mut due);
        let progress = work
            .resume(due[0].clone(), &mut intake, &mut out, &mut in_flight, later)
            .unwrap();
        assert_eq!((progress.work, in_flight), (None, None));
        assert_eq!(out.windows(13).filter(|w| w == b"Hello, World!").count(), 3);
    }

    #[test]
    fn a_slot_that_changed_hands_ignores_the_old_tokens_work() {
        let mut work = LoopWork::new(&opts(Offload::Unset), &Stop::new()).unwrap();
        let now = Instant::now();
        let (_, _, first, _) = feed(&mut work, now);
        // The first connection closed; a new one in slot 3 waits too.
        let (mut intake, mut out, mut in_flight, _) = feed(&mut work, now);
        assert_ne!(first, in_flight);
        let stale = Finished {
            key: 3,
            ticket: first.unwrap(),
            outcome: Outcome::Done,
        };
        assert!(work
            .resume(stale, &mut intake, &mut out, &mut in_flight, now)
            .is_none());
        assert!(in_flight.is_some() && out.is_empty(), "still waiting");
    }

    #[test]
    fn cpu_beside_timers_burns_at_once() {
        let mut work = LoopWork::new(&opts(Offload::Unset), &Stop::new()).unwrap();
        let mut intake = Intake::new(&opts(Offload::Unset));
        let (mut out, mut in_flight) = (Vec::new(), None);
        let progress = intake.absorb(b"GET /cpu HTTP/1.1\r\nHost: x\r\n\r\n", &mut out);
        let cpu = work::cpu::thread_cpu_time();
        let now = Instant::now();
        let progress = work.carry(&mut intake, progress, &mut out, (0, &mut in_flight), now);
        assert!(work::cpu::thread_cpu_time() - cpu >= WAIT.cpu);
        assert_eq!((progress.work, in_flight), (None, None));
        assert!(!out.is_empty());
    }

    #[test]
    fn a_pool_hands_the_work_back_through_its_completions() {
        let mut work = LoopWork::new(&opts(Offload::Pool(2)), &Stop::new()).unwrap();
        let now = Instant::now();
        let (mut intake, mut out, mut in_flight, _) = feed(&mut work, now);
        assert!(in_flight.is_some() && out.is_empty());
        let sibling = work.sibling();
        let done = sibling.completions().expect("the same queue");
        let mut fds = [PollFd::new(done.as_fd(), PollFlags::POLLIN)];
        assert_eq!(poll(&mut fds, PollTimeout::from(10_000u16)).unwrap(), 1);
        let mut finished = Vec::new();
        work.take_completed(&mut finished);
        assert_eq!(finished.len(), 1);
        assert_eq!(finished[0].key, 3);
        assert!(work
            .resume(
                finished[0].clone(),
                &mut intake,
                &mut out,
                &mut in_flight,
                now
            )
            .is_some());
        assert!(in_flight.is_some(), "the second wait is in the pool");
    }

    #[test]
    fn a_ring_arms_a_timer_per_wait() {
        let mut work = LoopWork::for_ring(&opts(Offload::Unset), &Stop::new()).unwrap();
        let (_, _, in_flight, _) = feed(&mut work, Instant::now());
        let armed: Vec<_> = work.take_ring_timers().collect();
        assert_eq!(armed.len(), 1);
        assert_eq!(armed[0].0, WAIT.wait);
        assert_eq!(Finished::of(armed[0].1).key, 3);
        assert_eq!(Some(Finished::of(armed[0].1).ticket), in_flight);
        assert_eq!(work.take_ring_timers().count(), 0, "armed once");
    }
}
