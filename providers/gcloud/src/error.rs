//! The errors of `GcloudSource`. Each leads with the reference's "Failed to obtain access token",
//! names the command, and never carries a token: standard output is never quoted, standard error
//! only as a short redacted excerpt.

use std::io;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use credkit_core::{Error, ErrorKind};

use crate::stderr;

/// The reference library's message, kept verbatim at the start of every error of the access
/// token source.
pub(crate) const FAILED: &str = "Failed to obtain access token";

/// What a command was run for: the lead of its errors and the noun they use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wanted {
    /// An access token ([`GcloudSource`](crate::GcloudSource)).
    AccessToken,
    /// An ID token ([`GcloudIdTokenSource`](crate::GcloudIdTokenSource)).
    IdToken,
}

impl Wanted {
    /// The start of every error message.
    pub(crate) fn lead(self) -> &'static str {
        match self {
            Self::AccessToken => FAILED,
            Self::IdToken => "Failed to obtain ID token",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::AccessToken => "access token",
            Self::IdToken => "ID token",
        }
    }
}

/// The program could not be found: typed "not configured", since without gcloud this source has
/// nothing to offer, so a chain moves on to its next source.
pub(crate) fn not_found(wanted: Wanted, program: &Path, source: io::Error) -> Error {
    Error::not_configured(format!(
        "{}: the gcloud program `{}` was not found; install the Google Cloud SDK \
             (https://cloud.google.com/sdk/docs/install) or set the program path with \
             GcloudSourceBuilder::with_program",
        wanted.lead(),
        program.display()
    ))
    .with_source(source)
}

/// The program exists but could not be started.
pub(crate) fn spawn_failed(wanted: Wanted, program: &Path, source: io::Error) -> Error {
    // A busy executable (being replaced, ETXTBSY) or a passing resource shortage may clear.
    let transient = matches!(
        source.kind(),
        io::ErrorKind::ExecutableFileBusy | io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
    );
    Error::new(
        ErrorKind::Configuration,
        format!(
            "{}: the gcloud program `{}` could not be started ({})",
            wanted.lead(),
            program.display(),
            source.kind()
        ),
    )
    .with_transient(transient)
    .with_source(source)
}

/// The command exited unsuccessfully.
pub(crate) fn exited(
    wanted: Wanted,
    command: &str,
    status: ExitStatus,
    stderr_bytes: &[u8],
) -> Error {
    let lead = wanted.lead();
    let how = status.code().map_or_else(
        || "was terminated by a signal".to_owned(),
        |code| format!("exited with status {code}"),
    );
    let excerpt = stderr::excerpt(stderr_bytes);
    let message = if excerpt.is_empty() {
        format!("{lead}: `{command}` {how} and printed nothing on standard error")
    } else {
        format!("{lead}: `{command}` {how}: {excerpt}")
    };
    let transient = stderr::is_transient_failure(&String::from_utf8_lossy(stderr_bytes));
    Error::new(ErrorKind::Provider, message).with_transient(transient)
}

/// The command ran past its timeout and was stopped.
pub(crate) fn timed_out(wanted: Wanted, command: &str, timeout: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "{}: `{command}` did not finish within {timeout:?} and was stopped",
            wanted.lead()
        ),
    )
    .with_transient(true)
}

/// The command's output is not what it should be.
pub(crate) fn invalid_output(wanted: Wanted, command: &str, reason: &str) -> Error {
    Error::new(
        ErrorKind::InvalidResponse,
        format!(
            "{}: `{command}` gave no usable {}: {reason}",
            wanted.lead(),
            wanted.noun()
        ),
    )
}

/// Reading the command's output or waiting for it failed.
pub(crate) fn io_failed(wanted: Wanted, command: &str, source: io::Error) -> Error {
    Error::new(
        ErrorKind::Provider,
        format!(
            "{}: reading the output of `{command}` failed ({})",
            wanted.lead(),
            source.kind()
        ),
    )
    .with_transient(true)
    .with_source(source)
}
