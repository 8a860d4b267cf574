//! The errors every layer may raise that the process turns into an exit code: a
//! [`UsageError`] (what the user asked for cannot be done, exit 2) or anything else
//! (a failure while working, exit 1). The bottom layer: it imports nothing of ours.

/// An error caused by what the user asked for (a bad flag, a port in use, a target that
/// refuses every connection) rather than by a failure while working: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A usage error carrying a message, for commands that validate beyond clap.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// The process exit code for an error that ended a command.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    // A model reports a refusal (io_uring unavailable) as an io::Error wrapping one.
    let is_usage = |cause: &(dyn std::error::Error + 'static)| {
        cause.is::<UsageError>()
            || cause
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
                .is_some_and(|inner| inner.is::<UsageError>())
    };
    if err.chain().any(is_usage) {
        2
    } else {
        1
    }
}
