//! Every error `RedisStorage` reports, as named constructors. Messages name the operation and
//! never hold a record's content, a key (it may be derived from a secret) or a URL's password.

use std::time::Duration;

use credkit_core::{BuildError, Error, ErrorKind};

/// The URL is not a Redis URL the client accepts (`redis://`, `rediss://` with the `tls`
/// feature, `unix://`). The redis crate's own message is kept as the source; it never
/// echoes a password.
pub(crate) fn bad_url(source: redis::RedisError) -> BuildError {
    BuildError::invalid_value(
        "the Redis URL is not valid (expected redis://[:PASSWORD@]HOST[:PORT][/DB], or rediss:// with the `tls` feature)",
    )
    .with_source(source)
}

/// TLS certificates were given for a URL that is not `rediss://`.
#[cfg(feature = "tls")]
pub(crate) fn tls_without_rediss() -> BuildError {
    BuildError::invalid_value(
        "TLS certificates were given for a Redis URL without TLS: use rediss://HOST:PORT/DB",
    )
}

/// The TLS certificates or key given are not usable PEM. The redis crate's message (which
/// names what failed to parse, never the key's content) is the source.
#[cfg(feature = "tls")]
pub(crate) fn bad_tls_settings(source: redis::RedisError) -> BuildError {
    BuildError::invalid_value(
        "the TLS certificates or key for Redis could not be read: give PEM certificates, and a PEM private key for a client certificate",
    )
    .with_source(source)
}

