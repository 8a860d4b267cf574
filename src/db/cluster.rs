//! A private PostgreSQL cluster: made in a temporary directory, started with settings
//! for benchmarking ([`Settings`]), given TechEmpower's `World` table, and stopped and
//! removed again, also when this process is killed.
//!
//! [`Cluster::start`] makes one that lives as long as the [`Cluster`] (dropping it
//! stops it) and dies with this process; [`Cluster::start_detached`] one that outlives
//! it (`iomodels db start`), described by a [`Detached`] that can stop it later.

use std::fmt;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::dir::{self, ClusterDir};
use super::install::{self, Install};
use super::postmaster::{self, Lifetime};
use super::world;

/// How long a new server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The port of a cluster on a Unix socket: the socket's name (`.s.PGSQL.5432`), in a
/// directory of its own, so it cannot clash with another server's.
const SOCKET_PORT: u16 = 5432;

/// How clients reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Listen {
    /// A Unix socket in the cluster's directory; no TCP at all (`listen_addresses=''`).
    UnixSocket,
    /// A free TCP port on 127.0.0.1 (and the socket as well).
    Loopback,
}

/// The settings a cluster is started with, for benchmarking; the report prints them
/// ([`Settings::parameters`], or `Display`). Durability is off, as nothing the
/// benchmark writes is kept: `fsync=off`, `synchronous_commit=off`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// How many connections the server accepts at once; each costs a backend process
    /// while connected. The default, 200 (PostgreSQL's own is 100), lets 100 clients
    /// each hold one with room for pgbench's and the tools' (and the 3 PostgreSQL keeps
    /// for superusers); 1,000 clients that each want one outnumber it, as they would a
    /// production server's, and the comparison shows what that does to each model.
    /// `db start --max-connections` raises it.
    pub max_connections: u32,
    /// The server's buffer cache, in MiB (PostgreSQL's default, 128; the `World` table
    /// and its index take under 1 MiB).
    pub shared_buffers_mib: u32,
    /// A Unix socket, or a loopback port.
    pub listen: Listen,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_connections: 200,
            shared_buffers_mib: 128,
            listen: Listen::UnixSocket,
        }
    }
}

impl Settings {
    /// The server parameters these settings make, as `postgres -c NAME=VALUE` takes them.
    pub fn parameters(&self) -> Vec<(&'static str, String)> {
        let listen = match self.listen {
            Listen::UnixSocket => "",
            Listen::Loopback => "127.0.0.1",
        };
        vec![
            ("max_connections", self.max_connections.to_string()),
            ("shared_buffers", format!("{}MB", self.shared_buffers_mib)),
            ("fsync", "off".into()),
            ("synchronous_commit", "off".into()),
            ("listen_addresses", listen.into()),
        ]
    }
}

impl fmt::Display for Settings {
    /// `max_connections=200 shared_buffers=128MB fsync=off synchronous_commit=off
    /// listen_addresses=''`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parameters: Vec<String> = self
            .parameters()
            .into_iter()
            .map(|(name, value)| {
                let shown = if value.is_empty() { "''" } else { &value };
                format!("{name}={shown}")
            })
            .collect();
        f.write_str(&parameters.join(" "))
    }
}

/// A running private cluster, stopped and removed when dropped.
#[derive(Debug)]
pub struct Cluster {
    postmaster: Option<Child>,
    dir: Option<ClusterDir>,
    url: String,
    settings: Settings,
    version: String,
}

impl Cluster {
    /// Makes, starts and fills a cluster that dies with this process. First removes
    /// the directories of clusters whose process was killed ([`dir::janitor`]).
    pub fn start(settings: &Settings) -> Result<Cluster> {
        Self::launch(settings, Lifetime::WithThisProcess)
    }

