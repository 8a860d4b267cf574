//! One process on a host: its pid there, its output as lines, signals, its end; and
//! [`run_to_end`], a command run to its end for its output.
//!
//! On this machine it is a child process. On another it runs under [`WRAPPER`], a
//! shell over ssh that starts it in a session of its own (setsid), says its pid,
//! passes on the signals it is sent (one name a line on the session's input), and
//! when that input ends (the run is over, or was killed, and its ssh with it) sends
//! SIGTERM and then SIGKILL to the process's whole group. When the process exits, the
//! wrapper names the processes of its group still alive, kills them, and exits with
//! the process's status.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::fault::{classify, last_line, Fault};

/// The remote side of a process on another host: `sh -c WRAPPER iomodels-run CMD...`.
pub const WRAPPER: &str = r#"exec 3<&0 </dev/null
setsid "$@" 3<&- &
pid=$!
echo "iomodels-pid $pid"
{ while read -r sig <&3; do kill -s "$sig" "$pid"; done
  kill -s TERM -- "-$pid"; sleep 2; kill -s KILL -- "-$pid"; } >/dev/null 2>&1 &
exec 3<&-
wait "$pid"
status=$?
left=$(ps -e -o pid= -o pgid= 2>/dev/null | awk -v g="$pid" '$2 == g { printf " %s", $1 }')
if [ -n "$left" ]; then echo "iomodels-left-behind$left" >&2; kill -s KILL -- "-$pid" 2>/dev/null; fi
exit "$status""#;

/// The line [`WRAPPER`] starts with on stdout.
const PID_LINE: &str = "iomodels-pid ";
/// The line [`WRAPPER`] ends with on stderr when the process left others behind.
const LEFT_BEHIND_LINE: &str = "iomodels-left-behind ";

/// A process running on a host.
pub struct HostProcess {
    /// The process itself, or its ssh session.
    child: Child,
    /// Its pid on its host.
    pid: u32,
    /// The ssh session's input: signals go there, and its end ends the process.
    control: Option<ChildStdin>,
    /// Lines read from stdout before the caller asked (the wrapper's pid line came
    /// between them).
    early: VecDeque<String>,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    /// Every stderr line so far.
    said: Vec<String>,
    /// The pids the wrapper said were left behind.
    left: Vec<u32>,
}

