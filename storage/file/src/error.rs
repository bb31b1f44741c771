//! Every error `FileStorage` reports, as named constructors. Messages name the path and what to
//! do; they never hold a record's content (the parser's own message may quote a secret, so a
//! malformed record keeps only core's position-only error as its source).

use std::io;
use std::path::Path;

use credkit_core::{BuildError, Error, ErrorKind};

/// The directory could not be created or opened. An I/O failure may pass (a retry may help).
pub(crate) fn directory(dir: &Path, source: io::Error) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!(
            "the credential directory {} could not be created or opened",
            dir.display()
        ),
    )
    .with_source(source)
    .with_transient(true)
}

/// The directory belongs to another user: its owner could read or swap every record.
#[cfg(unix)]
pub(crate) fn foreign_owner(dir: &Path, owner: u32, me: u32) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!(
            "the credential directory {} belongs to user id {owner}, not to this user ({me}); \
             choose a directory of your own",
            dir.display()
        ),
    )
}

/// The directory or a record can be read or written by other users. Transient on purpose: the
/// record is then never overwritten blind (it may hold the only copy of a rotated refresh
/// token), and once the user tightens the mode the next attempt succeeds.
#[cfg(unix)]
pub(crate) fn too_open(path: &Path, mode: u32, wanted: u32) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!(
            "{} is open to other users (mode {:03o}); credentials must be private: run chmod {:03o} {}",
            path.display(),
            mode & 0o777,
            wanted,
            path.display()
        ),
    )
    .with_transient(true)
}

/// A record or lock file (`what`) belongs to another user. Permanent: it is not ours, so
/// `Credentials` replaces it (a rename in our own directory) with its next store.
#[cfg(unix)]
pub(crate) fn foreign_file(what: &str, path: &Path, owner: u32, me: u32) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!(
            "the {what} {} belongs to user id {owner}, not to this user ({me}), so it is not \
             used; remove it (credkit never makes such a file: find out who put it there)",
            path.display()
        ),
    )
}

/// What is at a record's or lock file's path (`what`) is `found` (a symbolic link, a
/// directory, ...), not a regular file. Permanent, like [`foreign_file`].
pub(crate) fn not_a_file(what: &str, path: &Path, found: &str) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!(
            "the {what} {} is {found}, not a regular file, so it is not used; remove it \
             (credkit never makes one: find out who put it there)",
            path.display()
        ),
    )
}

/// The path exists but is not a directory.
pub(crate) fn not_a_directory(dir: &Path) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!(
            "the credential directory {} is not a directory",
            dir.display()
        ),
    )
}

/// No platform cache directory is known (no home directory, say).
pub(crate) fn no_cache_dir() -> BuildError {
    BuildError::loading(
        "this platform has no user cache directory (is HOME set?); give the storage a directory",
    )
}

/// The storage's directory cannot be used: the message of the check that failed, its cause
/// kept as the source.
pub(crate) fn unusable_dir(err: Error) -> BuildError {
    BuildError::loading(err.message().to_owned()).with_source(err)
}

/// Reading, writing or removing a record failed: an I/O failure, which may pass (a full disk
/// emptied, a read-only mount made writable), so it is transient and the record is never
/// replaced blind because of it.
pub(crate) fn io(doing: &str, path: &Path, source: io::Error) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!("{doing} the credential record {} failed", path.display()),
    )
    .with_source(source)
    .with_transient(true)
}

/// The record stayed unreadable over several reads: corrupt, or not a record. Permanent, so
/// `Credentials` replaces it with its next store.
pub(crate) fn malformed(path: &Path, source: Error) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!(
            "the credential record {} is not a readable record; remove it to start afresh",
            path.display()
        ),
    )
    .with_source(source)
}

/// The file at a record's path is larger than any record (`limit` bytes): permanent, so
/// `Credentials` replaces it with its next store.
pub(crate) fn too_large(path: &Path, limit: u64) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!(
            "the credential record {} is larger than {} MiB, so it is not a record; remove it to start afresh",
            path.display(),
            limit / (1024 * 1024)
        ),
    )
}

/// Taking or giving back the lock on a lock file failed (not because another process holds it).
pub(crate) fn lock(doing: &str, path: &Path, source: io::Error) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!("{doing} the refresh lock {} failed", path.display()),
    )
    .with_source(source)
    .with_transient(true)
}

/// Another process kept the lease past the wait: transient, as core's contract wants.
pub(crate) fn lease_timeout(path: &Path, waited: std::time::Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "another process kept the refresh lock {} past {} ms",
            path.display(),
            waited.as_millis()
        ),
    )
    .with_transient(true)
}
