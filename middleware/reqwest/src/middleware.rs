//! `AuthMiddleware`: credentials on every request of a reqwest-middleware client.

use credkit_core::authorize::{Answer, Authorization, Authorizer};
use credkit_core::{Credentials, RefreshAhead};
use http::{Extensions, HeaderMap};
use reqwest::{Request, Response};
use reqwest_middleware::{Error, Middleware, Next, Result};

/// A [`reqwest_middleware::Middleware`] that puts credentials on every request and reacts to
/// a 401.
///
/// # Examples
///
/// ```no_run
/// use credkit_reqwest_middleware::AuthMiddleware;
/// # use credkit_core::{AccessToken, Credentials, StaticSource};
///
/// # #[allow(dead_code)]
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(AuthMiddleware::new(credentials))
///     .build();
/// let files = client.get("https://api.example/v1/files").send().await?;
/// # let _ = files;
/// # Ok(())
/// # }
/// ```
///
/// For each request:
///
/// 1. If the caller set its own `Authorization` header, or the URL is plain `http://` to a
///    host off loopback, the request is sent as it is (both rules can be changed).
/// 2. Otherwise the credentials' headers are written, marked sensitive: at once with a fresh
///    or stale token (a stale one is refreshed ahead), after the one shared refresh with an
///    invalid one.
/// 3. On a **401**, the token the request carried is dropped, so a burst of requests rejected
///    with one token causes one refresh. The request is replayed once with the new token when
///    [`Request::try_clone`] could copy it before it was sent (a streaming body cannot be), and
///    unless [`without_replay`](Self::without_replay) was set; otherwise the 401 is returned.
///    A token refused right after the refresh that replaced a rejected one is kept and the
///    request not replayed, so an API that refuses every token cannot storm the token
///    endpoint.
///
/// These are the rules of [`credkit_core::authorize`], shared with `credkit-tower` and
/// [`AuthorizedTransport`](credkit_core::AuthorizedTransport); this middleware only translates
/// reqwest's types.
///
/// # Where it goes
///
/// Middleware runs in the order it is attached, the first outermost. Attach it **after**
/// `reqwest_retry::RetryTransientMiddleware`, so each retry passes through it and is
/// authorized with the token current at that moment:
///
/// ```text
/// ClientBuilder::new(client)
///     .with(RetryTransientMiddleware::new_with_policy(policy)) // outer: retries 5xx, timeouts
///     .with(AuthMiddleware::new(credentials))                  // inner: a token per attempt
///     .build()
/// ```
///
/// The other way round, a retry would resend a request whose token was already written.
///
/// # Errors
///
/// When no token could be had, the request fails with [`Error::Middleware`] around the
/// [`credkit_core::Error`]: `err.downcast_ref::<credkit_core::Error>()` on the
/// `anyhow::Error` finds it.
#[derive(Clone, Debug)]
pub struct AuthMiddleware {
    authorizer: Authorizer,
}

impl AuthMiddleware {
    /// Authorizes requests with `credentials`; replays a request after a 401 when it can be
    /// cloned, keeps a caller's `Authorization`, and sends no token over plain `http://` off
    /// loopback.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// use credkit_reqwest_middleware::AuthMiddleware;
    ///
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let middleware = AuthMiddleware::new(credentials);
    /// # let _ = middleware;
    /// ```
    pub fn new(credentials: Credentials) -> Self {
        Self::from_authorizer(Authorizer::new(credentials))
    }

    /// Authorizes requests by `authorizer`'s rules.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// use credkit_core::authorize::Authorizer;
    /// use credkit_reqwest_middleware::AuthMiddleware;
    ///
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let middleware = AuthMiddleware::from_authorizer(Authorizer::new(credentials));
    /// # let _ = middleware;
    /// ```
    pub fn from_authorizer(authorizer: Authorizer) -> Self {
        Self { authorizer }
    }

    /// Never replay: a 401 still drops the token that was sent, and is returned.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_reqwest_middleware::AuthMiddleware;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let middleware = AuthMiddleware::new(credentials).without_replay();
    /// # let _ = middleware;
    /// ```
    #[must_use]
    pub fn without_replay(mut self) -> Self {
        self.authorizer = self.authorizer.without_replay();
        self
    }

    /// Whether to replace an `Authorization` header the caller set. Default: `false`.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_reqwest_middleware::AuthMiddleware;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let middleware = AuthMiddleware::new(credentials).with_overwrite_authorization(true);
    /// # let _ = middleware;
    /// ```
    #[must_use]
    pub fn with_overwrite_authorization(mut self, overwrite: bool) -> Self {
        self.authorizer = self.authorizer.with_overwrite_authorization(overwrite);
        self
    }

    /// Whether to send the token over plain `http://` to hosts off loopback, where anyone on
    /// the path can read it. Default: `false`.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_reqwest_middleware::AuthMiddleware;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let middleware = AuthMiddleware::new(credentials).dangerous_allow_http(true);
    /// # let _ = middleware;
    /// ```
    #[must_use]
    pub fn dangerous_allow_http(mut self, allow: bool) -> Self {
        self.authorizer = self.authorizer.dangerous_allow_http(allow);
        self
    }

    /// The credentials applied to each request.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_reqwest_middleware::AuthMiddleware;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let middleware = AuthMiddleware::new(credentials);
    /// assert_eq!(middleware.credentials().source_name(), "static token");
    /// ```
    pub fn credentials(&self) -> &Credentials {
        self.authorizer.credentials()
    }

    /// The rules applied to each request.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_reqwest_middleware::AuthMiddleware;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// assert!(AuthMiddleware::new(credentials).authorizer().replays());
    /// ```
    pub fn authorizer(&self) -> &Authorizer {
        &self.authorizer
    }

    /// The authorizer's verdict on `request` (its URL is borrowed while its headers are
    /// written, so they are taken out meanwhile; an empty map does not allocate).
    fn authorize(&self, request: &mut Request) -> Authorization {
        let mut headers = std::mem::replace(request.headers_mut(), HeaderMap::new());
        let url = request.url();
        let authorization =
            self.authorizer
                .authorize_headers(Some(url.scheme()), url.host_str(), &mut headers);
        *request.headers_mut() = headers;
        authorization
    }
}

#[async_trait::async_trait]
impl Middleware for AuthMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let authorizer = &self.authorizer;
        // Copied before the headers are written; `None` for a body that cannot be.
        let replay = authorizer.replays().then(|| request.try_clone()).flatten();
        let authorization = self.authorize(&mut request);
        let ready = authorization.ready(request.headers_mut()).await;
        let Some(ready) = ready.map_err(Error::middleware)? else {
            return next.run(request, extensions).await;
        };
        let sending = next.clone().run(request, extensions);
        let response = RefreshAhead::beside(ready.ahead, sending).await?;
        let answer = authorizer.answered(response.status(), ready.sent);
        let (Answer::Replay, Some(mut replay)) = (answer, replay) else {
            return Ok(response);
        };
        drop(response);
        let authorization = authorizer.authorize_replay(replay.headers_mut());
        let ready = authorization.ready(replay.headers_mut()).await;
        let Some(ready) = ready.map_err(Error::middleware)? else {
            return next.run(replay, extensions).await;
        };
        let response = RefreshAhead::beside(ready.ahead, next.run(replay, extensions)).await?;
        // The replay is the last try: its 401 is taken, and returned.
        let _last = authorizer.answered(response.status(), ready.sent);
        Ok(response)
    }
}