    /// Makes, starts and fills a cluster that outlives this process, in a session of
    /// its own; [`Detached::stop`] stops it.
    pub fn start_detached(settings: &Settings) -> Result<Detached> {
        let mut cluster = Self::launch(settings, Lifetime::Detached)?;
        let pid = cluster.postmaster_pid();
        let dir = cluster.dir.take().map(ClusterDir::keep).unwrap_or_default();
        // Dropping the handle leaves the process running; it is reaped by whoever
        // inherits it when we exit.
        drop(cluster.postmaster.take());
        Ok(Detached {
            dir,
            pid,
            url: std::mem::take(&mut cluster.url),
            settings: cluster.settings.clone(),
            version: std::mem::take(&mut cluster.version),
        })
    }

    fn launch(settings: &Settings, lifetime: Lifetime) -> Result<Cluster> {
        let install = Install::find()?;
        let user = install::server_user()?;
        dir::janitor(user.map(|(uid, _)| uid));
        let version = install.version()?;
        let dir = ClusterDir::create(user).context("making the cluster's directory")?;
        postmaster::initdb(&install, &dir, user)?;
        let port = match settings.listen {
            Listen::UnixSocket => SOCKET_PORT,
            Listen::Loopback => free_loopback_port()?,
        };
        let place = Place::new(dir.path(), settings.listen, port);
        let mut parameters = settings.parameters();
        let socket_dir = dir.path().to_string_lossy().into_owned();
        parameters.push(("unix_socket_directories", socket_dir));
        parameters.push(("port", port.to_string()));
        let child = postmaster::spawn(&install, &dir, user, &parameters, lifetime)?;
        // From here on, dropping the cluster stops the server and removes the directory.
        let cluster = Cluster {
            postmaster: Some(child),
            dir: Some(dir),
            url: place.url(world::DATABASE),
            settings: settings.clone(),
            version,
        };
        let admin = place.url("postgres");
        cluster.wait_until_ready(&admin)?;
        world::create(&admin, &cluster.url)?;
        Ok(cluster)
    }

    /// Waits until the server takes a connection, or says why it will not.
    fn wait_until_ready(&self, admin_url: &str) -> Result<()> {
        let log = self.log();
        let give_up = Instant::now() + READY_TIMEOUT;
        let mut config: postgres::Config = admin_url.parse()?;
        config.connect_timeout(Duration::from_secs(2));
        loop {
            if !self
                .postmaster
                .as_ref()
                .is_some_and(|c| postmaster::is_alive(c.id()))
            {
                bail!(
                    "postgres ended while starting: {}",
                    postmaster::log_tail(&log)
                );
            }
            match config.connect(postgres::NoTls) {
                Ok(_) => return Ok(()),
                Err(err) if Instant::now() >= give_up => bail!(
                    "postgres took no connection within {} s ({err}): {}",
                    READY_TIMEOUT.as_secs(),
                    postmaster::log_tail(&log)
                ),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// The `World` database's URL, for `serve --database` and `pgbench` alike:
    /// `postgres://postgres@%2Ftmp%2Fiomodels-pg-PID-N:5432/hello_world` (a Unix
    /// socket: its directory, percent-encoded, as the host) or
    /// `postgres://postgres@127.0.0.1:PORT/hello_world`. libpq (`pgbench`, `psql`) and
    /// the `postgres`/`tokio-postgres` crates all take this form.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// What `postgres --version` says: `PostgreSQL 15.18 (Debian 15.18-0+deb12u1)`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The cluster's temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), ClusterDir::path)
    }

    /// The postmaster's process id.
    pub fn postmaster_pid(&self) -> u32 {
        self.postmaster.as_ref().map_or(0, Child::id)
    }

    /// The postmaster and its children now (a backend per connection, and the
    /// checkpointer, writers, autovacuum): the processes whose CPU is PostgreSQL's.
    pub fn postgres_pids(&self) -> Vec<u32> {
        let pid = self.postmaster_pid();
        let mut pids = vec![pid];
        pids.extend(postmaster::children(pid));
        pids
    }

    /// `DIR/postgres.log`, the server's output.
    pub fn log(&self) -> PathBuf {
        self.dir
            .as_ref()
            .map_or_else(PathBuf::new, |d| d.log("postgres"))
    }

    /// Stops the server and its backends and removes the directory; says what could
    /// not be done.
    pub fn stop(mut self) -> Result<()> {
        let ended = self.shut_down();
        if let Some(dir) = self.dir.take() {
            dir.remove()?;
        }
        if !ended {
            bail!("PostgreSQL processes still run after SIGKILL");
        }
        Ok(())
    }

    /// Stops the server (SIGINT, SIGQUIT, SIGKILL) and reaps it; whether every process
    /// of it ended.
    fn shut_down(&mut self) -> bool {
        let Some(mut child) = self.postmaster.take() else {
            return true;
        };
        let backends = postmaster::children(child.id());
        postmaster::shut_down(child.id(), &backends, || {
            child.try_wait().map_or(true, |status| status.is_some())
        })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shut_down();
        // The directory goes when `self.dir` drops, after this.
    }
}

/// A cluster started by [`Cluster::start_detached`], which outlives the process that
/// started it: what `iomodels db start` records for `db stop` and `db status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Detached {
    /// The cluster's temporary directory.
    pub dir: PathBuf,
    /// The postmaster's process id.
    pub pid: u32,
    /// As [`Cluster::url`].
    pub url: String,
    pub settings: Settings,
    /// As [`Cluster::version`].
    pub version: String,
}

impl Detached {
    /// Is its postmaster still running (the process its directory names, alive)?
    pub fn is_running(&self) -> bool {
        postmaster::of_data_dir(&self.dir.join("data")) == Some(self.pid)
    }

