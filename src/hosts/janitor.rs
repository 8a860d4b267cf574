//! [`Janitor`]: a temporary directory that outlives nothing. A small shell makes it
//! (`mktemp -d`: a name nobody can guess, created exclusively, mode 0700), says its
//! path, then waits for the end of its input and removes it. Its input is a pipe that
//! only this process holds, so the end comes when this process drops the janitor or
//! exits, however it exits: a `compare` killed with SIGKILL leaves no directory
//! behind either. The shell runs here (the ssh control sockets) or, through ssh, on
//! another host (the executable `--ship` copies there).

use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::fault::{classify, Fault};
use super::process::collect_lines;

/// The shell: `sh -c SCRIPT iomodels-janitor NAME` makes `iomodels-NAME.XXXXXX` in its
/// host's temporary directory ($TMPDIR, else /tmp). It ignores the terminal's signals
/// (a Ctrl-C for `compare` must not remove the directory under it), and only the end of
/// its input ends it.
pub const SCRIPT: &str = r#"trap '' HUP INT TERM
dir=$(mktemp -d "${TMPDIR:-/tmp}/iomodels-$1.XXXXXX") || exit 1
echo "$dir"
cat >/dev/null
rm -rf -- "$dir""#;

/// How long the directory's removal may take once asked for.
const REMOVAL: Duration = Duration::from_secs(5);

/// A temporary directory, removed when this is dropped or this process exits.
#[derive(Debug)]
pub struct Janitor {
    dir: String,
    child: Child,
    /// The shell's input: dropping it ends the shell, which removes the directory.
    input: Option<ChildStdin>,
}

impl Janitor {
    /// The command line that starts the shell: its words, to run here or through ssh,
    /// making the directory `iomodels-NAME.XXXXXX`.
    pub fn words(name: &str) -> Vec<String> {
        ["sh", "-c", SCRIPT, "iomodels-janitor", name]
            .map(String::from)
            .to_vec()
    }

    /// Starts `cmd` (that runs [`Janitor::words`]) and waits at most `wait` for the
    /// directory it made.
    pub fn start(mut cmd: Command, wait: Duration) -> Result<Janitor, Fault> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| Fault::Failed(format!("cannot run {:?}: {err}", cmd.get_program())))?;
        let input = child.stdin.take();
        let stdout = collect_lines(child.stdout.take().expect("piped stdout"));
        let stderr = collect_lines(child.stderr.take().expect("piped stderr"));
        match stdout.recv_timeout(wait) {
            Ok(dir) if dir.starts_with('/') => Ok(Janitor { dir, child, input }),
            _ => {
                drop(input);
                Err(failure(child, &stderr))
            }
        }
    }

    /// The directory's path.
    pub fn dir(&self) -> &str {
        &self.dir
    }
}

/// Why a shell that said no directory failed.
fn failure(mut child: Child, stderr: &mpsc::Receiver<String>) -> Fault {
    let status = wait_at_most(&mut child, REMOVAL);
    let said: Vec<String> = stderr.try_iter().collect();
    classify(status.and_then(|s| s.code()), &said.join("\n"), "mktemp")
        .unwrap_or_else(|| Fault::Failed("mktemp made no directory".into()))
}

/// Waits at most `wait` for `child`; kills it past that.
fn wait_at_most(child: &mut Child, wait: Duration) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

impl Drop for Janitor {
    fn drop(&mut self) {
        drop(self.input.take());
        wait_at_most(&mut self.child, REMOVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here() -> Command {
        let words = Janitor::words("janitor-test");
        let mut cmd = Command::new(&words[0]);
        cmd.args(&words[1..]);
        cmd
    }

    #[test]
    fn the_directory_is_private_and_gone_when_dropped() {
        use std::os::unix::fs::PermissionsExt;
        let janitor = Janitor::start(here(), Duration::from_secs(5)).unwrap();
        let dir = std::path::PathBuf::from(janitor.dir());
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{}", dir.display());
        std::fs::write(dir.join("inside"), "x").unwrap();
        drop(janitor);
        assert!(!dir.exists(), "{} is left", dir.display());
    }

    #[test]
    fn the_directory_goes_when_the_holder_of_its_input_is_killed() {
        // `sleep` stands for compare: it holds the only write end of the shell's input
        // and is killed outright.
        let mut holder = Command::new("sleep")
            .arg("30")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let words = Janitor::words("janitor-test");
        let mut shell = Command::new(&words[0])
            .args(&words[1..])
            .stdin(holder.stdout.take().unwrap())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let dir = collect_lines(shell.stdout.take().unwrap())
            .recv_timeout(Duration::from_secs(5))
            .unwrap();
        let made = std::path::Path::new(&dir).is_dir();
        holder.kill().unwrap();
        holder.wait().unwrap();
        let ended = wait_at_most(&mut shell, Duration::from_secs(5));
        assert!(made, "{dir} was not made");
        assert!(ended.is_some_and(|s| s.success()), "{ended:?}");
        assert!(!std::path::Path::new(&dir).exists(), "{dir} is left");
    }
}
