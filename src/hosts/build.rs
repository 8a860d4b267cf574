//! Which build of iomodels this is: its version, and a hash of its executable. Two
//! builds of one version (a change not yet released, a debug and a release build) say
//! the same `--version`; `--ship` and the check of a remote `iomodels` compare the
//! build, which the remote one prints for `iomodels build-id`.

use std::hash::Hasher;
use std::io::{self, Read};
use std::sync::OnceLock;

/// What this executable says to `--version`.
pub fn own_version() -> String {
    format!("iomodels {}", env!("CARGO_PKG_VERSION"))
}

/// What this executable says to `iomodels build-id`: its version and the hash of its
/// executable, `iomodels 0.1.0 build 0123456789abcdef`.
pub fn own_build() -> io::Result<String> {
    static HASH: OnceLock<u64> = OnceLock::new();
    let hash = match HASH.get() {
        Some(hash) => *hash,
        None => {
            let hash = hash_of(own_executable()?)?;
            *HASH.get_or_init(|| hash)
        }
    };
    Ok(format!("{} build {hash:016x}", own_version()))
}

/// This process's executable, as it was started: `/proc/self/exe` opens it even when
/// the file has since been replaced (by a rebuild) or removed.
pub fn own_executable() -> io::Result<std::fs::File> {
    std::fs::File::open("/proc/self/exe")
}

/// The hash of everything `file` holds, by std's `DefaultHasher` with its fixed keys:
/// the same bytes give the same hash in every process of one build, and two builds
/// that differ give different hashes but for a chance of one in 2^64 (std's algorithm
/// may change between Rust releases, but a build made with another release is another
/// build too).
fn hash_of(mut file: impl Read) -> io::Result<u64> {
    let mut hasher = std::hash::DefaultHasher::new();
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return Ok(hasher.finish()),
            Ok(n) => hasher.write(&chunk[..n]),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_more_is_another_build() {
        let exe = std::fs::read("/proc/self/exe").unwrap();
        let ours = hash_of(&exe[..]).unwrap();
        assert_eq!(hash_of(own_executable().unwrap()).unwrap(), ours);
        let mut other = exe.clone();
        other.push(0);
        assert_ne!(hash_of(&other[..]).unwrap(), ours);
        let build = own_build().unwrap();
        assert_eq!(build, format!("{} build {ours:016x}", own_version()));
    }
}
