//! The errors of `GcloudSource`. Each leads with the reference's "Failed to obtain access token",
//! names the command, and never carries a token: standard output is never quoted, standard error
//! only as a short redacted excerpt.

use std::io;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use credkit_core::{Error, ErrorKind};

use crate::stderr;

/// The reference library's message, kept verbatim at the start of every error.
pub(crate) const FAILED: &str = "Failed to obtain access token";

/// The program could not be found: nothing is configured here, so a chain tries its next source.
pub(crate) fn not_found(program: &Path, source: io::Error) -> Error {
    Error::not_configured(format!(
        "{FAILED}: the gcloud program `{}` was not found; install the Google Cloud SDK \
             (https://cloud.google.com/sdk/docs/install) or set the program path with \
             GcloudSourceBuilder::with_program",
        program.display()
    ))
    .with_source(source)
}

/// The program exists but could not be started.
pub(crate) fn spawn_failed(program: &Path, source: io::Error) -> Error {
    // A busy executable (being replaced, ETXTBSY) or a passing resource shortage may clear.
    let transient = matches!(
        source.kind(),
        io::ErrorKind::ExecutableFileBusy | io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
    );
    Error::new(
        ErrorKind::Configuration,
        format!(
            "{FAILED}: the gcloud program `{}` could not be started ({})",
            program.display(),
            source.kind()
        ),
    )
    .with_transient(transient)
    .with_source(source)
}

/// The command exited unsuccessfully.
pub(crate) fn exited(command: &str, status: ExitStatus, stderr_bytes: &[u8]) -> Error {
    let how = status.code().map_or_else(
        || "was terminated by a signal".to_owned(),
        |code| format!("exited with status {code}"),
    );
    let excerpt = stderr::excerpt(stderr_bytes);
    let message = if excerpt.is_empty() {
        format!("{FAILED}: `{command}` {how} and printed nothing on standard error")
    } else {
        format!("{FAILED}: `{command}` {how}: {excerpt}")
    };
    let transient = stderr::is_transient_failure(&String::from_utf8_lossy(stderr_bytes));
    Error::new(ErrorKind::Provider, message).with_transient(transient)
}

/// The command ran past its timeout and was stopped.
pub(crate) fn timed_out(command: &str, timeout: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!("{FAILED}: `{command}` did not finish within {timeout:?} and was stopped"),
    )
    .with_transient(true)
}

/// The command's output is not what it should be.
pub(crate) fn invalid_output(command: &str, reason: &str) -> Error {
    Error::new(
        ErrorKind::InvalidResponse,
        format!("{FAILED}: `{command}` gave no usable access token: {reason}"),
    )
}

/// Reading the command's output or waiting for it failed.
pub(crate) fn io_failed(command: &str, source: io::Error) -> Error {
    Error::new(
        ErrorKind::Provider,
        format!(
            "{FAILED}: reading the output of `{command}` failed ({})",
            source.kind()
        ),
    )
    .with_transient(true)
    .with_source(source)
}