    /// Stops the server if it still runs, then removes the directory.
    pub fn stop(&self) -> Result<()> {
        let name = self.dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.starts_with(dir::PREFIX) {
            bail!("{} is not a cluster's directory", self.dir.display());
        }
        if self.is_running() {
            let backends = postmaster::children(self.pid);
            let ended =
                postmaster::shut_down(self.pid, &backends, || !postmaster::is_alive(self.pid));
            if !ended {
                bail!("PostgreSQL (pid {}) still runs after SIGKILL", self.pid);
            }
        }
        Ok(dir::remove(&self.dir)?)
    }
}

/// Where clients find a cluster.
struct Place {
    /// The host part of a URL: the socket's directory, percent-encoded, or `127.0.0.1`.
    host: String,
    port: u16,
}

impl Place {
    fn new(dir: &Path, listen: Listen, port: u16) -> Place {
        let host = match listen {
            Listen::UnixSocket => percent_encode(&dir.to_string_lossy()),
            Listen::Loopback => Ipv4Addr::LOCALHOST.to_string(),
        };
        Place { host, port }
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@{}:{}/{database}", self.host, self.port)
    }
}

/// Percent-encodes everything but letters, digits and `-._~` (a URL's unreserved
/// characters), as a path in a URL's host must be.
fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A loopback port nothing listens on now (the kernel's pick for port 0).
fn free_loopback_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_directory_is_a_percent_encoded_host() {
        let place = Place::new(Path::new("/tmp/iomodels-pg-12-0"), Listen::UnixSocket, 5432);
        assert_eq!(
            place.url("hello_world"),
            "postgres://postgres@%2Ftmp%2Fiomodels-pg-12-0:5432/hello_world"
        );
        let config: postgres::Config = place.url("hello_world").parse().unwrap();
        assert_eq!(
            config.get_hosts(),
            [postgres::config::Host::Unix("/tmp/iomodels-pg-12-0".into())]
        );
        assert_eq!(config.get_ports(), [5432]);
        assert_eq!(config.get_dbname(), Some("hello_world"));
    }

    #[test]
    fn the_settings_say_every_parameter() {
        let settings = Settings::default();
        assert_eq!(
            settings.to_string(),
            "max_connections=200 shared_buffers=128MB fsync=off synchronous_commit=off \
             listen_addresses=''"
        );
        let tcp = Settings {
            listen: Listen::Loopback,
            ..settings
        };
        assert!(tcp.to_string().ends_with("listen_addresses=127.0.0.1"));
    }
}
