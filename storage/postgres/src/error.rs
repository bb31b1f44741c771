//! Every error `PostgresStorage` reports, as named constructors. Messages name the operation and
//! never hold a record's content, a caller's key or the URL's password: a server's error is
//! kept as the source by its SQLSTATE code and primary message only (its `DETAIL` may quote a
//! row's values).

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use credkit_core::{BuildError, Error, ErrorKind};
use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

/// The URL is not one tokio-postgres accepts. Its parser's message names the option or part
/// that failed, never a value.
pub(crate) fn bad_url(source: tokio_postgres::Error) -> BuildError {
    BuildError::invalid_value(
        "the Postgres URL is not valid (expected postgres://USER:PASSWORD@HOST:PORT/DATABASE, or key=value pairs)",
    )
    .with_source(source)
}

/// The URL names no host (and no Unix socket directory) to connect to.
pub(crate) fn no_host() -> BuildError {
    BuildError::invalid_value(
        "the Postgres URL names no host: give one (postgres://USER:PASSWORD@HOST:PORT/DATABASE)",
    )
}

/// A schema or table prefix that is not a plain identifier.
pub(crate) fn bad_identifier(what: &str, longest: usize) -> BuildError {
    BuildError::invalid_value(format!(
        "the Postgres {what} must be letters, digits and underscores, not starting with a digit, \
         at most {longest} bytes"
    ))
}

/// The pool could not be built (a setting deadpool refuses).
pub(crate) fn bad_pool(source: impl StdError + Send + Sync + 'static) -> BuildError {
    BuildError::invalid_value("the Postgres connection pool could not be set up")
        .with_source(source)
}

/// No tokio runtime to run the store's tasks on.
pub(crate) fn no_runtime() -> Error {
    Error::new(
        ErrorKind::Storage,
        "the Postgres store runs on tokio: call it from inside a tokio runtime",
    )
}

/// A statement failed. See [`is_transient`] and [`what_to_fix`].
pub(crate) fn statement(doing: &str, source: &tokio_postgres::Error) -> Error {
    let transient = is_transient(source);
    let message = match what_to_fix(source) {
        Some(fix) => format!("{doing} in Postgres failed: {fix}"),
        None => format!("{doing} in Postgres failed"),
    };
    Error::new(ErrorKind::Storage, message)
        .with_source(Cause::of(source))
        .with_transient(transient)
}

/// A statement found a credkit table missing (dropped, or a restore from before it was made):
/// transient, since the next call makes the tables again.
pub(crate) fn tables_missing(doing: &str, source: &tokio_postgres::Error) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!(
            "{doing} in Postgres failed: a credkit table is missing; the next call creates it again"
        ),
    )
    .with_source(Cause::of(source))
    .with_transient(true)
}

/// Getting a connection from the pool failed: a timeout is transient (the server is out of
/// reach or every connection is busy), a refused connection is classified as a statement's
/// failure is.
pub(crate) fn pool(doing: &str, source: PoolError) -> Error {
    match source {
        PoolError::Backend(source) => statement(doing, &source),
        PoolError::Timeout(_) => Error::new(
            ErrorKind::Storage,
            format!("{doing} in Postgres failed: no connection within the timeout"),
        )
        .with_transient(true),
        other => Error::new(ErrorKind::Storage, format!("{doing} in Postgres failed"))
            .with_source(Cause::plain(&other)),
    }
}

/// The whole call ran past the store's timeout: transient.
pub(crate) fn timeout(doing: &str, after: Duration) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!(
            "{doing} in Postgres failed: no answer within {} ms",
            after.as_millis()
        ),
    )
    .with_transient(true)
}

/// Whether a retry may help: the connection failed (refused, reset, closed, timed out: no
/// server error at all), or the server said so (class 08, connection exceptions; 40,
/// serialization failures and deadlocks; 53, insufficient resources such as too many
/// connections; 57P01-57P05, shut down, starting up or idle too long; 57014, a statement
/// cancelled; 55P03, a lock not available).
pub(crate) fn is_transient(source: &tokio_postgres::Error) -> bool {
    match source.code() {
        Some(code) => code_is_transient(code.code()),
        // No server error: the connection itself failed, or (never for this store's own
        // statements) a value did not convert. Only the former carries an I/O error or is a
        // closed connection.
        None => source.is_closed() || has_io_error(source),
    }
}

/// [`is_transient`] for a server's SQLSTATE code.
fn code_is_transient(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("40")
        || code.starts_with("53")
        || code.starts_with("57P")
        || code == SqlState::QUERY_CANCELED.code()
        || code == SqlState::LOCK_NOT_AVAILABLE.code()
}

