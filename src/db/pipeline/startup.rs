//! Opening a pipeline's connection: where the address points ([`Address`], parsed by
//! the `postgres` crate's `Config`, so `--database` means the same to every driver),
//! the socket, the startup and authentication handshake, and the statement prepared.
//!
//! All of it blocks, on purpose: it happens once when a loop starts (and again only
//! after the connection broke), it is a handful of round trips, and a handshake spread
//! over the loop's turns would be a second state machine for no gain. The socket is
//! made non-blocking once the connection is ready for queries. A deadline (the
//! address's `connect_timeout`, else [`HANDSHAKE_TIMEOUT`]) bounds every step, so a
//! server that does not answer costs the loop that long, not forever.
//!
//! Authentication: trust, cleartext password, MD5 and SCRAM-SHA-256 (without channel
//! binding: there is no TLS), the methods `pg_hba.conf` offers without an external
//! service. TLS is not spoken: `sslmode=require` is refused, `prefer` goes without,
//! as the `postgres` crate does with `NoTls`.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use bytes::BytesMut;
use postgres::config::{Host, SslMode};
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::{backend::Message, frontend};

use super::replies::error_of;
use super::STATEMENT;
use crate::db::world::SELECT_ROW;

/// How long each step of opening a connection may take, unless the address says.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The OID of `int4`, the type of the statement's one parameter.
const INT4_OID: u32 = 23;

/// Where and as whom a pipeline connects: a `--database` address, parsed once.
#[derive(Debug)]
pub struct Address {
    /// Each (host, port) to try, in order, as libpq does.
    places: Vec<(Host, u16)>,
    user: String,
    password: Option<Vec<u8>>,
    dbname: Option<String>,
    /// How the server lists the connection (`pg_stat_activity`): the address's, else
    /// `iomodels`.
    application_name: String,
    timeout: Duration,
}

impl Address {
    /// Parses a `postgres://` URL or a `key=value` string; one line if it will not do.
    pub fn parse(url: &str) -> Result<Address, String> {
        let config: postgres::Config = url
            .parse()
            .map_err(|err| format!("database: the address does not parse: {err}"))?;
        if matches!(config.get_ssl_mode(), SslMode::Require) {
            return Err("database: sslmode=require, but the pipeline speaks no TLS".into());
        }
        let hosts: Vec<Host> = match (config.get_hosts(), config.get_hostaddrs()) {
            (_, addrs) if !addrs.is_empty() => {
                addrs.iter().map(|a| Host::Tcp(a.to_string())).collect()
            }
            (hosts, _) if !hosts.is_empty() => hosts.to_vec(),
            _ => return Err("database: the address names no host".into()),
        };
        let ports = config.get_ports();
        let places = (hosts.into_iter().enumerate())
            .map(|(i, host)| {
                let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
                (host, port)
            })
            .collect();
        let user = match config.get_user() {
            Some(user) => user.to_string(),
            None => std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .map_err(|_| "database: the address names no user, nor does $USER")?,
        };
        Ok(Address {
            places,
            user,
            password: config.get_password().map(<[u8]>::to_vec),
            dbname: config.get_dbname().map(str::to_string),
            application_name: config
                .get_application_name()
                .unwrap_or("iomodels")
                .to_string(),
            timeout: config
                .get_connect_timeout()
                .copied()
                .unwrap_or(HANDSHAKE_TIMEOUT),
        })
    }

    /// Connects to the first place that answers, authenticates and prepares the
    /// statement; the socket is non-blocking when it returns. Blocks meanwhile.
    pub fn open(&self) -> Result<Stream, String> {
        let mut last = String::from("database: nowhere to connect to");
        for (host, port) in &self.places {
            match self.open_at(host, *port) {
                Ok(stream) => return Ok(stream),
                Err(reason) => last = reason,
            }
        }
        Err(last)
    }

    fn open_at(&self, host: &Host, port: u16) -> Result<Stream, String> {
        let stream = connect(host, port, self.timeout)
            .map_err(|err| format!("database: cannot connect to {}: {err}", place(host, port)))?;
        stream
            .set_timeouts(Some(self.timeout))
            .map_err(|err| format!("database: {err}"))?;
        let mut session = Handshake {
            stream: &stream,
            input: BytesMut::with_capacity(1024),
            output: BytesMut::with_capacity(256),
        };
        session.start(self)?;
        session.prepare()?;
        stream
            .set_timeouts(None)
            .and_then(|()| stream.set_nonblocking())
            .map_err(|err| format!("database: {err}"))?;
        Ok(stream)
    }
}

