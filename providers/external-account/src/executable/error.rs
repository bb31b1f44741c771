//! The errors of `ExecutableSource`: the reference's text where it has one, the program named,
//! and never a token: standard output is never quoted, standard error and a failure response's
//! `code` and `message` only scrubbed (the tokens in the output removed, control characters
//! replaced, the length capped).

use std::io;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use credkit_core::oauth::scrub;
use credkit_core::{BuildError, Error, ErrorKind};
use secrecy::SecretString;

use super::response::Problem;
use super::{ALLOW_EXECUTABLES, MAX_OUTPUT_BYTES};

/// Where a response was read.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Origin<'a> {
    /// The program's standard output.
    Program,
    /// The output file, before the program ran (a cached response) or after it printed nothing.
    OutputFile(&'a Path),
}

/// `GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES` is not `1`: the reference's message.
pub(crate) fn not_allowed() -> Error {
    Error::new(
        ErrorKind::Configuration,
        format!(
            "Executables need to be explicitly allowed (set {ALLOW_EXECUTABLES} to '1') to run."
        ),
    )
}

/// The program could not be started.
pub(crate) fn spawn_failed(program: &str, source: io::Error) -> Error {
    let how = if source.kind() == io::ErrorKind::NotFound {
        "was not found".to_owned()
    } else {
        format!("could not be started ({})", source.kind())
    };
    // A busy executable (being replaced, ETXTBSY) or a passing resource shortage may clear.
    let transient = matches!(
        source.kind(),
        io::ErrorKind::ExecutableFileBusy | io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
    );
    Error::new(
        ErrorKind::Configuration,
        format!("The executable `{}` {how}.", scrub(program, &[])),
    )
    .with_transient(transient)
    .with_source(source)
}

/// The program ran past its timeout and was killed with everything it started.
pub(crate) fn timed_out(program: &str, timeout: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "The executable `{}` did not finish within {timeout:?} and was killed, with every process it started.",
            scrub(program, &[])
        ),
    )
}

/// The program printed more than [`MAX_OUTPUT_BYTES`].
pub(crate) fn too_much_output(program: &str) -> Error {
    Error::new(
        ErrorKind::InvalidResponse,
        format!(
            "The executable `{}` printed more than {MAX_OUTPUT_BYTES} bytes on standard output and was killed: that is not a response.",
            scrub(program, &[])
        ),
    )
}

/// Reading the program's output or waiting for it failed.
pub(crate) fn io_failed(program: &str, source: io::Error) -> Error {
    Error::new(
        ErrorKind::Provider,
        format!(
            "Reading the output of the executable `{}` failed ({}).",
            scrub(program, &[]),
            source.kind()
        ),
    )
    .with_transient(true)
    .with_source(source)
}

/// The runner failed in a way it names itself.
pub(crate) fn run_failed(program: &str, reason: &dyn std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Provider,
        format!("The executable `{}`: {reason}.", scrub(program, &[])),
    )
}

/// The program exited unsuccessfully: the reference's message, then the failure response it
/// printed (if it did) and an excerpt of its standard error, both scrubbed of `secrets`.
pub(crate) fn exited(
    status: ExitStatus,
    failure: Option<&Problem>,
    stderr: &[u8],
    secrets: &[SecretString],
) -> Error {
    let mut message = match status.code() {
        Some(code) => format!("Executable exited with non-zero return code {code}."),
        None => "Executable was terminated by a signal.".to_owned(),
    };
    if let Some(failure @ Problem::Unsuccessful { .. }) = failure {
        message.push(' ');
        message.push_str(&failure.message());
    }
    let secrets: Vec<&SecretString> = secrets.iter().collect();
    let stderr = scrub(String::from_utf8_lossy(stderr).trim(), &secrets);
    if stderr.is_empty() {
        message.push_str(" It printed nothing on standard error.");
    } else {
        message.push_str(" Standard error: ");
        message.push_str(&stderr);
    }
    Error::new(ErrorKind::Provider, message)
}

/// What is wrong with a response read from `origin`.
pub(crate) fn response(problem: &Problem, origin: Origin<'_>) -> Error {
    let kind = match problem {
        Problem::Unsuccessful { .. } => ErrorKind::Provider,
        Problem::Malformed(_) | Problem::Unusable(_) => ErrorKind::InvalidResponse,
    };
    Error::new(kind, located(&problem.message(), origin))
}

/// The response read from `origin` is not JSON.
pub(crate) fn not_json(origin: Origin<'_>, err: &serde_json::Error) -> Error {
    Error::new(
        ErrorKind::InvalidResponse,
        located(
            &format!(
                "The executable response is not JSON (line {}, column {}).",
                err.line(),
                err.column()
            ),
            origin,
        ),
    )
}

/// The program printed nothing, and there is no output file to read instead.
pub(crate) fn no_response(program: &str) -> Error {
    Error::new(
        ErrorKind::InvalidResponse,
        format!(
            "The executable `{}` printed no response on standard output, and the configuration has no output_file.",
            scrub(program, &[])
        ),
    )
}

/// The program printed nothing, and its output file cannot be read.
pub(crate) fn output_file_unreadable(path: &Path, source: io::Error) -> Error {
    Error::new(
        ErrorKind::InvalidResponse,
        format!(
            "The executable printed no response on standard output, and its output file '{}' cannot be read ({}).",
            scrub(&path.display().to_string(), &[]),
            source.kind()
        ),
    )
    .with_source(source)
}

/// The program printed nothing, and its output file is too large to be a response.
pub(crate) fn output_file_too_big(path: &Path) -> Error {
    Error::new(
        ErrorKind::InvalidResponse,
        format!(
            "The executable printed no response on standard output, and its output file '{}' is larger than {MAX_OUTPUT_BYTES} bytes: that is not a response.",
            scrub(&path.display().to_string(), &[])
        ),
    )
}

/// `message`, saying where the response was read when it was not the program's output.
fn located(message: &str, origin: Origin<'_>) -> String {
    match origin {
        Origin::Program => message.to_owned(),
        Origin::OutputFile(path) => format!(
            "{message} (the response in the output file '{}')",
            scrub(&path.display().to_string(), &[])
        ),
    }
}

/// The configured timeout is out of range: the reference's message.
pub(crate) fn timeout_out_of_range() -> BuildError {
    BuildError::invalid_value("Timeout must be between 5 and 120 seconds.")
}

/// No command: the reference's message.
pub(crate) fn missing_command() -> BuildError {
    BuildError::missing_fields("Missing command field. Executable command must be provided.")
}
