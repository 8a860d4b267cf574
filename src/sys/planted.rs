//! For tests: symlinks planted where a predictable temporary path once was, pointing
//! at a file that must stay untouched, as another local user would plant them to make
//! a process run by root overwrite a file of root's. The links and the file are removed
//! when this is dropped, also when a test fails.

use std::path::PathBuf;

/// What the planted file holds, and must still hold.
const CONTENT: &str = "keep me";

/// Symlinks to a file in a private directory.
#[derive(Debug)]
pub struct Planted {
    dir: PathBuf,
    links: Vec<PathBuf>,
}

impl Planted {
    /// Symlinks at those of `paths` that are free.
    pub fn at(paths: impl IntoIterator<Item = PathBuf>) -> Planted {
        let template = std::env::temp_dir().join("iomodels-victim.XXXXXX");
        let dir = nix::unistd::mkdtemp(&template).expect("a private directory");
        let victim = dir.join("victim");
        std::fs::write(&victim, CONTENT).expect("the file to keep");
        let links = paths
            .into_iter()
            .filter(|link| std::os::unix::fs::symlink(&victim, link).is_ok())
            .collect();
        Planted { dir, links }
    }

    /// Fails unless every link is still there (the path was not used) and the file
    /// they point to holds what it held.
    pub fn assert_untouched(&self) {
        assert!(!self.links.is_empty(), "no link could be planted");
        for link in &self.links {
            let kept = std::fs::symlink_metadata(link).is_ok_and(|m| m.is_symlink());
            assert!(
                kept,
                "{} was removed: the old path was used",
                link.display()
            );
        }
        let left = std::fs::read_to_string(self.dir.join("victim")).unwrap_or_default();
        assert_eq!(left, CONTENT, "the file the links point to was changed");
    }
}

impl Drop for Planted {
    fn drop(&mut self) {
        for link in &self.links {
            let _ = std::fs::remove_file(link);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
