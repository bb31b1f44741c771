//! `AuthMiddleware`: credentials on every request of a reqwest-middleware client.

use credkit_core::Credentials;
use credkit_core::endpoint::AttachPolicy;
use http::Extensions;
use http::header::AUTHORIZATION;
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Error, Middleware, Next, Result};

/// A [`reqwest_middleware::Middleware`] that puts credentials on every request and reacts to
/// a 401. Behind the `middleware` feature.
///
/// # Examples
///
/// ```no_run
/// use credkit_reqwest::AuthMiddleware;
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
/// 3. On a **401**, the exact `authorization` value sent is given to
///    [`Credentials::invalidate_if`], so a burst of requests rejected with one token causes
///    one refresh. The request is replayed once with the new token when
///    [`Request::try_clone`] could copy it before it was sent (a streaming body cannot be), and
///    unless [`without_replay`](Self::without_replay) was set; otherwise the 401 is returned.
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
    credentials: Credentials,
    replay: bool,
    policy: AttachPolicy,
}

impl AuthMiddleware {
    /// Authorizes requests with `credentials`; replays a request after a 401 when it can be
    /// cloned, keeps a caller's `Authorization`, and sends no token over plain `http://` off
    /// loopback.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// use credkit_reqwest::AuthMiddleware;
    ///
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let middleware = AuthMiddleware::new(credentials);
    /// # let _ = middleware;
    /// ```
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            replay: true,
            policy: AttachPolicy::new(),
        }
    }

    /// Never replay: a 401 still drops the token that was sent, and is returned.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_reqwest::AuthMiddleware;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let middleware = AuthMiddleware::new(credentials).without_replay();
    /// # let _ = middleware;
    /// ```
    #[must_use]
    pub fn without_replay(mut self) -> Self {
        self.replay = false;
        self
    }

    /// Whether to replace an `Authorization` header the caller set. Default: `false`.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_reqwest::AuthMiddleware;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let middleware = AuthMiddleware::new(credentials).with_overwrite_authorization(true);
    /// # let _ = middleware;
    /// ```
    #[must_use]
    pub fn with_overwrite_authorization(mut self, overwrite: bool) -> Self {
        self.policy = self.policy.with_overwrite_authorization(overwrite);
        self
    }

    /// Whether to send the token over plain `http://` to hosts off loopback, where anyone on
    /// the path can read it. Default: `false`.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_reqwest::AuthMiddleware;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let middleware = AuthMiddleware::new(credentials).dangerous_allow_http(true);
    /// # let _ = middleware;
    /// ```
    #[must_use]
    pub fn dangerous_allow_http(mut self, allow: bool) -> Self {
        self.policy = self.policy.dangerous_allow_http(allow);
        self
    }

    /// The credentials applied to each request.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_reqwest::AuthMiddleware;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let middleware = AuthMiddleware::new(credentials);
    /// assert_eq!(middleware.credentials().source_name(), "static token");
    /// ```
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    fn authorizes(&self, request: &Request) -> bool {
        let url = request.url();
        self.policy
            .attaches(request.headers(), Some(url.scheme()), url.host_str())
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
        if !self.authorizes(&request) {
            return next.run(request, extensions).await;
        }
        let replay = if self.replay {
            request.try_clone()
        } else {
            None
        };
        self.credentials
            .before_request(request.headers_mut())
            .await
            .map_err(Error::middleware)?;
        let sent = request.headers().get(AUTHORIZATION).cloned();
        let response = next.clone().run(request, extensions).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        if let Some(sent) = &sent {
            // Only the first of many requests rejected with this token drops it.
            self.credentials.invalidate_if(sent);
        }
        let Some(mut replay) = replay else {
            return Ok(response);
        };
        drop(response);
        self.credentials
            .before_request(replay.headers_mut())
            .await
            .map_err(Error::middleware)?;
        next.run(replay, extensions).await
    }
}