fn place(host: &Host, port: u16) -> String {
    match host {
        Host::Tcp(name) => format!("{name}:{port}"),
        Host::Unix(dir) => socket_path(dir, port).display().to_string(),
    }
}

/// Where a server listening in `dir` on `port` has its Unix socket.
fn socket_path(dir: &std::path::Path, port: u16) -> PathBuf {
    dir.join(format!(".s.PGSQL.{port}"))
}

fn connect(host: &Host, port: u16, timeout: Duration) -> io::Result<Stream> {
    match host {
        Host::Unix(dir) => UnixStream::connect(socket_path(dir, port)).map(Stream::Unix),
        Host::Tcp(name) => {
            let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
            for addr in (name.as_str(), port).to_socket_addrs()? {
                match TcpStream::connect_timeout(&addr, timeout) {
                    Ok(stream) => {
                        // Small requests go out at once, not when Nagle's algorithm
                        // has waited for the answer to the previous one.
                        stream.set_nodelay(true)?;
                        return Ok(Stream::Tcp(stream));
                    }
                    Err(err) => last = err,
                }
            }
            Err(last)
        }
    }
}

/// A connection's socket: a Unix socket or TCP.
#[derive(Debug)]
pub enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn set_timeouts(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s
                .set_read_timeout(timeout)
                .and(s.set_write_timeout(timeout)),
            Stream::Tcp(s) => s
                .set_read_timeout(timeout)
                .and(s.set_write_timeout(timeout)),
        }
    }

    fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_nonblocking(true),
            Stream::Tcp(s) => s.set_nonblocking(true),
        }
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => (&*s).read(buf),
            Stream::Tcp(s) => (&*s).read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => (&*s).write(buf),
            Stream::Tcp(s) => (&*s).write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Unix(s) => s.as_fd(),
            Stream::Tcp(s) => s.as_fd(),
        }
    }
}

/// The blocking conversation that makes a connection ready for queries.
struct Handshake<'a> {
    stream: &'a Stream,
    input: BytesMut,
    output: BytesMut,
}

impl Handshake<'_> {
    /// Startup and authentication, up to the first ReadyForQuery.
    fn start(&mut self, target: &Address) -> Result<(), String> {
        let mut params = vec![
            ("user", target.user.as_str()),
            ("client_encoding", "UTF8"),
            ("application_name", target.application_name.as_str()),
        ];
        if let Some(dbname) = &target.dbname {
            params.push(("database", dbname));
        }
        frontend::startup_message(params, &mut self.output).map_err(|e| wire(&e))?;
        self.send()?;
        let mut scram = None;
        loop {
            match self.receive()? {
                Message::AuthenticationOk => {}
                Message::AuthenticationCleartextPassword => {
                    let password = password(target)?;
                    frontend::password_message(password, &mut self.output).map_err(|e| wire(&e))?;
                    self.send()?;
                }
                Message::AuthenticationMd5Password(body) => {
                    let hash = md5_hash(target.user.as_bytes(), password(target)?, body.salt());
                    frontend::password_message(hash.as_bytes(), &mut self.output)
                        .map_err(|e| wire(&e))?;
                    self.send()?;
                }
                Message::AuthenticationSasl(body) => {
                    let mut mechanisms = body.mechanisms();
                    let mut offered = false;
                    while let Ok(Some(mechanism)) =
                        fallible_iterator::FallibleIterator::next(&mut mechanisms)
                    {
                        offered |= mechanism == sasl::SCRAM_SHA_256;
                    }
                    if !offered {
                        return Err("database: the server offers no SASL method but SCRAM-SHA-256-PLUS, which needs TLS".into());
                    }
                    let client = sasl::ScramSha256::new(
                        password(target)?,
                        sasl::ChannelBinding::unsupported(),
                    );
                    frontend::sasl_initial_response(
                        sasl::SCRAM_SHA_256,
                        client.message(),
                        &mut self.output,
                    )
                    .map_err(|e| wire(&e))?;
                    self.send()?;
                    scram = Some(client);
                }
                Message::AuthenticationSaslContinue(body) => {
                    let client = scram.as_mut().ok_or_else(|| out_of_turn("SASL"))?;
                    client.update(body.data()).map_err(|e| auth(&e))?;
                    frontend::sasl_response(client.message(), &mut self.output)
                        .map_err(|e| wire(&e))?;
                    self.send()?;
                }
                Message::AuthenticationSaslFinal(body) => {
                    let client = scram.as_mut().ok_or_else(|| out_of_turn("SASL"))?;
                    client.finish(body.data()).map_err(|e| auth(&e))?;
                }
                Message::BackendKeyData(_)
                | Message::ParameterStatus(_)
                | Message::NoticeResponse(_) => {}
                Message::ReadyForQuery(_) => return Ok(()),
                Message::ErrorResponse(body) => return Err(error_of(&body).0),
                _ => {
                    return Err(
                        "database: the server asks for an authentication this client does not speak (trust, password, md5 and scram-sha-256 work)"
                            .into(),
                    )
                }
            }
        }
    }

    /// Prepares the statement every row is read with, under its name.
    fn prepare(&mut self) -> Result<(), String> {
        frontend::parse(STATEMENT, SELECT_ROW, [INT4_OID], &mut self.output)
            .map_err(|e| wire(&e))?;
        frontend::sync(&mut self.output);
        self.send()?;
        let mut failed = None;
        loop {
            match self.receive()? {
                Message::ParseComplete
                | Message::NoticeResponse(_)
                | Message::ParameterStatus(_) => {}
                Message::ErrorResponse(body) => failed = Some(error_of(&body).0),
                Message::ReadyForQuery(_) => return failed.map_or(Ok(()), Err),
                _ => return Err(out_of_turn("preparing the statement")),
            }
        }
    }

    fn send(&mut self) -> Result<(), String> {
        let sent = self.stream.write_all(&self.output);
        self.output.clear();
        sent.map_err(|err| format!("database: {err}"))
    }

    fn receive(&mut self) -> Result<Message, String> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(message) = Message::parse(&mut self.input).map_err(|e| wire(&e))? {
                return Ok(message);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err("database: the server closed the connection during startup".into())
                }
                Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(format!("database: during startup: {err}")),
            }
        }
    }
}

