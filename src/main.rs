//! The `iomodels` binary: parse the command line, dispatch, turn an error into an exit code.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let command = match iomodels::cli::parse() {
        Ok(command) => command,
        Err(code) => return code,
    };
    match iomodels::cli::dispatch(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A closed stdout (`iomodels list | head -1`) is not a failure.
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "iomodels: {err}");
            for cause in err.chain().skip(1) {
                let _ = write!(stderr, ": {cause}");
            }
            let _ = writeln!(stderr);
            ExitCode::from(iomodels::error::exit_code(&err))
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
