//! `iomodels db start|stop|status|run`: a private cluster by hand, for `serve
//! --database`.
//!
//! `db start` leaves the cluster running after it exits, and records it (a [`Detached`],
//! as JSON) in `$XDG_RUNTIME_DIR/iomodels-db.json`, else `/tmp/iomodels-db-<uid>.json`,
//! where `db stop` and `db status` find it. The record is written only as a new file
//! (never through a link planted at its name) and read only if this user owns it.
//! `db run` keeps its cluster in the foreground instead, and stops it on Ctrl-C or
//! SIGTERM; killed, its cluster dies with it.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::unistd::Uid;

use super::args::{DbAction, DbArgs};
use super::cluster::{Cluster, Detached, Settings};
use super::postmaster;
use crate::sys::signal::{Stop, STOP_POLL};

/// Runs `iomodels db ACTION`.
pub fn run(args: &DbArgs) -> Result<()> {
    let record = record_path();
    match &args.action {
        DbAction::Start(cluster) => start(&record, &cluster.settings()),
        DbAction::Stop => stop(&record),
        DbAction::Status => status(&record),
        DbAction::Run(cluster) => foreground(&cluster.settings()),
    }
}

/// Where `db start` records its cluster.
pub fn record_path() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() && dir.is_dir() => dir.join("iomodels-db.json"),
        _ => PathBuf::from(format!("/tmp/iomodels-db-{}.json", Uid::effective())),
    }
}

fn start(record: &Path, settings: &Settings) -> Result<()> {
    if let Some(running) = read_record(record)? {
        if running.is_running() {
            eprintln!(
                "already running: {}; `iomodels db stop` stops it",
                summary(&running)
            );
            println!("{}", running.url);
            return Ok(());
        }
        // Gone (killed, or the machine restarted): what it left goes with its record.
        let _ = running.stop();
        remove_record(record)?;
    }
    let cluster = Cluster::start_detached(settings)?;
    if let Err(err) = write_record(record, &cluster) {
        let _ = cluster.stop();
        return Err(err);
    }
    eprintln!("started {}; `iomodels db stop` stops it", summary(&cluster));
    println!("{}", cluster.url);
    Ok(())
}

fn stop(record: &Path) -> Result<()> {
    let Some(running) = read_record(record)? else {
        eprintln!("no cluster started by `iomodels db start` to stop");
        return Ok(());
    };
    running.stop()?;
    remove_record(record)?;
    eprintln!(
        "stopped pid {} and removed {}",
        running.pid,
        running.dir.display()
    );
    Ok(())
}

fn status(record: &Path) -> Result<()> {
    match read_record(record)? {
        Some(running) if running.is_running() => {
            eprintln!("running: {}", summary(&running));
            println!("{}", running.url);
            Ok(())
        }
        _ => bail!("no cluster started by `iomodels db start` is running"),
    }
}

/// `PostgreSQL 15.18 (...) in DIR (pid N; max_connections=200 ...)`.
fn summary(cluster: &Detached) -> String {
    format!(
        "{} in {} (pid {}; {})",
        cluster.version,
        cluster.dir.display(),
        cluster.pid,
        cluster.settings
    )
}

/// `db run`: a cluster until Ctrl-C or SIGTERM.
fn foreground(settings: &Settings) -> Result<()> {
    let stop = Stop::on_signals()?;
    let cluster = Cluster::start(settings)?;
    println!("{}", cluster.url());
    io::stdout().flush()?;
    eprintln!(
        "{} in {} (pid {}; {}); Ctrl-C stops it",
        cluster.version(),
        cluster.dir().display(),
        cluster.postmaster_pid(),
        cluster.settings()
    );
    while !stop.is_set() {
        std::thread::sleep(STOP_POLL);
        if !stop.is_set() && !postmaster::is_alive(cluster.postmaster_pid()) {
            let tail = postmaster::log_tail(&cluster.log());
            cluster.stop()?;
            bail!("postgres ended by itself: {tail}");
        }
    }
    cluster.stop()
}

/// The recorded cluster, if there is a record; one this user does not own is refused.
fn read_record(path: &Path) -> Result<Option<Detached>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path);
    let mut file = match file {
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        other => other.with_context(|| format!("{}", path.display()))?,
    };
    if file.metadata()?.uid() != Uid::effective().as_raw() {
        bail!("{} belongs to another user: not read", path.display());
    }
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    let detached = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a record of `iomodels db start`", path.display()))?;
    Ok(Some(detached))
}

fn write_record(path: &Path, cluster: &Detached) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("recording the cluster in {}", path.display()))?;
    serde_json::to_writer_pretty(&mut file, cluster)?;
    file.write_all(b"\n")?;
    Ok(())
}

fn remove_record(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("{}", path.display()))
        }
        _ => Ok(()),
    }
}
