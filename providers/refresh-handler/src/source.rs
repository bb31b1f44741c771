//! `RefreshHandlerSource`: a `TokenSource` over a `RefreshHandler`, validated as the reference
//! validates a refresh handler's result.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::{
    AccessToken, BuildError, Clock, Error, ErrorKind, Result, SystemClock, TokenSource, Transport,
};
use secrecy::SecretString;
use time::OffsetDateTime;

use crate::RefreshHandler;

/// The reference library's message for a handler result that is already expired, kept verbatim.
pub(crate) const ALREADY_EXPIRED: &str =
    "The credentials returned by the refresh_handler are already expired.";

/// A [`TokenSource`] that gets its tokens from a [`RefreshHandler`]: the reference library's
/// `refresh_handler` path (the `refresh_handler` parameter of `google.oauth2.credentials.Credentials`
/// in <https://github.com/googleapis/google-auth-library-python>), usable on its own as a
/// plugin-style source.
///
/// Each [`fetch_token`](TokenSource::fetch_token) calls the handler once with the transport and
/// the scopes given at build time, checks what it returned, and hands out an [`AccessToken`]
/// with the handler's expiry and no issue time: a handler says when its token expires, not when
/// it was issued (a broker may hand out a cached token with a minute left), so the caching layer
/// uses its full refresh threshold (225 seconds, or the one configured) rather than a quarter of
/// a lifetime it cannot know.
///
/// It is a cheap handle: clones share the handler, the transport and the clock, so there is no
/// need to wrap it in an `Arc`.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use credkit_core::{Clock, TokenSource, Transport};
/// use credkit_refresh_handler::{handler_fn, RefreshHandlerSource};
/// use credkit_testing::{FakeClock, MockTransport};
/// use secrecy::ExposeSecret;
///
/// # futures::executor::block_on(async {
/// let clock = FakeClock::new();
/// let expiry = clock.now() + time::Duration::minutes(5); // a short-lived broker token
/// let handler = handler_fn(move |_transport, scopes| async move {
///     assert_eq!(&*scopes, ["email"]);
///     Ok((String::from("ya29.from-the-broker"), expiry))
/// });
/// let transport: Arc<dyn Transport> = Arc::new(MockTransport::new());
/// let source = RefreshHandlerSource::builder(handler, transport)
///     .with_scopes(["email"])
///     .with_clock(clock.clone())
///     .build()?;
///
/// let token = source.fetch_token().await?;
/// assert_eq!(token.secret().expose_secret(), "ya29.from-the-broker");
/// assert_eq!(token.expiry(), Some(expiry));
/// assert_eq!(token.issued_at(), None); // unknown: the full refresh threshold applies
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// # Validation
///
/// The reference checks three things about a handler's result; in Rust the types settle two:
///
/// - `The refresh_handler returned token is not a string.`: the token is a
///   [`SecretString`](secrecy::SecretString) by type. What can still be wrong with a string is
///   checked instead: an empty token, or one with whitespace or control characters (a CR or LF
///   would inject HTTP headers), is refused with an [`ErrorKind::InvalidResponse`] error that
///   never contains the token.
/// - `The refresh_handler returned expiry is not a datetime object.`: the expiry is an
///   [`OffsetDateTime`](time::OffsetDateTime) by type, and cannot be missing.
/// - `The credentials returned by the refresh_handler are already expired.`: kept, with that exact
///   message (an [`ErrorKind::Provider`] error, not transient), for a token whose expiry is not
///   after the moment the handler returns.
///
/// # Short-lived tokens: a difference from the reference
///
/// The reference refuses a handler token whose expiry is less than its fixed 225-second
/// threshold away, so a token that lives 3 minutes can never be used. credkit refuses a token
/// only if it has already expired when the handler returns, and lets the caching layer treat a
/// short one as stale at once (the full threshold, since the issue time is unknown): it is served
/// while a refresh runs ahead, instead of failing the caller.
///
/// # Errors from the handler
///
/// They are returned unchanged: same kind, same message, same transience. The source never
/// retries; the retrying layer does that, reading [`Error::is_transient`].
#[derive(Clone)]
pub struct RefreshHandlerSource {
    inner: Arc<Inner>,
}

