//! The errors of the token file and the token variable, one constructor each. Every message
//! names the file (or variable), says what to do, and never carries the token or the content;
//! every error's source is the [`Refusal`].

use std::io;
use std::path::Path;

use credkit_core::{Error, ErrorKind};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Refusal;

/// The file could not be stat'ed, opened or read.
pub(crate) fn file_io(path: &Path, source: &io::Error) -> Error {
    let path = path.display();
    if source.kind() == io::ErrorKind::NotFound {
        return Error::new(
            ErrorKind::Configuration,
            format!("the access token file {path} does not exist; write a token to it"),
        )
        .with_source(Refusal::Missing);
    }
    Error::new(
        ErrorKind::Configuration,
        format!(
            "the access token file {path} cannot be read ({source}); make it readable by this user"
        ),
    )
    .with_source(Refusal::Unreadable)
}

/// The path names a directory, a FIFO, a device: nothing a token is read from.
pub(crate) fn not_a_file(path: &Path) -> Error {
    Error::new(
        ErrorKind::Configuration,
        format!(
            "the access token file {} is not a regular file; name the file that holds the token",
            path.display()
        ),
    )
    .with_source(Refusal::Unreadable)
}

/// Larger than [`MAX_FILE_SIZE`](crate::MAX_FILE_SIZE).
pub(crate) fn too_large(path: &Path) -> Error {
    Error::new(
        ErrorKind::Configuration,
        format!(
            "the access token file {} is larger than {} bytes, too large for a token; name the file that holds the token",
            path.display(),
            crate::MAX_FILE_SIZE
        ),
    )
    .with_source(Refusal::TooLarge)
}

/// The file's content is refused.
pub(crate) fn file_refused(path: &Path, refusal: Refusal) -> Error {
    content(
        &format!("the access token file {}", path.display()),
        "write a token to it",
        refusal,
    )
}

/// The file's token expired at `expiry`.
pub(crate) fn file_expired(path: &Path, expiry: OffsetDateTime) -> Error {
    expired(
        &format!("the access token in {}", path.display()),
        expiry,
        "write a new token to the file",
    )
}

/// The variable's value is refused.
pub(crate) fn variable_refused(variable: &str, refusal: Refusal) -> Error {
    content(
        &format!("the environment variable {variable}"),
        "set it to an access token alone",
        refusal,
    )
}

/// The variable's token expired at `expiry`.
pub(crate) fn variable_expired(variable: &str, expiry: OffsetDateTime) -> Error {
    expired(
        &format!("the access token in the environment variable {variable}"),
        expiry,
        "set it to a new token, or unset it",
    )
}

fn content(what: &str, fix: &str, refusal: Refusal) -> Error {
    let fix = match refusal {
        Refusal::NoToken | Refusal::Malformed | Refusal::Truncated | Refusal::BadExpiry => {
            "write a bare token, or a JSON document with access_token and an RFC 3339 expiry (or expires_in)"
        }
        _ => fix,
    };
    Error::new(
        ErrorKind::InvalidResponse,
        format!("{what} holds no usable access token: {refusal}; {fix}"),
    )
    .with_transient(refusal.is_transient())
    .with_source(refusal)
}

fn expired(what: &str, expiry: OffsetDateTime, fix: &str) -> Error {
    let when = expiry
        .format(&Rfc3339)
        .unwrap_or_else(|_| "a time past".to_owned());
    Error::new(
        ErrorKind::Configuration,
        format!("{what} expired at {when}; {fix}"),
    )
    .with_source(Refusal::Expired)
}