/// What to tell the user for a failure that the next attempt meets again.
fn what_to_fix(source: &tokio_postgres::Error) -> Option<&'static str> {
    let Some(code) = source.code() else {
        // The driver's own refusal when the server asks for a password the URL lacks.
        return Cause::plain(source)
            .0
            .contains("password missing")
            .then_some("the server wants a password: give it in the URL (postgres://USER:PASSWORD@HOST/DATABASE)");
    };
    Some(
        if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            "the server refused the login: check the user and password in the URL"
        } else if *code == SqlState::INVALID_CATALOG_NAME {
            "the database does not exist: check the database name in the URL, or create it"
        } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
            "the user may not use the credkit tables: grant it SELECT, INSERT, UPDATE and DELETE on \
         them (and CREATE on the schema for the first migration)"
        } else {
            return None;
        },
    )
}

fn has_io_error(source: &tokio_postgres::Error) -> bool {
    let mut next: Option<&(dyn StdError + 'static)> = source.source();
    while let Some(error) = next {
        if error.is::<std::io::Error>() {
            return true;
        }
        next = error.source();
    }
    false
}

/// The stored bytes are not a record (corrupt, or the codec refused them): permanent, so
/// `Credentials` replaces the record with its next store.
pub(crate) fn malformed(source: Error) -> Error {
    Error::new(
        ErrorKind::Storage,
        "the credential record in Postgres is not a readable record; remove it to start afresh",
    )
    .with_source(source)
}

/// The record codec refused the stored bytes (a key the codec no longer holds, a record sealed
/// for another key, bytes altered): permanent, and the codec's own message (which never quotes
/// the bytes) says what to do, rather than "remove it", which would log the user out for a
/// missing key; it is kept as the source too, for typed checks.
pub(crate) fn undecodable(source: Error) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!("the credential record in Postgres could not be decoded: {source}"),
    )
    .with_transient(false)
    .with_source(source)
}

/// The tables are at a schema version this credkit does not know: a newer credkit made them.
pub(crate) fn newer_schema(found: i32, known: i32) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!(
            "the credkit tables in Postgres are at schema version {found}, newer than this credkit \
             knows ({known}): upgrade credkit, or give this one its own tables (with_table_prefix)"
        ),
    )
}

/// Another process kept the lease past the wait: transient, as core's contract wants.
pub(crate) fn lease_timeout(waited: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "another process kept the Postgres refresh lease past {} ms",
            waited.as_millis()
        ),
    )
    .with_transient(true)
}

/// The operating system's random source failed (a lease owner could not be drawn).
pub(crate) fn random(source: getrandom::Error) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!("drawing a random lease owner failed: {source}"),
    )
    .with_transient(true)
}

/// A store kept meeting rows that other processes inserted at the same moment.
pub(crate) fn contended(doing: &str) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!("{doing} in Postgres failed: other processes kept writing the same record"),
    )
    .with_transient(true)
}

/// A task of the store's own stopped before it answered (the runtime is shutting down).
pub(crate) fn task_gone(doing: &str) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!("{doing} in Postgres failed: the runtime stopped the task"),
    )
    .with_transient(true)
}

/// The source of a failed statement, without what a server's error may quote: its SQLSTATE
/// code and primary message for a server error, the driver's message otherwise.
#[derive(Debug)]
struct Cause(String);

impl Cause {
    fn of(source: &tokio_postgres::Error) -> Self {
        match source.as_db_error() {
            Some(db) => Self(format!(
                "{} {}: {}",
                db.severity(),
                db.code().code(),
                db.message()
            )),
            None => Self::plain(source),
        }
    }

    /// The error and its causes, one after the other (none of which quotes a value).
    fn plain(source: &dyn StdError) -> Self {
        let mut text = source.to_string();
        let mut next = source.source();
        while let Some(cause) = next {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            next = cause.source();
        }
        Self(text)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Cause {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_codes_are_classified() {
        for (code, transient) in [
            ("08006", true),
            ("08001", true),
            ("57P01", true),
            ("57P03", true),
            ("40001", true),
            ("40P01", true),
            ("53300", true),
            ("57014", true),
            ("55P03", true),
            ("28P01", false),
            ("42P01", false),
            ("23505", false),
            ("22021", false),
        ] {
            assert_eq!(code_is_transient(code), transient, "{code}");
        }
    }

    #[test]
    fn messages_say_what_to_do() {
        let newer = newer_schema(7, 1).to_string();
        assert!(
            newer.contains("version 7") && newer.contains("upgrade credkit"),
            "{newer}"
        );
        let timeout = lease_timeout(Duration::from_millis(1500));
        assert_eq!(timeout.kind(), ErrorKind::Timeout);
        assert!(timeout.is_transient() && timeout.to_string().contains("1500 ms"));
        assert!(!malformed(no_runtime()).is_transient());
        assert!(contended("storing").is_transient());
        assert!(task_gone("taking").is_transient());
        assert!(super::timeout("loading", Duration::from_secs(2)).is_transient());
    }
}
