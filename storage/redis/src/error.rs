//! Every error `RedisStorage` reports, as named constructors. Messages name the operation and
//! never hold a record's content, a key (it may be derived from a secret) or a URL's password.

use std::time::Duration;

use credkit_core::{Error, ErrorKind};

/// The URL is not a Redis URL the client accepts (`redis://`, `rediss://` with the `tls`
/// feature, `unix://`). The redis crate's own message is kept as the source; it never
/// echoes a password.
pub(crate) fn bad_url(source: redis::RedisError) -> Error {
    Error::new(
        ErrorKind::Storage,
        "the Redis URL is not valid (expected redis://[:PASSWORD@]HOST[:PORT][/DB], or rediss:// with the `tls` feature)",
    )
    .with_source(source)
}

/// A command failed. Connection failures, timeouts and a server that is loading or busy
/// may pass, so they are transient (the connection manager reconnects by itself); a
/// refused script or command is permanent.
pub(crate) fn command(doing: &str, source: redis::RedisError) -> Error {
    let transient = source.is_io_error()
        || source.is_connection_dropped()
        || source.is_connection_refusal()
        || source.is_timeout()
        || source.is_unrecoverable_error()
        || matches!(
            source.kind(),
            redis::ErrorKind::Server(
                redis::ServerErrorKind::BusyLoading | redis::ServerErrorKind::TryAgain
            )
        );
    Error::new(ErrorKind::Storage, format!("{doing} in Redis failed"))
        .with_source(source)
        .with_transient(transient)
}

/// The stored bytes are not a record (corrupt, or the codec refused them): permanent, so
/// `Credentials` replaces the record with its next store.
pub(crate) fn malformed(source: Error) -> Error {
    Error::new(
        ErrorKind::Storage,
        "the credential record in Redis is not a readable record; remove it to start afresh",
    )
    .with_source(source)
}

/// A store made under a lease found a newer generation than the one the lease began on:
/// another holder stored a rotation after this holder's lease lapsed. Permanent: the newer
/// record wins, and this holder must load it rather than retry.
pub(crate) fn fenced(expected: i64, found: i64) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!(
            "the store was fenced off: the record is at generation {found}, newer than this lease's {expected}; \
             another holder stored a newer rotation after this lease lapsed (load the record again)"
        ),
    )
}

/// Another process kept the lease past the wait: transient, as core's contract wants.
pub(crate) fn lease_timeout(waited: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "another process kept the Redis refresh lease past {} ms",
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

/// A script replied with something other than what it returns: a server that is not Redis.
pub(crate) fn unexpected_reply(doing: &str) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!("{doing} in Redis returned an unexpected reply"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_failures_are_transient_and_refused_commands_permanent() {
        let io = |kind| redis::RedisError::from(std::io::Error::new(kind, "socket"));
        for kind in [
            std::io::ErrorKind::Other,
            std::io::ErrorKind::ConnectionReset,
            std::io::ErrorKind::ConnectionRefused,
            std::io::ErrorKind::TimedOut,
        ] {
            let error = command("storing the record", io(kind));
            assert!(error.is_transient(), "{kind:?}");
            assert_eq!(error.to_string(), "storing the record in Redis failed");
        }
        let refused = redis::RedisError::from((
            redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError),
            "NOSCRIPT",
        ));
        assert!(!command("running the script", refused).is_transient());
    }
}
