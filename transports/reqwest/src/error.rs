//! Every error this crate builds, as named constructors: reqwest's failures mapped onto
//! credkit's with the shared transience classification, the endpoint policy's refusals, the
//! limits, and the builder's errors. Messages name the endpoint's origin or host only, never its
//! path, query or user info.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use credkit_core::{BuildError, Error, TransportFailure};

// ===== sending =====

/// Maps a reqwest failure while talking to `origin` (`scheme://host:port`, no user info, path or
/// query) to a credkit error. The reqwest error, stripped of its URL, becomes the source.
pub(crate) fn from_reqwest(err: reqwest::Error, origin: &str) -> Error {
    let failure = classify(&err);
    let message = match failure {
        TransportFailure::Timeout => format!("timed out talking to the token endpoint at {origin}"),
        TransportFailure::Connect => format!("could not connect to the token endpoint at {origin}"),
        TransportFailure::Reset => {
            format!("the connection to the token endpoint at {origin} was closed mid-exchange")
        }
        TransportFailure::InvalidRequest => {
            format!("the request to the token endpoint at {origin} could not be built")
        }
        _ => format!("the request to the token endpoint at {origin} failed"),
    };
    Error::transport(failure, message).with_source(err.without_url())
}

/// How a reqwest error failed. Order matters: a timeout is a timeout even when it happened while
/// connecting; a connect failure is one even when the OS reported a reset.
fn classify(err: &reqwest::Error) -> TransportFailure {
    if err.is_timeout() {
        TransportFailure::Timeout
    } else if err.is_connect() {
        TransportFailure::Connect
    } else if was_reset(err) || err.is_body() || err.is_decode() {
        // A body that breaks off half-way is a connection that closed mid-exchange.
        TransportFailure::Reset
    } else if err.is_builder() {
        TransportFailure::InvalidRequest
    } else {
        TransportFailure::Other
    }
}

/// Whether anything in the error's cause chain says the connection was reset or closed before
/// the response was complete.
fn was_reset(err: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(current) = cause {
        if let Some(io) = current.downcast_ref::<io::Error>()
            && matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        if let Some(hyper) = current.downcast_ref::<hyper::Error>()
            && (hyper.is_incomplete_message() || hyper.is_canceled() || hyper.is_closed())
        {
            return true;
        }
        cause = current.source();
    }
    false
}

/// The whole exchange with `origin` took longer than the total `timeout`. Transient.
pub(crate) fn timed_out(origin: &str, timeout: Duration) -> Error {
    Error::transport(
        TransportFailure::Timeout,
        format!("the token endpoint at {origin} did not answer in full within {timeout:?}"),
    )
}

/// The response body from `origin` is over the `cap`. Permanent.
pub(crate) fn body_too_large(cap: usize, origin: &str) -> Error {
    Error::transport(
        TransportFailure::BodyTooLarge,
        format!("the response from the token endpoint at {origin} is larger than {cap} bytes"),
    )
}

/// A caller's client followed a redirect away from `origin`. Permanent.
pub(crate) fn redirect_followed(origin: &str) -> Error {
    Error::transport(
        TransportFailure::InvalidRequest,
        format!(
            "the HTTP client followed a redirect from the token endpoint at {origin}; \
             build it with reqwest::redirect::Policy::none()"
        ),
    )
}

// ===== the endpoint policy =====

/// The token endpoint URL does not parse.
pub(crate) fn invalid_url(err: impl StdError + Send + Sync + 'static) -> Error {
    refused("the token endpoint URL is not a valid absolute URL").with_source(err)
}

/// The token endpoint URL carries a user name or password.
pub(crate) fn credentials_in_url() -> Error {
    refused("the token endpoint URL must not contain a user name or password")
}

/// Plain http to `host`, which is not loopback.
pub(crate) fn plain_http(host: &str) -> Error {
    refused(format!(
        "refusing to send a token request over plain http to {host}: use https \
         (plain http is allowed only to loopback: 127.0.0.0/8, ::1, localhost; to the \
         metadata server: 169.254.169.254, metadata.google.internal; and to the hosts named \
         with ReqwestTransportBuilder::allow_plain_http_host)"
    ))
}

/// A scheme other than https and http.
pub(crate) fn unsupported_scheme(scheme: &str) -> Error {
    refused(format!(
        "the token endpoint URL must use https, not {scheme}"
    ))
}

/// A URL the policy refuses: permanent, of kind `Configuration`, nothing sent.
fn refused(message: impl Into<Cow<'static, str>>) -> Error {
    Error::transport(TransportFailure::InvalidRequest, message)
}

// ===== building =====

/// A limit of the builder (`what`) was set to zero.
pub(crate) fn zero_limit(what: &str) -> BuildError {
    BuildError::invalid_value(format!("the transport's {what} must be greater than zero"))
}

/// A host given to `allow_plain_http_host` that is not a host or `host:port`.
pub(crate) fn invalid_plain_http_host(value: &str) -> BuildError {
    BuildError::invalid_value(format!(
        "`{value}` is not a host or host:port for plain http (no scheme, user name, path or query)"
    ))
}

/// reqwest could not build its client (TLS backend or resolver configuration).
pub(crate) fn client_build(err: reqwest::Error) -> BuildError {
    BuildError::invalid_value("could not build the reqwest client").with_source(err.without_url())
}

/// The rustls configuration of the `ring` feature could not be built: the platform's trust
/// store could not be loaded, or the provider offers no TLS version rustls supports.
#[cfg(feature = "ring")]
pub(crate) fn tls_config(err: rustls::Error) -> BuildError {
    BuildError::invalid_value(
        "could not configure rustls with the ring provider (the platform's certificate verifier, or the TLS versions of the installed provider)",
    )
    .with_source(err)
}

/// A request sent outside a tokio runtime: reqwest needs one.
pub(crate) fn no_runtime() -> Error {
    Error::new(
        credkit_core::ErrorKind::Configuration,
        "the reqwest transport needs a tokio runtime: send from inside one (#[tokio::main], Runtime::block_on), or use a Transport of your runtime",
    )
}
