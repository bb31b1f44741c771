//! The `Transport` trait: how credkit sends HTTP.

use std::fmt::Debug;

use async_trait::async_trait;
use bytes::Bytes;

use crate::Result;

/// Sends one HTTP request and returns the whole response.
///
/// credkit's providers never open connections themselves: they build an `http::Request<Bytes>`
/// and hand it to a `Transport`, so the HTTP stack is the application's choice
/// (`credkit-reqwest`, or a transport of one's own on another runtime) and tests can answer
/// in memory.
///
/// # Contract
///
/// - **One request, one response.** Return any HTTP status as `Ok`: a 400 or a 503 is a
///   response, and the provider decides what it means. Return `Err` only when no complete response
///   was received.
/// - **Classify failures** with [`Error::transport`](crate::Error::transport): connect, timeout
///   and reset failures are transient; an oversize body or a refused URL is not.
/// - **Safe defaults.** Do not follow redirects (a token request must not be replayed to another
///   host), bound the response body, and apply timeouts. Refuse plain `http://` except to
///   loopback hosts.
/// - **No retries.** The retrying layer does that.
/// - **Thread safety and cancellation.** Shared as `Arc<dyn Transport>`; the future may be dropped
///   at any `.await`, which must only abandon this request.
/// - **Secrets.** Request bodies carry refresh tokens and client secrets, responses carry tokens:
///   never log them or put them in errors.
///
/// # Examples
///
/// A transport that answers every request itself, as a test double would:
///
/// ```
/// use async_trait::async_trait;
/// use bytes::Bytes;
/// use credkit_core::{Result, Transport};
///
/// #[derive(Debug)]
/// struct Canned;
///
/// #[async_trait]
/// impl Transport for Canned {
///     async fn send(&self, _request: http::Request<Bytes>) -> Result<http::Response<Bytes>> {
///         Ok(http::Response::new(Bytes::from_static(br#"{"access_token":"t","expires_in":3600}"#)))
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let request = http::Request::post("https://oauth2.googleapis.com/token").body(Bytes::new()).unwrap();
/// let response = Canned.send(request).await?;
/// assert_eq!(response.status(), 200);
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait Transport: Send + Sync + Debug {
    /// Sends `request` and returns the response, whatever its status.
    ///
    /// # Errors
    ///
    /// When no complete response was received: connect, timeout, reset (transient); body too
    /// large, refused URL (permanent).
    async fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>>;
}

crate::forward_impls! {
    #[async_trait]
    trait Transport {
        async fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>>;
    }
}
