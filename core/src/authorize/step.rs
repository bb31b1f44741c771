//! What the [`Authorizer`](super::Authorizer) hands an adapter: for a request, skip, ready or
//! wait; for a response, return or replay.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::HeaderMap;

use crate::credentials::Usable;
use crate::{RefreshAhead, Result};

/// What to do with a request before sending it: from
/// [`Authorizer::authorize`](super::Authorizer::authorize).
#[must_use = "an authorization says whether and when to send the request"]
#[derive(Debug)]
// Adapters handle every arm; a new one would have to break them, by design.
#[allow(clippy::exhaustive_enums)]
pub enum Authorization {
    /// The rules say this request gets no credentials: send it as it is, and skip
    /// [`answered`](super::Authorizer::answered) for its response.
    Skip,
    /// The headers are written: send the request now.
    Ready(Ready),
    /// No usable token yet (none, or expired): await this for the one refresh every waiting
    /// request shares, then write its token with [`UsableToken::write`].
    Wait(TokenWait),
}

impl Authorization {
    /// For async code: waits if needed and writes the headers into `headers` (the same
    /// request's). `None` for [`Skip`](Self::Skip).
    ///
    /// # Errors
    ///
    /// When the request waited and the refresh failed: its error.
    ///
    /// ```
    /// # use credkit_core::authorize::Authorizer;
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # futures::executor::block_on(async {
    /// let authorizer = Authorizer::new(Credentials::new(StaticSource::new(AccessToken::new("ya29.t"))));
    /// let mut request = http::Request::get("https://api.example/v1").body(())?;
    /// let ready = authorizer.authorize(&mut request).ready(request.headers_mut()).await?;
    /// assert!(ready.is_some());
    /// assert_eq!(request.headers()["authorization"], "Bearer ya29.t");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn ready(self, headers: &mut HeaderMap) -> Result<Option<Ready>> {
        match self {
            Self::Skip => Ok(None),
            Self::Ready(ready) => Ok(Some(ready)),
            Self::Wait(wait) => Ok(Some(Ready {
                sent: wait.await?.write(headers),
                ahead: None,
            })),
        }
    }
}

/// An authorized request, ready to send.
#[derive(Debug)]
#[non_exhaustive]
pub struct Ready {
    /// What the request carries, for [`answered`](super::Authorizer::answered).
    pub sent: Sent,
    /// The refresh ahead of the stale token the request carries, for the caller to drive
    /// beside the request (see [`RefreshAhead::beside`]): only without a spawner, when nobody
    /// else drives it.
    pub ahead: Option<RefreshAhead>,
}

/// Which token a request carried, and whether it was the replay: what
/// [`answered`](super::Authorizer::answered) needs. `Copy`, and no secret: a name for the
/// token, not the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    pub(super) token: u64,
    pub(super) replayed: bool,
}

impl Sent {
    /// Whether this was the replay of a rejected request (which is never replayed again).
    ///
    /// ```
    /// # use credkit_core::authorize::Authorizer;
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # futures::executor::block_on(async {
    /// # let authorizer = Authorizer::new(Credentials::new(StaticSource::new(AccessToken::new("ya29.t"))));
    /// let mut headers = http::HeaderMap::new();
    /// let ready = authorizer.authorize_replay(&mut headers).ready(&mut headers).await?.unwrap();
    /// assert!(ready.sent.replayed());
    /// # Ok::<(), credkit_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn replayed(&self) -> bool {
        self.replayed
    }
}

/// What to do with a response: from [`Authorizer::answered`](super::Authorizer::answered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "an answer says whether to replay the request"]
// Adapters handle every arm; a new one would have to break them, by design.
#[allow(clippy::exhaustive_enums)]
pub enum Answer {
    /// Return the response as it came.
    Return,
    /// The request was rejected and its token dropped: send it once more, authorized with
    /// [`authorize_replay`](super::Authorizer::authorize_replay), if a copy of it was kept;
    /// otherwise return the response.
    Replay,
}

/// The wait for a usable token: a future of the [`UsableToken`] to write. Dropping it cancels
/// nothing (the refresh stays in place for the others).
#[must_use = "futures do nothing unless polled"]
pub struct TokenWait {
    pub(super) future: BoxFuture<'static, Result<Usable>>,
    pub(super) replayed: bool,
}

impl Future for TokenWait {
    type Output = Result<UsableToken>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let replayed = self.replayed;
        self.future
            .as_mut()
            .poll(cx)
            .map(|usable| usable.map(|usable| UsableToken { usable, replayed }))
    }
}

impl fmt::Debug for TokenWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenWait").finish_non_exhaustive()
    }
}

/// A usable token, waited for: write it into the request's headers.
pub struct UsableToken {
    usable: Usable,
    replayed: bool,
}

impl UsableToken {
    /// Writes the credentials' headers into `headers` (replacing earlier values of those
    /// headers), and says what the request carries.
    pub fn write(self, headers: &mut HeaderMap) -> Sent {
        Sent {
            token: self.usable.write(headers),
            replayed: self.replayed,
        }
    }
}

impl fmt::Debug for UsableToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsableToken").finish_non_exhaustive()
    }
}
