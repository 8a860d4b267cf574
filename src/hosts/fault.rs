//! What went wrong on the way to a host, in one line that says where and what: ssh
//! exits with 255 when it fails itself (its stderr says why), and with the remote
//! command's status otherwise (127: no such command there).

use std::fmt;

/// A fault on the way to a host, or of the `iomodels` found there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host}: {fault}")]
pub struct HostError {
    /// The host as given (`ssh://...`).
    pub host: String,
    pub fault: Fault,
}

/// The kinds of fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// No connection: no route, refused, timed out, or a name that does not resolve.
    Unreachable(String),
    /// Connected, but ssh refused: authentication, the host key.
    Refused(String),
    /// The remote `iomodels` is not there (or not executable).
    Missing(String),
    /// The remote `iomodels` is another version, or another build of this one (what
    /// `--version` or `iomodels build-id` printed there, and here).
    OtherVersion { found: String, ours: String },
    /// Anything else ssh or the remote command said.
    Failed(String),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Unreachable(why) => write!(f, "unreachable ({why})"),
            Fault::Refused(why) => write!(f, "ssh refused ({why})"),
            Fault::Missing(bin) => write!(
                f,
                "no iomodels there ({bin} not found; give --remote-bin PATH, or --ship to copy this one)"
            ),
            Fault::OtherVersion { found, ours } => write!(
                f,
                "its iomodels is '{found}', this one '{ours}' (--ship copies this one over)"
            ),
            Fault::Failed(why) => write!(f, "{why}"),
        }
    }
}

/// ssh's own exit code for its own failures.
pub const SSH_FAILED: i32 = 255;
/// The shell's exit code for a command not found.
pub const NOT_FOUND: i32 = 127;
/// The shell's exit code for a command found but not executable.
pub const NOT_EXECUTABLE: i32 = 126;

/// The fault an ssh command that exited with `code` and printed `stderr` shows, if it
/// failed; `bin` is the remote command it ran.
pub fn classify(code: Option<i32>, stderr: &str, bin: &str) -> Option<Fault> {
    match code {
        Some(0) => None,
        Some(SSH_FAILED) => Some(ssh_fault(stderr)),
        Some(NOT_FOUND | NOT_EXECUTABLE) => Some(Fault::Missing(bin.to_string())),
        Some(code) => Some(Fault::Failed(format!(
            "exit code {code}: {}",
            last_line(stderr)
        ))),
        None => Some(Fault::Failed("ssh was killed by a signal".into())),
    }
}

/// What ssh's stderr says about its own failure.
fn ssh_fault(stderr: &str) -> Fault {
    const UNREACHABLE: [&str; 7] = [
        "Connection refused",
        "Connection timed out",
        "Operation timed out",
        "No route to host",
        "Network is unreachable",
        "Could not resolve hostname",
        "Connection closed by",
    ];
    const REFUSED: [&str; 4] = [
        "Permission denied",
        "Host key verification failed",
        "Too many authentication failures",
        "no matching host key type",
    ];
    let find = |patterns: &[&str]| {
        stderr
            .lines()
            .find(|line| patterns.iter().any(|p| line.contains(p)))
            .map(|line| strip_ssh_prefix(line).to_string())
    };
    if let Some(line) = find(&REFUSED) {
        return Fault::Refused(line);
    }
    if let Some(line) = find(&UNREACHABLE) {
        return Fault::Unreachable(line);
    }
    Fault::Failed(format!("ssh failed: {}", last_line(stderr)))
}

/// `ssh: connect to host h port 22: Connection refused` -> the part after `ssh: `.
fn strip_ssh_prefix(line: &str) -> &str {
    line.trim().trim_start_matches("ssh: ")
}

/// The last non-empty line, or a placeholder.
pub fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no message")
        .trim_start_matches("iomodels: ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_failures_say_what_kind() {
        let refused = "ssh: connect to host 198.18.0.9 port 2222: Connection refused\n";
        assert_eq!(
            classify(Some(255), refused, "iomodels"),
            Some(Fault::Unreachable(
                "connect to host 198.18.0.9 port 2222: Connection refused".into()
            ))
        );
        let denied = "Warning: Permanently added '[x]:2222' (ED25519) to the list of known hosts.\r\nroot@198.18.0.2: Permission denied (publickey).\r\n";
        assert!(matches!(
            classify(Some(255), denied, "iomodels"),
            Some(Fault::Refused(line)) if line.contains("Permission denied")
        ));
        assert!(matches!(
            classify(Some(255), "kex_exchange_identification: odd\n", "iomodels"),
            Some(Fault::Failed(line)) if line.contains("kex_exchange_identification")
        ));
    }

    #[test]
    fn a_missing_command_and_a_failing_one_differ() {
        let missing = classify(Some(127), "sh: 1: iomodels: not found\n", "iomodels");
        assert_eq!(missing, Some(Fault::Missing("iomodels".into())));
        let failed = classify(Some(2), "iomodels: --pid 9: no such process\n", "iomodels");
        assert_eq!(
            failed,
            Some(Fault::Failed(
                "exit code 2: --pid 9: no such process".into()
            ))
        );
        assert_eq!(classify(Some(0), "", "iomodels"), None);
    }

    #[test]
    fn the_error_names_the_host_in_one_line() {
        let err = HostError {
            host: "ssh://root@198.18.0.2:2222".into(),
            fault: Fault::OtherVersion {
                found: "iomodels 0.0.1".into(),
                ours: "iomodels 0.1.0".into(),
            },
        };
        let text = err.to_string();
        assert!(text.starts_with("ssh://root@198.18.0.2:2222: its iomodels is"));
        assert_eq!(text.lines().count(), 1);
    }
}