impl HostProcess {
    /// Starts `cmd` here.
    pub fn local(mut cmd: Command) -> std::io::Result<HostProcess> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        Ok(HostProcess {
            pid: child.id(),
            stdout: collect_lines(child.stdout.take().expect("piped stdout")),
            stderr: collect_lines(child.stderr.take().expect("piped stderr")),
            child,
            control: None,
            early: VecDeque::new(),
            said: Vec::new(),
            left: Vec::new(),
        })
    }

    /// Starts `ssh` running [`WRAPPER`] (the command given to ssh ends with it) and
    /// waits for the remote pid; `bin` names the remote command in errors.
    pub fn remote(mut ssh: Command, bin: &str, wait: Duration) -> Result<HostProcess, Fault> {
        let mut child = ssh
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| Fault::Failed(format!("cannot run ssh: {err}")))?;
        let mut process = HostProcess {
            pid: 0,
            control: child.stdin.take(),
            stdout: collect_lines(child.stdout.take().expect("piped stdout")),
            stderr: collect_lines(child.stderr.take().expect("piped stderr")),
            child,
            early: VecDeque::new(),
            said: Vec::new(),
            left: Vec::new(),
        };
        let deadline = Instant::now() + wait;
        while let Ok(line) = process.stdout.recv_timeout(until(deadline)) {
            match line.strip_prefix(PID_LINE).map(str::parse) {
                Some(Ok(pid)) => {
                    process.pid = pid;
                    return Ok(process);
                }
                _ => process.early.push_back(line),
            }
        }
        let status = process.wait_for(Duration::from_secs(2));
        let stderr = process.new_lines().join("\n");
        Err(classify(status.and_then(|s| s.code()), &stderr, bin)
            .unwrap_or_else(|| Fault::Failed(format!("{bin} started and said no pid"))))
    }

    /// Its pid on its host.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The next line it prints on stdout, waiting at most `wait`.
    pub fn stdout_line(&mut self, wait: Duration) -> Option<String> {
        self.early
            .pop_front()
            .or_else(|| self.stdout.recv_timeout(wait).ok())
    }

    /// Everything else it prints on stdout until the stream ends (it exited), waiting
    /// at most `wait` in all.
    pub fn rest_of_stdout(&mut self, wait: Duration) -> String {
        let deadline = Instant::now() + wait;
        let mut lines: Vec<String> = self.early.drain(..).collect();
        while let Ok(line) = self.stdout.recv_timeout(until(deadline)) {
            lines.push(line);
        }
        lines.join("\n")
    }

    /// The lines it printed on stderr since the last call.
    pub fn new_lines(&mut self) -> Vec<String> {
        let lines: Vec<String> = self.stderr.try_iter().collect();
        self.sort_lines(lines)
    }

    /// Keeps the wrapper's left-behind line apart from what the process said; returns
    /// the latter.
    fn sort_lines(&mut self, lines: Vec<String>) -> Vec<String> {
        let mut new = Vec::new();
        for line in lines {
            match line.strip_prefix(LEFT_BEHIND_LINE) {
                Some(pids) => self.left.extend(
                    pids.split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok()),
                ),
                None => new.push(line),
            }
        }
        self.said.extend(new.iter().cloned());
        new
    }

    /// Every line it printed on stderr so far.
    pub fn said(&mut self) -> &[String] {
        self.new_lines();
        &self.said
    }

    /// Sends it `signal` (over ssh: asks the wrapper to).
    pub fn signal(&mut self, signal: Signal) {
        match &mut self.control {
            Some(control) => {
                let name = signal.as_str().trim_start_matches("SIG");
                let _ = writeln!(control, "{name}").and_then(|()| control.flush());
            }
            None => {
                let _ = kill(Pid::from_raw(self.pid as i32), signal);
            }
        }
    }

    /// `None` while it runs; its status once it exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits at most `wait` for it to exit.
    pub fn wait_for(&mut self, wait: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kills it (over ssh: its whole group, by ending the wrapper's input) and waits.
    pub fn kill(&mut self) {
        match self.control.take() {
            Some(control) => {
                drop(control);
                if self.wait_for(Duration::from_secs(5)).is_none() {
                    let _ = self.child.kill();
                }
            }
            None => {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }

    /// The processes of its group the wrapper found alive after it exited (and
    /// killed), once its stderr has ended (at most a second); always empty here, where
    /// the caller looks for itself.
    pub fn left_behind(&mut self) -> Vec<u32> {
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut lines = Vec::new();
        while let Ok(line) = self.stderr.recv_timeout(until(deadline)) {
            lines.push(line);
        }
        self.sort_lines(lines);
        self.left.clone()
    }

    /// Whether it runs on another host.
    pub fn is_remote(&self) -> bool {
        self.control.is_some()
    }

    /// Why it failed, in one line: the last line it printed on stderr.
    pub fn last_words(&mut self) -> String {
        last_line(&self.said().join("\n"))
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        if self.try_wait().is_none() {
            self.kill();
        }
    }
}

/// How an exit status reads: the code, or the signal that ended it (a remote shell
/// reports a signal as 128 + its number).
pub fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    let signal_name =
        |n: i32| Signal::try_from(n).map_or_else(|_| format!("signal {n}"), |s| s.to_string());
    match (status.code(), status.signal()) {
        (Some(code), _) if (129..=159).contains(&code) => {
            format!("killed by {}", signal_name(code - 128))
        }
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by {}", signal_name(signal)),
        _ => status.to_string(),
    }
}

/// Runs `cmd` to its end (killed past `limit`), `input` on its stdin (else nothing);
/// its stdout, or the fault its status and stderr show (`bin` names the command run).
pub fn run_to_end(
    mut cmd: Command,
    input: Option<std::fs::File>,
    limit: Duration,
    bin: &str,
) -> Result<String, Fault> {
    let mut child = cmd
        .stdin(input.map_or_else(Stdio::null, Stdio::from))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| Fault::Failed(format!("cannot run {:?}: {err}", cmd.get_program())))?;
    let stdout = collect_lines(child.stdout.take().expect("piped stdout"));
    let stderr = collect_lines(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().ok().flatten() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Fault::Failed(format!(
                "{bin} did not finish within {} s",
                limit.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let read_all = |rx: mpsc::Receiver<String>| {
        let mut lines = Vec::new();
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) {
            lines.push(line);
        }
        lines.join("\n")
    };
    let (out, err) = (read_all(stdout), read_all(stderr));
    match classify(status.code(), &err, bin) {
        None => Ok(out),
        Some(fault) => Err(fault),
    }
}

/// Forwards a stream's lines to a channel, keeping the pipe drained.
pub fn collect_lines(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The time left until `deadline`.
fn until(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wrapper run by a local shell, as sshd would run it.
    fn wrapped(args: &[&str]) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", WRAPPER, "iomodels-run"]).args(args);
        cmd
    }

    /// `sh -c SCRIPT` under the wrapper.
    fn wrapped_sh(script: &str) -> HostProcess {
        HostProcess::remote(wrapped(&["sh", "-c", script]), "sh", Duration::from_secs(5)).unwrap()
    }

    fn alive(pid: u32) -> bool {
        kill(Pid::from_raw(pid as i32), None).is_ok()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z")
    }

    #[test]
    fn the_wrapper_passes_signals_and_says_the_status() {
        let mut p = HostProcess::remote(wrapped(&["sleep", "30"]), "sleep", Duration::from_secs(5))
            .unwrap();
        assert!(p.is_remote() && alive(p.pid()));
        p.signal(Signal::SIGTERM);
        let status = p.wait_for(Duration::from_secs(5)).expect("it stopped");
        assert_eq!(describe(status), "killed by SIGTERM");
        assert!(p.left_behind().is_empty());
    }

    #[test]
    fn the_end_of_its_input_kills_the_whole_group() {
        let script = "sleep 30 & echo child $!; wait";
        let mut p = wrapped_sh(script);
        let line = p
            .stdout_line(Duration::from_secs(5))
            .expect("the child's pid");
        let child: u32 = line.trim_start_matches("child ").parse().unwrap();
        let (leader, started) = (p.pid(), Instant::now());
        assert!(alive(child) && alive(leader));
        p.kill();
        while (alive(child) || alive(leader)) && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(child) && !alive(leader));
    }

    #[test]
    fn a_process_that_leaves_others_behind_is_told() {
        let script = "sleep 30 & exit 3";
        let mut p = wrapped_sh(script);
        let status = p.wait_for(Duration::from_secs(5)).expect("it exited");
        assert_eq!(describe(status), "exit code 3");
        assert_eq!(p.left_behind().len(), 1);
    }

    #[test]
    fn a_missing_command_is_a_missing_binary() {
        let err = HostProcess::remote(
            Command::new("/nonexistent/ssh"),
            "iomodels",
            Duration::from_secs(1),
        )
        .err()
        .unwrap();
        assert!(
            matches!(err, Fault::Failed(ref why) if why.contains("cannot run ssh")),
            "{err}"
        );
    }
}
