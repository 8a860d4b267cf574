//! A cluster's temporary directory, `/tmp/iomodels-pg-<pid>-<n>` (`<pid>` the process
//! that made it): the data directory `data/`, the server's Unix socket and lock file,
//! and the logs of `initdb` and `postgres`. Always under `/tmp`, whatever `TMPDIR` says:
//! the server user must reach it, and a Unix socket's path is limited to 107 bytes.
//!
//! A directory is made with mkdir(2), which fails rather than follow a symbolic link
//! planted at the name, and is removed when its cluster stops. One left behind by a
//! process that was killed is removed by the [`janitor`] of the next cluster started.

use std::fs::DirBuilder;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::unistd::{Gid, Uid};

use super::postmaster;

/// Where clusters' directories are made.
const ROOT: &str = "/tmp";

/// The start of every cluster directory's name.
pub const PREFIX: &str = "iomodels-pg-";

/// A cluster's directory, removed when dropped unless [`kept`](ClusterDir::keep).
#[derive(Debug)]
pub struct ClusterDir {
    path: PathBuf,
    remove_on_drop: bool,
}

impl ClusterDir {
    /// Makes a fresh directory (mode 0711: the server user owns it, others may reach the
    /// socket in it but not list it), owned by `owner` if given.
    pub fn create(owner: Option<(Uid, Gid)>) -> io::Result<ClusterDir> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let pid = std::process::id();
        let path = loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = Path::new(ROOT).join(format!("{PREFIX}{pid}-{n}"));
            match DirBuilder::new().mode(0o711).create(&path) {
                Ok(()) => break path,
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(err) => return Err(annotate(err, &path)),
            }
        };
        let dir = ClusterDir {
            path,
            remove_on_drop: true,
        };
        if let Some((uid, gid)) = owner {
            nix::unistd::chown(&dir.path, Some(uid), Some(gid))
                .map_err(|err| annotate(err.into(), &dir.path))?;
        }
        Ok(dir)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The data directory `initdb` makes (`postgres -D`).
    pub fn data(&self) -> PathBuf {
        self.path.join("data")
    }

    /// Where `name`'s output goes (`initdb`, `postgres`): `DIR/NAME.log`.
    pub fn log(&self, name: &str) -> PathBuf {
        self.path.join(format!("{name}.log"))
    }

    /// Leaves the directory in place when dropped (a detached cluster's); its path.
    pub fn keep(mut self) -> PathBuf {
        self.remove_on_drop = false;
        std::mem::take(&mut self.path)
    }

    /// Removes the directory now, saying why it could not.
    pub fn remove(mut self) -> io::Result<()> {
        self.remove_on_drop = false;
        remove(&self.path)
    }
}

impl Drop for ClusterDir {
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = remove(&self.path);
        }
    }
}

/// Removes a cluster directory and everything in it (a symbolic link at `path` is
/// removed, never followed).
pub fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(annotate(err, path)),
        _ => Ok(()),
    }
}

fn annotate(err: io::Error, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

/// Removes the cluster directories that nobody uses any more: the process named in the
/// directory's name is gone, no postmaster runs in it (a detached cluster outlives the
/// `db start` that made it), and it belongs to this user or to `server_user` (nobody
/// else's is touched). Kills nothing. Returns the directories removed.
pub fn janitor(server_user: Option<Uid>) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(ROOT) else {
        return Vec::new();
    };
    let owners = [Some(Uid::effective()), server_user];
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(maker) = entry.file_name().to_str().and_then(maker_pid) else {
            continue;
        };
        let ours = std::fs::symlink_metadata(&path)
            .is_ok_and(|m| m.is_dir() && owners.contains(&Some(Uid::from_raw(m.uid()))));
        let in_use =
            postmaster::is_alive(maker) || postmaster::of_data_dir(&path.join("data")).is_some();
        if ours && !in_use && remove(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

/// The pid in a cluster directory's name, `iomodels-pg-<pid>-<n>`.
fn maker_pid(name: &str) -> Option<u32> {
    let (pid, n) = name.strip_prefix(PREFIX)?.split_once('-')?;
    n.parse::<u32>().ok()?;
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_maker_is_read_from_the_name_alone() {
        assert_eq!(maker_pid("iomodels-pg-1234-0"), Some(1234));
        assert_eq!(maker_pid("iomodels-pg-1234-17"), Some(1234));
        assert_eq!(maker_pid("iomodels-pg-1234"), None);
        assert_eq!(maker_pid("iomodels-pg-x-1"), None);
        assert_eq!(maker_pid("iomodels-pg-12-1-2"), None);
        assert_eq!(maker_pid("iomodels-db.json"), None);
    }

    #[test]
    fn a_made_directory_is_fresh_and_removed_on_drop() {
        let dir = ClusterDir::create(None).unwrap();
        let path = dir.path().to_path_buf();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(maker_pid(name), Some(std::process::id()));
        let other = ClusterDir::create(None).unwrap();
        assert_ne!(other.path(), dir.path());
        drop(dir);
        assert!(!path.exists());
        other.remove().unwrap();
    }
}
