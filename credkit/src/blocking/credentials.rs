//! `Credentials`: the caching credentials, for synchronous callers.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use credkit_core::http::HeaderMap;
use credkit_core::{AccessToken, Result, TokenState};
use tokio::runtime::Handle;

use super::runtime::Runner;

/// The caching [`credkit::Credentials`](crate::Credentials), for code that cannot `.await`:
/// the same cache, single flight and refresh ahead, with methods that return when the token
/// is ready.
///
/// A fresh token is served on the caller's thread, as the async API serves it: no runtime,
/// no thread hop, no lock. Only a refresh the caller must wait for runs elsewhere, on the
/// [blocking runtime](super#the-runtime), while the caller's thread waits for it. A stale
/// token is served at once, and its refresh ahead runs on that runtime in the background.
///
/// It is a cheap handle (a [`credkit::Credentials`](crate::Credentials) inside): clone it
/// freely, across threads. [`From`] wraps async credentials and [`as_async`](Self::as_async)
/// lends them back, both sharing one cache: async and blocking callers can mix.
///
/// ```
/// use credkit::blocking;
/// use credkit::core::{AccessToken, Credentials, StaticSource};
///
/// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.token")));
/// let credentials = blocking::Credentials::from(credentials);
/// let headers = credentials.headers()?; // fetched on the blocking runtime, then cached
/// assert_eq!(headers["authorization"], "Bearer ya29.token");
/// # Ok::<(), credkit::Error>(())
/// ```
#[derive(Clone)]
pub struct Credentials {
    credentials: crate::Credentials,
    runner: Runner,
}

impl Credentials {
    pub(super) fn with_runner(credentials: crate::Credentials, runner: Runner) -> Self {
        Self {
            credentials,
            runner,
        }
    }

