//! The `db` command line (clap derive), which [`command`](super::command) runs: a
//! private PostgreSQL cluster started and stopped by hand, for `serve --database`.

use clap::{Args, Subcommand};

use super::cluster::{Listen, Settings};

/// `iomodels db`.
#[derive(Debug, Args)]
pub struct DbArgs {
    #[command(subcommand)]
    pub action: DbAction,
}

/// What `iomodels db` does.
#[derive(Debug, Subcommand)]
pub enum DbAction {
    /// Start a private PostgreSQL cluster with TechEmpower's World table that runs until
    /// `db stop`, and print its URL (for `serve --database URL`). A second `db start`
    /// prints the running one's.
    Start(ClusterArgs),
    /// Stop the cluster `db start` started and remove its temporary directory.
    Stop,
    /// Print the URL of the cluster `db start` started; fail if none runs.
    Status,
    /// Start a private cluster in the foreground, print its URL, and stop it and remove
    /// it on Ctrl-C or SIGTERM (or when this process is killed).
    Run(ClusterArgs),
}

/// The settings of a cluster that `db start` or `db run` starts.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Listen on a free port of 127.0.0.1 too, and give its URL (default: a Unix socket
    /// in the cluster's directory only).
    #[arg(long)]
    pub tcp: bool,
    /// The server's max_connections: how many clients may be connected at once.
    #[arg(long, value_name = "N", default_value_t = Settings::default().max_connections,
          value_parser = clap::value_parser!(u32).range(10..=100_000))]
    pub max_connections: u32,
}

impl ClusterArgs {
    /// The cluster's settings: the defaults, with these flags.
    pub fn settings(&self) -> Settings {
        Settings {
            max_connections: self.max_connections,
            listen: if self.tcp {
                Listen::Loopback
            } else {
                Listen::UnixSocket
            },
            ..Settings::default()
        }
    }
}
