//! Sockets for the load generator: non-blocking connects (optionally from a chosen
//! local address), telling a finished connect from a pending one, what an I/O error
//! counts as, the up-front probe of the target, and the file descriptor budget.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use mio::net::TcpStream;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::stats::ErrorKind;

/// File descriptors the process needs besides its connections (stdio, epoll, files).
pub const SPARE_FDS: u64 = 64;

/// Starts a non-blocking connect (see [`connect`]) and registers the socket with
/// `registry` under `token` for reading and writing: the first writable event tells
/// the connect's outcome.
pub fn connect_registered(
    registry: &mio::Registry,
    token: mio::Token,
    addr: SocketAddr,
    source: Option<IpAddr>,
) -> io::Result<TcpStream> {
    let mut stream = connect(addr, source)?;
    registry.register(
        &mut stream,
        token,
        mio::Interest::READABLE | mio::Interest::WRITABLE,
    )?;
    Ok(stream)
}

/// Starts a non-blocking connect to `addr`, from `source` if given, with TCP_NODELAY
/// (requests are small writes that must not wait for Nagle).
pub fn connect(addr: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    socket.set_nodelay(true)?;
    if let Some(ip) = source {
        bind_source(&socket, ip)?;
    }
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(err) if err.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(err) => return Err(err),
    }
    Ok(TcpStream::from_std(socket.into()))
}

/// Binds `socket` to the local address `ip`, leaving the port to connect(2)
/// (IP_BIND_ADDRESS_NO_PORT): the kernel then picks a port free for this destination,
/// so each source address gives its whole ephemeral range to each target, instead of
/// reserving a port at bind(2) for every destination at once.
pub fn bind_source(socket: &Socket, ip: IpAddr) -> io::Result<()> {
    if ip.is_ipv4() {
        nix::sys::socket::setsockopt(
            socket,
            nix::sys::socket::sockopt::IpBindAddressNoPort,
            &true,
        )?;
    }
    socket.bind(&SockAddr::from(SocketAddr::new(ip, 0)))
}

/// After a writable event on a connecting socket: `Ok(true)` once connected,
/// `Ok(false)` if still in progress, the connect error otherwise.
pub fn connect_finished(stream: &TcpStream) -> io::Result<bool> {
    if let Some(err) = stream.take_error()? {
        return Err(err);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(err) => Err(err),
    }
}

/// What a failed connect counts as: refused, out of descriptors or ports, timed out,
/// reset, or another failure.
pub fn classify_connect(err: &io::Error) -> ErrorKind {
    match err.raw_os_error() {
        Some(libc::ECONNREFUSED) => ErrorKind::Refused,
        Some(libc::EMFILE | libc::ENFILE) => ErrorKind::NoDescriptors,
        Some(libc::EADDRNOTAVAIL | libc::EADDRINUSE) => ErrorKind::NoPorts,
        Some(libc::ETIMEDOUT) => ErrorKind::Timeout,
        Some(libc::ECONNRESET) => ErrorKind::Reset,
        _ => ErrorKind::Connect,
    }
}

/// What an I/O error on an established connection counts as.
pub fn classify(err: &io::Error) -> ErrorKind {
    match err.kind() {
        io::ErrorKind::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::Reset,
    }
}

/// One blocking connect before the run, so a target that refuses connections gets one
/// clear line instead of a run full of connect errors.
pub fn probe(addr: SocketAddr, source: Option<IpAddr>, timeout: Duration) -> io::Result<()> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if let Some(ip) = source {
        bind_source(&socket, ip)?;
    }
    socket.connect_timeout(&SockAddr::from(addr), timeout)
}

/// Raises the soft file descriptor limit to the hard one and returns how many
/// connections fit under it.
pub fn raise_fd_limit() -> u64 {
    crate::sys::limits::raise_nofile().saturating_sub(SPARE_FDS)
}
