//! `iomodels floor`: the CPU a minimal server loop spends per small request on this
//! machine: one read(2) of a request and one write(2) of its response on a loopback TCP
//! connection, with no event loop, no parsing and no bookkeeping. It is a reference,
//! not a bound: the median of brief passes, measured apart from the model it is set
//! against, so a model that batches its reads and writes can come out slightly below
//! it (the report marks such a cell).
//!
//! Two threads play the two sides, in passes: the client thread writes a request on
//! every connection, then the server side reads each request (already queued in its
//! socket, written from another core as a load generator's would be) and writes the
//! canned response. The client reads the responses only once the pass is over, so no
//! response has to wake a client asleep in read(2): that wake-up is the client's
//! doing, and a busy load generator, never asleep, does not ask for it (wrk, driving
//! our fastest models, sleeps a few dozen times a second).
//!
//! What a busy load generator does ask for is to be told which connection has its
//! response: wrk, like every event-driven client, watches its connections with epoll.
//! On loopback a response is delivered into the client's socket by the server's own
//! write, so the write also runs the client's readiness callback (`ep_poll_callback`,
//! which queues the connection on the client's ready list). The client here watches
//! its connections the same way (level-triggered, as wrk's event loop does) and
//! collects the ready list after each pass, so every response pays that callback as it
//! does under wrk. The same rounds without the client watching are measured too,
//! interleaved, and reported beside it: the difference is what the notification costs.
//!
//! Only the server side is timed, with its own CPU clock (CLOCK_THREAD_CPUTIME_ID,
//! which counts the loopback delivery its write performs in its context, as a real
//! server pays it). The wall time of the median pass is reported beside it: a pass the
//! scheduler did not preempt costs its CPU time, so the two agree when the clock is not
//! lagging.
//!
//! The figure is the median over rounds; a server's CPU per request divided by it says
//! how much of that server's cost is its own rather than the kernel's.
//!
//! [`args`] holds its command line.

pub mod args;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::time::{clock_gettime, ClockId};

use crate::protocol::Protocol;
pub use args::FloorArgs;

/// The request every round sends: what wrk sends for `GET /`.
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

/// One round's server-side cost.
#[derive(Debug, Clone, Copy)]
struct Round {
    requests: u64,
    cpu: Duration,
    wall: Duration,
    /// The median pass's wall time per request: a pass the scheduler did not preempt
    /// costs its CPU time, so this is the figure to check the thread clock against on
    /// a busy machine.
    pass_wall_us: f64,
}

impl Round {
    fn cpu_us_per_request(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.requests as f64
    }
}

/// What `floor` measured: the median round (`floor --json` prints it).
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Floor {
    /// Server-side CPU per request, in microseconds, the client watching its
    /// connections with epoll: the floor.
    pub cpu_us: f64,
    /// The same without the client watching (no readiness callback per response);
    /// `None` when only the floor was measured ([`measure_floor`]).
    pub bare_cpu_us: Option<f64>,
    /// Wall time per request of the same round.
    pub wall_us: f64,
    /// Wall time per request of the round's median pass.
    pub pass_wall_us: f64,
    pub rounds: usize,
    pub requests: u64,
}

/// Runs `iomodels floor` and prints the result.
pub fn run(args: &FloorArgs) -> Result<()> {
    let floor = if args.floor_only {
        measure_floor(args)?
    } else {
        measure(args)?
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&floor)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "floor: {:.2} µs CPU per request (wall {:.2} µs, median pass {:.2} µs), median of {} rounds of {} requests over {} connections",
        floor.cpu_us, floor.wall_us, floor.pass_wall_us, floor.rounds, floor.requests, args.connections,
    )?;
    writeln!(
        out,
        "       one read(2) of a {}-byte request and one write(2) of a {}-byte response, loopback TCP,",
        REQUEST.len(),
        canned_response().len()
    )?;
    write!(
        out,
        "       to a client watching its connections with epoll, as wrk does"
    )?;
    match floor.bare_cpu_us {
        Some(bare) => writeln!(out, "; {bare:.2} µs if no client watches")?,
        None => writeln!(out)?,
    }
    Ok(())
}

/// Measures the floor: the median of `args.rounds` rounds with the client watching,
/// and of as many without, interleaved.
pub fn measure(args: &FloorArgs) -> Result<Floor> {
    measure_passes(args, true)
}

/// Measures the floor alone, with the client watching: half the time of [`measure`],
/// for `compare`, which needs no bare figure.
pub fn measure_floor(args: &FloorArgs) -> Result<Floor> {
    measure_passes(args, false)
}

/// The rounds with the client watching, each followed by one without if `bare`.
fn measure_passes(args: &FloorArgs, bare_too: bool) -> Result<Floor> {
    let response = canned_response();
    let pairs =
        connect_pairs(args.connections as usize).context("cannot open loopback connections")?;
    let passes = args.requests.div_ceil(args.connections) as usize;
    // A first round warms caches, the socket buffers and the CPU's frequency.
    measure_round(&pairs, &response, passes.min(50), true)?;
    let (mut rounds, mut bare) = (Vec::new(), Vec::new());
    for _ in 0..args.rounds {
        rounds.push(measure_round(&pairs, &response, passes, true)?);
        if bare_too {
            bare.push(measure_round(&pairs, &response, passes, false)?);
        }
    }
    let median = median_round(&mut rounds);
    Ok(Floor {
        cpu_us: median.cpu_us_per_request(),
        bare_cpu_us: (!bare.is_empty()).then(|| median_round(&mut bare).cpu_us_per_request()),
        wall_us: median.wall.as_secs_f64() * 1e6 / median.requests as f64,
        pass_wall_us: median.pass_wall_us,
        rounds: rounds.len(),
        requests: median.requests,
    })
}

