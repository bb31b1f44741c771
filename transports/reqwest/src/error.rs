//! Mapping reqwest's errors onto credkit's, with the shared transience classification.

use std::error::Error as StdError;
use std::io;

use credkit_core::{Error, TransportFailure};

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