/// A command failed. Connection failures, timeouts and a server that is loading or busy
/// may pass, so they are transient (the connection manager reconnects by itself); a
/// refused script or command is permanent, and so are a refused password and (feature
/// `tls`) a refused certificate, which say what to fix.
///
/// In the redis crate, every error that carries an I/O error is of kind `Io`: a refused or
/// dropped connection and a timeout are all `is_io_error`. `is_unrecoverable_error` adds the
/// failures after which the connection manager replaces its connection (a reply it could not
/// parse), which a new connection may not meet again; a failed AUTH is one of those too, but
/// a new connection with the same password fails the same way.
pub(crate) fn command(doing: &str, source: redis::RedisError) -> Error {
    if let Some(fix) = refusal(&source) {
        return Error::new(
            ErrorKind::Storage,
            format!("{doing} in Redis failed: {fix}"),
        )
        .with_source(source);
    }
    let transient = source.is_io_error()
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

/// What to tell the user when the server refused who this client is: a wrong password or
/// user (AUTH failed), none given to a server that wants one (`NOAUTH`), or (feature `tls`) a
/// certificate refused on either side. The next connection would fail the same way.
fn refusal(source: &redis::RedisError) -> Option<String> {
    #[cfg(feature = "tls")]
    if let Some(fix) = tls::refusal(source) {
        return Some(fix);
    }
    (source.kind() == redis::ErrorKind::AuthenticationFailed || source.code() == Some("NOAUTH"))
        .then(|| {
            "the server refused the user name or password; give them in the URL \
             (redis://USER:PASSWORD@HOST/DB)"
                .to_owned()
        })
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

/// The record codec refused the stored bytes (a key the codec no longer holds, a record sealed
/// for another key, bytes altered): permanent, and the codec's own message (which never quotes
/// the bytes) says what to do; it is kept as the source too, for typed checks.
pub(crate) fn undecodable(source: Error) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!("the credential record in Redis could not be decoded: {source}"),
    )
    .with_transient(false)
    .with_source(source)
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

/// TLS handshakes that failed over a certificate: permanent, since the next handshake with the
/// same settings fails the same way.
#[cfg(feature = "tls")]
mod tls {
    use std::error::Error as StdError;
    use std::io;
    use std::sync::Arc;

    use rustls::AlertDescription as Alert;

    /// What to tell the user when `source` is a refused certificate, on either side.
    pub(super) fn refusal(source: &redis::RedisError) -> Option<String> {
        match find(source)? {
            rustls::Error::InvalidCertificate(why) => Some(format!(
                "the server's TLS certificate was not accepted ({why:?}): give the CA that signed it \
                 with with_tls_root_certificates, and connect by a name or address the certificate holds"
            )),
            rustls::Error::AlertReceived(
                alert @ (Alert::CertificateRequired
                | Alert::UnknownCA
                | Alert::BadCertificate
                | Alert::UnsupportedCertificate
                | Alert::CertificateRevoked
                | Alert::CertificateExpired
                | Alert::CertificateUnknown
                | Alert::AccessDenied),
            ) => Some(format!(
                "the server wants a TLS client certificate it accepts ({alert:?}): give one signed \
                 by a CA the server trusts with with_tls_client_certificate"
            )),
            _ => None,
        }
    }

    /// The rustls error in `source`'s chain. The redis crate keeps each cause behind an `Arc`,
    /// and an I/O error keeps rustls's error inside it: both are looked through.
    fn find(source: &redis::RedisError) -> Option<&rustls::Error> {
        let mut next: Option<&(dyn StdError + 'static)> = Some(source);
        while let Some(error) = next {
            let shared: &(dyn StdError + 'static) = error
                .downcast_ref::<Arc<dyn StdError + Send + Sync>>()
                .map_or(error, |arc| &**arc);
            let inner: &(dyn StdError + 'static) = shared
                .downcast_ref::<io::Error>()
                .and_then(io::Error::get_ref)
                .map_or(shared, |inner| inner);
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return Some(tls);
            }
            next = error.source();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(kind: redis::ServerErrorKind) -> redis::RedisError {
        redis::RedisError::from((redis::ErrorKind::Server(kind), "refused"))
    }

    #[test]
    fn io_failures_are_transient_and_refused_commands_permanent() {
        let io = |kind| redis::RedisError::from(std::io::Error::new(kind, "socket"));
        // `Other` is an I/O error only: not a dropped connection, nor one to replace.
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
        for kind in [
            redis::ServerErrorKind::ResponseError,
            redis::ServerErrorKind::NoScript,
            redis::ServerErrorKind::ExecAbort,
            redis::ServerErrorKind::NoPerm,
        ] {
            assert!(
                !command("running the script", server(kind)).is_transient(),
                "{kind:?}"
            );
        }
        let wrong = redis::RedisError::from((redis::ErrorKind::UnexpectedReturnType, "type"));
        assert!(!command("loading a credential record", wrong).is_transient());
    }

    #[test]
    fn every_refused_dropped_or_timed_out_connection_is_an_io_error() {
        // Why `command` asks no more than `is_io_error` of a connection that failed.
        let mut errors: Vec<redis::RedisError> = [
            std::io::ErrorKind::ConnectionRefused,
            std::io::ErrorKind::NotFound,
            std::io::ErrorKind::TimedOut,
            std::io::ErrorKind::WouldBlock,
            std::io::ErrorKind::BrokenPipe,
            std::io::ErrorKind::ConnectionReset,
            std::io::ErrorKind::ConnectionAborted,
            std::io::ErrorKind::UnexpectedEof,
            std::io::ErrorKind::NotConnected,
        ]
        .into_iter()
        .map(|kind| std::io::Error::new(kind, "socket").into())
        .collect();
        errors.push((redis::ErrorKind::Io, "the connection driver stopped").into());
        for error in errors {
            assert!(
                error.is_connection_refusal()
                    || error.is_connection_dropped()
                    || error.is_timeout(),
                "{error}"
            );
            assert!(error.is_io_error(), "{error}");
            assert!(command("loading a credential record", error).is_transient());
        }
    }

    #[test]
    fn a_connection_to_replace_and_a_busy_server_are_transient() {
        // Not I/O errors: transient because the connection manager replaces the connection.
        let garbled = redis::RedisError::from((redis::ErrorKind::Parse, "garbled reply"));
        assert!(!garbled.is_io_error());
        assert!(command("loading a credential record", garbled).is_transient());
        // Not I/O errors, and the connection is kept: transient because they pass.
        for kind in [
            redis::ServerErrorKind::BusyLoading,
            redis::ServerErrorKind::TryAgain,
        ] {
            let busy = server(kind);
            assert!(!busy.is_io_error() && !busy.is_unrecoverable_error());
            assert!(
                command("loading a credential record", busy).is_transient(),
                "{kind:?}"
            );
        }
    }
}