fn password(target: &Address) -> Result<&[u8], String> {
    target
        .password
        .as_deref()
        .ok_or_else(|| "database: the server asks for a password, and the address has none".into())
}

fn wire(err: &io::Error) -> String {
    format!("database: a message that does not encode or parse: {err}")
}

fn auth(err: &io::Error) -> String {
    format!("database: SCRAM authentication failed: {err}")
}

fn out_of_turn(during: &str) -> String {
    format!("database: the server sent a message out of turn during {during}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_name_the_places_to_try_in_order() {
        let target =
            Address::parse("host=/run/pg,db.example port=5433,5434 user=u dbname=d password=p")
                .unwrap();
        assert_eq!(
            target.places,
            [
                (Host::Unix("/run/pg".into()), 5433),
                (Host::Tcp("db.example".into()), 5434)
            ]
        );
        assert_eq!(
            (target.user.as_str(), target.dbname.as_deref()),
            ("u", Some("d"))
        );
        assert_eq!(target.password.as_deref(), Some(&b"p"[..]));
        let url = Address::parse("postgres://me@127.0.0.1/world?connect_timeout=3").unwrap();
        assert_eq!(url.places, [(Host::Tcp("127.0.0.1".into()), 5432)]);
        assert_eq!(url.timeout, Duration::from_secs(3));
        assert_eq!(place(&url.places[0].0, 5432), "127.0.0.1:5432");
        assert_eq!(
            place(&Host::Unix("/tmp".into()), 5432),
            "/tmp/.s.PGSQL.5432"
        );
    }

    #[test]
    fn what_the_pipeline_cannot_use_is_one_line() {
        for (url, why) in [
            ("user=u", "names no host"),
            ("host=/tmp sslmode=require user=u", "speaks no TLS"),
            ("postgres://[nonsense", "does not parse"),
        ] {
            let err = Address::parse(url).unwrap_err();
            assert!(err.contains(why) && !err.contains('\n'), "{url}: {err}");
        }
    }

    #[test]
    fn a_place_that_does_not_answer_is_a_reason() {
        let dir = std::env::temp_dir().join(format!("iomodels-nopg-{}", std::process::id()));
        let target = Address::parse(&format!("host={} user=u", dir.display())).unwrap();
        let err = target.open().unwrap_err();
        assert!(err.starts_with("database: cannot connect to "), "{err}");
    }
}
