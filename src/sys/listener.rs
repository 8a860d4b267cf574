//! Creating the listening socket: socket(2), setsockopt(2), bind(2), listen(2).

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::Duration;

use nix::sys::socket::{accept4, SockFlag};
use socket2::{Domain, SockRef, Socket, Type};

/// Binds a TCP listener with SO_REUSEADDR (a restarted server does not wait out
/// TIME_WAIT), SO_REUSEPORT if asked (several listeners on one port, the kernel spreading
/// connections among them), and the given listen(2) backlog.
pub fn bind(addr: SocketAddr, backlog: u32, reuse_port: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// Accepts one connection as a non-blocking, close-on-exec socket in a single system
/// call (accept4(2)), for the event-driven models.
pub fn accept_nonblocking(listener: &TcpListener) -> io::Result<TcpStream> {
    let fd = accept4(
        listener.as_raw_fd(),
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
    )?;
    // SAFETY: accept4 returned a new descriptor that nothing else owns.
    Ok(unsafe { TcpStream::from_raw_fd(fd) })
}

/// Makes a blocking accept(2) on `listener` give up after `timeout` (SO_RCVTIMEO
/// applies to accept on Linux), so a blocking accept loop can check its stop flag.
pub fn set_accept_timeout(listener: &TcpListener, timeout: Duration) -> io::Result<()> {
    SockRef::from(listener).set_read_timeout(Some(timeout))
}
