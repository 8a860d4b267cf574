//! The PostgreSQL installation this machine has: where `initdb`, `postgres` and
//! `pgbench` are, which version they are, and which user runs the server.
//!
//! The programs are looked for on `PATH`, then in Debian's `/usr/lib/postgresql/*/bin`
//! (newest version first), where the `postgresql` package puts them off the `PATH`.
//! [`BIN_ENV`] replaces both with a list of directories of its own. Missing, they are
//! one line naming the package to install ([`NotInstalled`]).

use std::env;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::unistd::{Gid, Uid, User};

/// An environment variable holding the directories (`:`-separated) to look for
/// PostgreSQL's programs in, instead of `PATH` and `/usr/lib/postgresql/*/bin`.
pub const BIN_ENV: &str = "IOMODELS_PG_BIN";

/// Where Debian and Ubuntu install each major version's programs: `ROOT/15/bin`.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// PostgreSQL's programs are not on this machine.
#[derive(Debug, thiserror::Error)]
#[error(
    "PostgreSQL not found (initdb, postgres, pgbench): install the 'postgresql' package \
     (Debian/Ubuntu: apt-get install postgresql)"
)]
pub struct NotInstalled;

/// The programs of one PostgreSQL installation.
#[derive(Debug, Clone)]
pub struct Install {
    /// The directory holding `initdb` and `postgres` (symbolic links resolved: `initdb`
    /// runs the `postgres` beside its real self).
    pub bin: PathBuf,
    /// `pgbench`: beside them if there, else the first on the search path.
    pub pgbench: PathBuf,
}

impl Install {
    /// Finds `initdb` and `postgres` in one directory, and `pgbench`.
    pub fn find() -> Result<Install, NotInstalled> {
        let dirs = search_dirs();
        let bin = dirs
            .iter()
            .filter_map(|dir| executable(&dir.join("initdb")))
            .filter_map(|initdb| initdb.canonicalize().ok()?.parent().map(Path::to_path_buf))
            .find(|dir| executable(&dir.join("postgres")).is_some())
            .ok_or(NotInstalled)?;
        let pgbench = executable(&bin.join("pgbench"))
            .or_else(|| find_pgbench_in(&dirs))
            .ok_or(NotInstalled)?;
        Ok(Install { bin, pgbench })
    }

    pub fn initdb(&self) -> PathBuf {
        self.bin.join("initdb")
    }

    pub fn postgres(&self) -> PathBuf {
        self.bin.join("postgres")
    }

    /// What `postgres --version` says: `PostgreSQL 15.18 (Debian 15.18-0+deb12u1)`.
    pub fn version(&self) -> io::Result<String> {
        let out = Command::new(self.postgres()).arg("--version").output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text.trim().trim_start_matches("postgres (PostgreSQL) ");
        if !out.status.success() || version.is_empty() {
            return Err(io::Error::other(format!(
                "{} --version failed ({})",
                self.postgres().display(),
                out.status
            )));
        }
        Ok(format!("PostgreSQL {version}"))
    }
}

/// `pgbench` alone, for a run against a server elsewhere: the one of the installation
/// if there is one, else the first on the search path.
pub fn find_pgbench() -> Result<PathBuf, NotInstalled> {
    match Install::find() {
        Ok(install) => Ok(install.pgbench),
        Err(NotInstalled) => find_pgbench_in(&search_dirs()).ok_or(NotInstalled),
    }
}

fn find_pgbench_in(dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter().find_map(|dir| executable(&dir.join("pgbench")))
}

/// The directories to search, in order: [`BIN_ENV`]'s if set, else `PATH`'s, then
/// Debian's per-version directories, newest first.
fn search_dirs() -> Vec<PathBuf> {
    if let Some(list) = env::var_os(BIN_ENV) {
        return env::split_paths(&list).collect();
    }
    let path = env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = env::split_paths(&path).collect();
    dirs.extend(versioned_dirs(Path::new(DEBIAN_ROOT)));
    dirs
}

/// `ROOT/VERSION/bin` for each version directory under `root`, newest first.
fn versioned_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let names = entries.filter_map(|entry| entry.ok()?.file_name().into_string().ok());
    newest_first(names)
        .into_iter()
        .map(|name| root.join(name).join("bin"))
        .collect()
}

/// The names that are versions (`15`, `9.6`), newest first; the others left out.
fn newest_first(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut versions: Vec<(Vec<u32>, String)> = names
        .filter_map(|name| {
            let version = name
                .split('.')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            Some((version, name))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, name)| name).collect()
}

/// `path` if it is a file someone may execute.
fn executable(path: &Path) -> Option<PathBuf> {
    let meta = std::fs::metadata(path).ok()?;
    (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then(|| path.to_path_buf())
}

/// Who runs the server: PostgreSQL refuses to run as root, so a root process runs it as
/// the `postgres` user (which Debian's package creates), else as `nobody`; any other
/// user runs it as itself (`None`).
pub fn server_user() -> io::Result<Option<(Uid, Gid)>> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Some(user) = User::from_name(name)? {
            return Ok(Some((user.uid, user.gid)));
        }
    }
    Err(io::Error::other(
        "PostgreSQL refuses to run as root, and there is neither a 'postgres' nor a \
         'nobody' user to run it as",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_newest_first() {
        let names = ["9.6", "15", "13", "notes", "16.1"].map(String::from);
        assert_eq!(newest_first(names.into_iter()), ["16.1", "15", "13", "9.6"]);
    }

    #[test]
    fn this_machines_installation_is_whole_if_there() {
        let Ok(install) = Install::find() else { return };
        assert!(install.initdb().is_file() && install.postgres().is_file());
        assert!(install.version().unwrap().starts_with("PostgreSQL "));
    }
}