struct Inner {
    handler: Arc<dyn RefreshHandler>,
    transport: Arc<dyn Transport>,
    scopes: Arc<[String]>,
    clock: Arc<dyn Clock>,
}

impl RefreshHandlerSource {
    /// A builder for a source calling `handler` with `transport`.
    pub fn builder(
        handler: impl RefreshHandler + 'static,
        transport: Arc<dyn Transport>,
    ) -> RefreshHandlerSourceBuilder {
        RefreshHandlerSourceBuilder {
            handler: Arc::new(handler),
            transport,
            scopes: Vec::new(),
            clock: Arc::new(SystemClock),
        }
    }

    /// A source calling `handler` with `transport`, no scopes and the [`SystemClock`].
    pub fn new(handler: impl RefreshHandler + 'static, transport: Arc<dyn Transport>) -> Self {
        Self {
            inner: Arc::new(Inner {
                handler: Arc::new(handler),
                transport,
                scopes: Arc::from(Vec::new()),
                clock: Arc::new(SystemClock),
            }),
        }
    }

    /// The scopes passed to the handler.
    pub fn scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    /// The handler.
    pub fn handler(&self) -> &dyn RefreshHandler {
        &*self.inner.handler
    }

    /// Checks the handler's result and makes it a token with the handler's expiry (see the type's
    /// "Validation").
    fn accept(&self, secret: &SecretString, expiry: OffsetDateTime) -> Result<AccessToken> {
        let token = AccessToken::validated(secret.clone()).map_err(|err| {
            Error::new(
                ErrorKind::InvalidResponse,
                format!("the access token returned by the refresh_handler is unusable: {err}"),
            )
            .with_source(err)
        })?;
        if self.inner.clock.now() >= expiry {
            return Err(Error::new(ErrorKind::Provider, ALREADY_EXPIRED));
        }
        // No issue time: the handler did not say when the token was issued, and "now" would
        // make a token with a minute left look like a one-minute token, fresh until 15 seconds
        // before its end.
        Ok(token.with_expiry(expiry))
    }
}

#[async_trait]
impl TokenSource for RefreshHandlerSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let inner = &self.inner;
        let (secret, expiry) = inner
            .handler
            .refresh(Arc::clone(&inner.transport), Arc::clone(&inner.scopes))
            .await?;
        self.accept(&secret, expiry)
    }

    fn name(&self) -> &'static str {
        "refresh handler"
    }

    fn clock(&self) -> Option<Arc<dyn Clock>> {
        Some(Arc::clone(&self.inner.clock))
    }
}

impl fmt::Debug for RefreshHandlerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshHandlerSource")
            .field("handler", &self.inner.handler)
            .field("transport", &self.inner.transport)
            .field("scopes", &self.inner.scopes)
            .field("clock", &self.inner.clock)
            .finish()
    }
}

/// Builds a [`RefreshHandlerSource`].
#[must_use]
pub struct RefreshHandlerSourceBuilder {
    handler: Arc<dyn RefreshHandler>,
    transport: Arc<dyn Transport>,
    scopes: Vec<String>,
    clock: Arc<dyn Clock>,
}

impl RefreshHandlerSourceBuilder {
    /// The scopes passed to the handler on every call. Default none (an empty list).
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The clock that decides "now" for the expiry check. Default
    /// [`SystemClock`].
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Builds the source.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] ([`is_invalid_value`](BuildError::is_invalid_value)) if a scope is empty
    /// or contains whitespace: scopes travel as one space-separated list.
    pub fn build(self) -> Result<RefreshHandlerSource, BuildError> {
        if let Some(bad) = self
            .scopes
            .iter()
            .find(|scope| scope.is_empty() || scope.chars().any(char::is_whitespace))
        {
            return Err(BuildError::invalid_value(format!(
                "the scope {bad:?} is empty or contains whitespace"
            )));
        }
        Ok(RefreshHandlerSource {
            inner: Arc::new(Inner {
                handler: self.handler,
                transport: self.transport,
                scopes: Arc::from(self.scopes),
                clock: self.clock,
            }),
        })
    }
}

impl fmt::Debug for RefreshHandlerSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshHandlerSourceBuilder")
            .field("handler", &self.handler)
            .field("transport", &self.transport)
            .field("scopes", &self.scopes)
            .field("clock", &self.clock)
            .finish()
    }
}
