//! The CPU one keep-alive request of `hold` costs, measured before a hold so that its
//! limits ([`super::limits`]) and its default ping interval rest on this machine's
//! figure: the hold's request (an HTTP `HEAD`, or an echo message) goes over
//! [`CONNECTIONS`] connections in turn, one at a time, each reply read before the next
//! request, in rounds until [`REQUESTS`] were answered or [`WALL`] has passed. The
//! client's cost is the measuring thread's CPU time; the server's, its process tree's
//! (`--server-pid`), or taken to be the client's when the server is here but not given.
//!
//! One request at a time is a wake-up at both ends, as a held connection's ping is when
//! pings are sparse, and the connections in turn spread the requests over a server's
//! workers. Four connections whose requests went out together measured half what the
//! pings of 100,000 held connections cost (docs/results.md, *C100K on 2 cores*); these
//! come near it. The figure leans high when pings come in batches.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use nix::time::{clock_gettime, ClockId};
use socket2::{Domain, Protocol as SockProtocol, SockAddr, Socket, Type};

use super::config::HoldConfig;
use super::hold::{echo_message, http_request, ECHO_LEN};
use super::response::ResponseReader;
use super::target::Target;
use crate::protocol::Protocol;
use crate::results::hold::CpuPerRequest;
use crate::sample::ProcessTree;

/// Connections the measurement uses.
pub const CONNECTIONS: usize = 64;
/// Requests it makes at most (32 rounds).
pub const REQUESTS: u64 = 2_048;
/// How long it runs at most.
pub const WALL: Duration = Duration::from_millis(300);
/// How long a calibration request may wait for its reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// Measures the CPU of a keep-alive request against `target`, from `source` if given;
/// `server_pid` is the server's tree, and `local` says it runs on this machine.
pub fn measure(
    target: &Target,
    hold: &HoldConfig,
    source: Option<IpAddr>,
    server_pid: Option<u32>,
    local: bool,
) -> io::Result<CpuPerRequest> {
    let mut conns = (0..CONNECTIONS)
        .map(|_| connect(target.addr, source))
        .collect::<io::Result<Vec<_>>>()?;
    let server = server_pid.and_then(|pid| ProcessTree::new(pid).ok());
    let server_before = server
        .as_ref()
        .and_then(|t| t.sample().ok())
        .map(|s| s.cpu_ns);
    let request = http_request(target);
    let start = Instant::now();
    let cpu_before = thread_cpu()?;
    let mut requests = 0u64;
    let mut reader = ResponseReader::new();
    let mut buf = [0u8; 4096];
    let mut seq = 0u32;
    while requests < REQUESTS && start.elapsed() < WALL {
        seq = seq.wrapping_add(1);
        for (i, conn) in conns.iter_mut().enumerate() {
            match hold.proto {
                Protocol::Http => conn.write_all(&request)?,
                Protocol::Echo => conn.write_all(&echo_message(i, seq))?,
            }
            match hold.proto {
                Protocol::Http => read_response(conn, &mut reader, &mut buf),
                Protocol::Echo => conn.read_exact(&mut buf[..ECHO_LEN]),
            }
            .map_err(late)?;
            requests += 1;
        }
    }
    let client_ns = thread_cpu()?.saturating_sub(cpu_before);
    let server_ns = server
        .as_ref()
        .and_then(|t| t.sample().ok())
        .zip(server_before)
        .map(|(after, before)| after.cpu_ns.saturating_sub(before));
    let per = |ns: u64| ns as f64 / 1e3 / requests.max(1) as f64;
    let client_us = per(client_ns);
    Ok(CpuPerRequest {
        client_us: round1(client_us),
        server_us: round1(match server_ns {
            Some(ns) => per(ns),
            None if local => client_us,
            None => 0.0,
        }),
        server_measured: server_ns.is_some(),
        requests,
    })
}

/// A read that timed out says so, rather than EAGAIN.
fn late(err: io::Error) -> io::Error {
    match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "no reply within {} s (a server that serves fewer connections at once?)",
                REPLY_TIMEOUT.as_secs()
            ),
        ),
        _ => err,
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// A blocking connection with TCP_NODELAY (as hold's), from `source` if given, whose
/// reads and writes give up after [`REPLY_TIMEOUT`].
fn connect(addr: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM,
        Some(SockProtocol::TCP),
    )?;
    if let Some(ip) = source {
        super::net::bind_source(&socket, ip)?;
    }
    socket.connect_timeout(&SockAddr::from(addr), REPLY_TIMEOUT)?;
    socket.set_nodelay(true)?;
    socket.set_read_timeout(Some(REPLY_TIMEOUT))?;
    socket.set_write_timeout(Some(REPLY_TIMEOUT))?;
    Ok(socket.into())
}

/// Reads one complete response to a `HEAD`.
fn read_response(
    conn: &mut TcpStream,
    reader: &mut ResponseReader,
    buf: &mut [u8],
) -> io::Result<()> {
    let mut done = false;
    while !done {
        let n = conn.read(buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        reader
            .feed(&buf[..n], true, &mut |_| done = true)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not an HTTP response"))?;
    }
    Ok(())
}

/// The CPU time the calling thread has used, in nanoseconds.
fn thread_cpu() -> io::Result<u64> {
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)?;
    Ok(t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::config::Ramp;

    /// Against a tiny HTTP server on a thread of this process: the measurement makes
    /// its requests and finds a CPU cost per request that a request can have.
    #[test]
    fn measures_requests_against_a_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming().take(CONNECTIONS).flatten() {
                std::thread::spawn(move || serve_heads(conn));
            }
        });
        let target = Target::parse(&format!("http://{addr}/")).unwrap();
        let hold = HoldConfig {
            proto: Protocol::Http,
            connections: 1,
            ramp: Ramp::PACED,
            interval: (Duration::from_secs(1), Duration::from_secs(5)),
            derive_interval: false,
            duration: Duration::from_secs(1),
        };
        let cpu = measure(&target, &hold, None, None, true).unwrap();
        assert!(cpu.requests >= CONNECTIONS as u64, "{cpu:?}");
        assert!(cpu.client_us > 0.0 && cpu.client_us < 100_000.0, "{cpu:?}");
        assert_eq!(cpu.server_us, cpu.client_us, "taken to be the client's");
        assert!(!cpu.server_measured);
        let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let target = Target::parse(&gone.local_addr().unwrap().to_string()).unwrap();
        drop(gone);
        assert!(measure(&target, &hold, None, None, false).is_err());
    }

    fn serve_heads(mut conn: TcpStream) {
        let mut buf = [0u8; 1024];
        let mut pending = Vec::new();
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 {
                return;
            }
            pending.extend_from_slice(&buf[..n]);
            while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                pending.drain(..end + 4);
                let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
                if conn.write_all(reply).is_err() {
                    return;
                }
            }
        }
    }
}