/// The round of median CPU per request.
fn median_round(rounds: &mut [Round]) -> Round {
    rounds.sort_by(|a, b| a.cpu_us_per_request().total_cmp(&b.cpu_us_per_request()));
    rounds[rounds.len() / 2]
}

/// The response our HTTP session gives to [`REQUEST`], so the floor writes what the
/// models write.
fn canned_response() -> Vec<u8> {
    let mut out = Vec::new();
    Protocol::Http
        .session(&crate::protocol::Handlers::DEFAULT)
        .feed(REQUEST, &mut out);
    out
}

/// `n` connected (client, server) pairs over loopback.
fn connect_pairs(n: usize) -> Result<Vec<(TcpStream, TcpStream)>> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let addr = listener.local_addr()?;
    let mut pairs = Vec::with_capacity(n);
    for _ in 0..n {
        let client = TcpStream::connect(addr)?;
        let (server, _) = listener.accept()?;
        pairs.push((client, server));
    }
    Ok(pairs)
}

/// `passes` times over every connection: the client thread sends a request on each,
/// then the server side (this thread, timed) serves them, then the client reads the
/// responses. The requests were written on another core, as a load generator's are, so
/// the server pays for bringing them into its cache, but not for waking a client; if
/// `watched`, the client watches its connections with epoll, so each response also
/// pays the client's readiness callback.
fn measure_round(
    pairs: &[(TcpStream, TcpStream)],
    response: &[u8],
    passes: usize,
    watched: bool,
) -> Result<Round> {
    let (requests_sent, responses_sent) = (Barrier::new(2), Barrier::new(2));
    let watcher = if watched {
        Some(watch(pairs).context("cannot watch the connections with epoll")?)
    } else {
        None
    };
    thread::scope(|scope| {
        let client = scope.spawn(|| {
            client_side(
                pairs,
                watcher.as_ref(),
                response.len(),
                passes,
                &requests_sent,
                &responses_sent,
            )
        });
        let served = server_side(pairs, response, passes, &requests_sent, &responses_sent);
        let sent = client
            .join()
            .map_err(|_| anyhow::anyhow!("the client thread panicked"))?;
        sent.and(served)
    })
}

/// An epoll set watching every client connection for input, level-triggered, as
/// wrk's event loop watches its connections.
fn watch(pairs: &[(TcpStream, TcpStream)]) -> nix::Result<Epoll> {
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    for (i, (client, _)) in pairs.iter().enumerate() {
        epoll.add(client, EpollEvent::new(EpollFlags::EPOLLIN, i as u64))?;
    }
    Ok(epoll)
}

/// Sends a request on every connection, lets the server side start, and once it has
/// answered them all, reads the responses. With a `watcher`, it first collects the
/// ready list, as an event loop would, and after reading asks it again, as an event
/// loop's next turn would, so the list is empty when the next responses arrive.
fn client_side(
    pairs: &[(TcpStream, TcpStream)],
    watcher: Option<&Epoll>,
    response_len: usize,
    passes: usize,
    requests_sent: &Barrier,
    responses_sent: &Barrier,
) -> Result<()> {
    let mut response_buf = vec![0u8; response_len];
    let mut events = vec![EpollEvent::empty(); pairs.len()];
    for _ in 0..passes {
        for (client, _) in pairs {
            (&*client).write_all(REQUEST)?;
        }
        requests_sent.wait();
        responses_sent.wait();
        if let Some(epoll) = watcher {
            epoll.wait(&mut events, EpollTimeout::ZERO)?;
        }
        for (client, _) in pairs {
            (&*client).read_exact(&mut response_buf)?;
        }
        if let Some(epoll) = watcher {
            // Level-triggered: the connections just read are still listed until the
            // set is asked again and finds them empty.
            epoll.wait(&mut events, EpollTimeout::ZERO)?;
        }
    }
    Ok(())
}

/// Serves each pass's requests, one read and one write per connection, timing only that.
fn server_side(
    pairs: &[(TcpStream, TcpStream)],
    response: &[u8],
    passes: usize,
    requests_sent: &Barrier,
    responses_sent: &Barrier,
) -> Result<Round> {
    let mut request_buf = [0u8; 4096];
    let mut round = Round {
        requests: 0,
        cpu: Duration::ZERO,
        wall: Duration::ZERO,
        pass_wall_us: 0.0,
    };
    let mut pass_walls = Vec::with_capacity(passes);
    for _ in 0..passes {
        requests_sent.wait();
        let cpu0 = thread_cpu()?;
        let wall0 = Instant::now();
        for (_, server) in pairs {
            let n = (&*server).read(&mut request_buf)?;
            ensure!(n == REQUEST.len(), "a request arrived split ({n} bytes)");
            let written = (&*server).write(response)?;
            ensure!(written == response.len(), "a response was written short");
        }
        let wall = wall0.elapsed();
        let cpu1 = thread_cpu()?;
        round.wall += wall;
        pass_walls.push(wall.as_secs_f64() * 1e6 / pairs.len() as f64);
        responses_sent.wait();
        round.cpu += cpu1 - cpu0;
        round.requests += pairs.len() as u64;
    }
    pass_walls.sort_by(f64::total_cmp);
    round.pass_wall_us = pass_walls[pass_walls.len() / 2];
    Ok(round)
}

/// This thread's CPU time so far: CLOCK_THREAD_CPUTIME_ID brings the scheduler's count
/// up to date before reading it, where getrusage(RUSAGE_THREAD) reports it as of the
/// last tick or context switch, and lags behind a thread that keeps running.
fn thread_cpu() -> Result<Duration> {
    let now = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).context("clock_gettime")?;
    Ok(Duration::new(now.tv_sec() as u64, now.tv_nsec() as u32))
}