    /// Waits at most `timeout` (wall-clock) for a refresh, then fails with a transient
    /// [`Timeout`](crate::ErrorKind::Timeout) error. The refresh itself goes on in the
    /// background and caches its token for the next call. Default: no limit of its own; the
    /// wait still ends at the refresh's deadline (the credentials'
    /// [flight deadline](crate::CredentialsBuilder::with_flight_deadline), 180 s by default).
    /// A fresh token is never waited for.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.runner.set_timeout(timeout);
        self
    }

    /// Runs the refreshes on the runtime behind `handle` instead of the shared blocking
    /// runtime: for a [`Transport`](crate::Transport) or source of your own that must run on
    /// your runtime. That runtime must keep running while these credentials are used.
    ///
    /// Calling from a thread of that runtime is safe when it is a multi-thread runtime (the
    /// worker hands its other tasks over while it waits). From the thread of a current-thread
    /// runtime given here, nothing could run the refresh while the thread waits, so such a
    /// call that must wait fails at once with a [`Configuration`](crate::ErrorKind::Configuration)
    /// error (a fresh token is still served).
    #[must_use]
    pub fn with_handle(mut self, handle: Handle) -> Self {
        self.runner.set_handle(handle);
        self
    }

    /// The limit of [`with_timeout`](Self::with_timeout), if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.runner.timeout()
    }

    /// The request headers: `authorization: Bearer <token>` (marked sensitive) and, with a
    /// quota project, `x-goog-user-project`. As
    /// [`credkit::Credentials::headers`](crate::Credentials::headers), except that a stale
    /// token is always served at once (its refresh runs ahead in the background).
    ///
    /// # Errors
    ///
    /// With no usable token, the refresh's error (every caller waiting on it gets the same);
    /// the blocking API's own: a timeout, or a call that would deadlock (see
    /// [`with_handle`](Self::with_handle)).
    pub fn headers(&self) -> Result<HeaderMap> {
        let mut headers = HeaderMap::with_capacity(2);
        self.before_request(&mut headers)?;
        Ok(headers)
    }

    /// Writes the request headers into `headers`, as [`headers`](Self::headers) makes them:
    /// with a fresh token, one atomic load and no allocation when the map has room.
    ///
    /// # Errors
    ///
    /// As [`headers`](Self::headers).
    pub fn before_request(&self, headers: &mut HeaderMap) -> Result<()> {
        match self.credentials.apply(headers) {
            Ok(TokenState::Fresh) => Ok(()),
            Ok(_) => {
                self.refresh_ahead();
                Ok(())
            }
            Err(_) => {
                let credentials = self.credentials.clone();
                let fetched = self
                    .runner
                    .run(async move { credentials.headers().await })?;
                headers.extend(fetched);
                Ok(())
            }
        }
    }

    /// A token to use now, with its expiry: the cached one while it is usable (a stale one
    /// starts its refresh ahead), else the one refresh's. As
    /// [`credkit::Credentials::access_token`](crate::Credentials::access_token).
    ///
    /// ```
    /// use credkit::blocking;
    /// use credkit::core::{AccessToken, Credentials, StaticSource};
    /// use credkit::core::secrecy::ExposeSecret;
    ///
    /// let credentials = blocking::Credentials::from(Credentials::new(StaticSource::new(
    ///     AccessToken::new("ya29.token"),
    /// )));
    /// let token = credentials.access_token()?;
    /// assert_eq!(token.secret().expose_secret(), "ya29.token");
    /// assert_eq!(token.expiry(), None); // this static token has none
    /// # Ok::<(), credkit::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`headers`](Self::headers).
    pub fn access_token(&self) -> Result<Arc<AccessToken>> {
        // The state first, then the token: a token replaced in between is a newer one.
        match self.credentials.token_state() {
            TokenState::Fresh => {
                if let Some(token) = self.credentials.token() {
                    return Ok(token);
                }
            }
            TokenState::Stale => {
                if let Some(token) = self.credentials.token() {
                    self.refresh_ahead();
                    return Ok(token);
                }
            }
            TokenState::Invalid => {}
        }
        let credentials = self.credentials.clone();
        self.runner
            .run(async move { credentials.access_token().await })
    }

    /// Fetches a new token now, whatever the cached one's state, and returns it once it is
    /// cached: as [`credkit::Credentials::refresh`](crate::Credentials::refresh), joining a
    /// refresh already in flight. Always waits.
    ///
    /// # Errors
    ///
    /// The refresh's error (a token cached before stays cached); a timeout, or a call that
    /// would deadlock (see [`with_handle`](Self::with_handle)).
    pub fn refresh(&self) -> Result<Arc<AccessToken>> {
        let credentials = self.credentials.clone();
        self.runner.run(async move { credentials.refresh().await })
    }

    /// The state of the cached token now: fresh, stale or invalid. Never waits.
    pub fn token_state(&self) -> TokenState {
        self.credentials.token_state()
    }

    /// The async credentials underneath, sharing this cache: for everything else
    /// ([`apply`](crate::Credentials::apply), [`invalidate_if`](crate::Credentials::invalidate_if),
    /// [`expiry`](crate::Credentials::expiry), ...), and for async code.
    pub fn as_async(&self) -> &crate::Credentials {
        &self.credentials
    }

    /// The async credentials underneath.
    pub fn into_async(self) -> crate::Credentials {
        self.credentials
    }

    /// Starts the refresh ahead of a stale token. Credentials with a spawner of their own
    /// already started it there; for those without one, `refresh_ahead` hands it to this
    /// caller, and it runs on the blocking runtime while the caller goes on with the stale
    /// token.
    fn refresh_ahead(&self) {
        if let Some(ahead) = self.credentials.refresh_ahead() {
            self.runner.spawn(ahead);
        }
    }
}

impl From<crate::Credentials> for Credentials {
    /// Blocking access to `credentials`, sharing their cache; refreshes run on the shared
    /// blocking runtime, with no timeout of their own.
    fn from(credentials: crate::Credentials) -> Self {
        Self::with_runner(credentials, Runner::default())
    }
}

impl From<Credentials> for crate::Credentials {
    fn from(credentials: Credentials) -> Self {
        credentials.into_async()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("credentials", &self.credentials)
            .field("own_runtime", &self.runner.has_own_handle())
            .field("timeout", &self.runner.timeout())
            .finish()
    }
}
