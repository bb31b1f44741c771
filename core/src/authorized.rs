//! `AuthorizedTransport`: a [`Transport`] that puts credentials on every request and replays
//! once after a 401.

use async_trait::async_trait;
use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{Request, Response, StatusCode};

use crate::endpoint::AttachPolicy;
use crate::{Credentials, Result, Transport};

/// Wraps a [`Transport`] so that each request carries the headers of a [`Credentials`], and a
/// request rejected with a 401 is sent once more with a new token.
///
/// For users on an HTTP stack of their own (and for credkit's examples): the "authorize,
/// send, on a 401 drop the token and retry once" loop, written once. tower users have
/// `credkit-tower`, reqwest-middleware users the `middleware` feature of `credkit-reqwest`;
/// all three follow the same rules (the first two are
/// [`AttachPolicy`](crate::endpoint::AttachPolicy)):
///
/// - A caller's own `Authorization` header is kept, and that request gets none of the
///   credentials' headers ([`with_overwrite_authorization`](Self::with_overwrite_authorization)
///   changes that).
/// - A plain `http://` request to a host off loopback is sent without them
///   ([`dangerous_allow_http`](Self::dangerous_allow_http) changes that); a URI without a scheme
///   gets them.
/// - The headers are written as [`Credentials::before_request`] does: at once with a fresh or
///   stale token, after the one shared refresh with an invalid one.
/// - On a **401**, the value that was sent is given to [`Credentials::invalidate_if`], so many
///   requests rejected with one token cause one refresh; the request is then replayed once
///   with the new token (a `Bytes` body can always be sent again), unless
///   [`without_replay`](Self::without_replay) was set. The replay's response is returned
///   whatever it is.
///
/// # Examples
///
/// ```
/// use async_trait::async_trait;
/// use bytes::Bytes;
/// use credkit_core::{AccessToken, AuthorizedTransport, Credentials, Result, StaticSource, Transport};
///
/// /// An API that wants one token.
/// #[derive(Debug)]
/// struct Api;
///
/// #[async_trait]
/// impl Transport for Api {
///     async fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>> {
///         let ok = request.headers().get("authorization").is_some_and(|v| v == "Bearer ya29.t");
///         let mut response = http::Response::new(Bytes::new());
///         *response.status_mut() = if ok { http::StatusCode::OK } else { http::StatusCode::UNAUTHORIZED };
///         Ok(response)
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
/// let api = AuthorizedTransport::new(Api, credentials);
/// let request = http::Request::get("https://api.example/v1/files").body(Bytes::new()).unwrap();
/// assert_eq!(api.send(request).await?.status(), 200);
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct AuthorizedTransport<T> {
    transport: T,
    credentials: Credentials,
    replay: bool,
    policy: AttachPolicy,
}

impl<T> AuthorizedTransport<T> {
    /// Sends through `transport`, authorized by `credentials`; replays after a 401, keeps a
    /// caller's `Authorization`, and sends no token over plain `http://` off loopback.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use credkit_core::{AccessToken, AuthorizedTransport, Credentials, StaticSource, Transport};
    ///
    /// fn authorized(transport: Arc<dyn Transport>) -> AuthorizedTransport<Arc<dyn Transport>> {
    ///     let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    ///     AuthorizedTransport::new(transport, credentials)
    /// }
    /// # let _ = authorized;
    /// ```
    pub fn new(transport: T, credentials: Credentials) -> Self {
        Self {
            transport,
            credentials,
            replay: true,
            policy: AttachPolicy::new(),
        }
    }

    /// Never replay: a 401 still drops the token that was sent, and is returned.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, AuthorizedTransport, Credentials, StaticSource};
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let api = AuthorizedTransport::new((), credentials).without_replay();
    /// # let _ = api;
    /// ```
    #[must_use]
    pub fn without_replay(mut self) -> Self {
        self.replay = false;
        self
    }

    /// Whether to replace an `Authorization` header the caller set. Default: `false`.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, AuthorizedTransport, Credentials, StaticSource};
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let api = AuthorizedTransport::new((), credentials).with_overwrite_authorization(true);
    /// # let _ = api;
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
    /// # use credkit_core::{AccessToken, AuthorizedTransport, Credentials, StaticSource};
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let api = AuthorizedTransport::new((), credentials).dangerous_allow_http(true);
    /// # let _ = api;
    /// ```
    #[must_use]
    pub fn dangerous_allow_http(mut self, allow: bool) -> Self {
        self.policy = self.policy.dangerous_allow_http(allow);
        self
    }

    /// The wrapped transport.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, AuthorizedTransport, Credentials, StaticSource};
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let api = AuthorizedTransport::new(7_u8, credentials);
    /// assert_eq!(*api.get_ref(), 7);
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.transport
    }

    /// The wrapped transport, unwrapped.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, AuthorizedTransport, Credentials, StaticSource};
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// assert_eq!(AuthorizedTransport::new(7_u8, credentials).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.transport
    }

    /// The credentials applied to each request.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, AuthorizedTransport, Credentials, StaticSource};
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let api = AuthorizedTransport::new((), credentials);
    /// assert_eq!(api.credentials().source_name(), "static token");
    /// ```
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }
}

#[async_trait]
impl<T: Transport> Transport for AuthorizedTransport<T> {
    async fn send(&self, mut request: Request<Bytes>) -> Result<Response<Bytes>> {
        if !self.policy.attaches_to(&request) {
            return self.transport.send(request).await;
        }
        let replay = self.replay.then(|| copy(&request));
        self.credentials
            .before_request(request.headers_mut())
            .await?;
        let sent = request.headers().get(AUTHORIZATION).cloned();
        let response = self.transport.send(request).await?;
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
            .await?;
        self.transport.send(replay).await
    }
}

/// A copy of `request` (a `Bytes` body is a reference count).
fn copy(request: &Request<Bytes>) -> Request<Bytes> {
    let mut copy = Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    copy
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::executor::block_on;

    use super::*;
    use crate::{AccessToken, TokenSource};

    /// Hands out `ya29.1`, `ya29.2`, … and counts.
    #[derive(Debug, Default)]
    struct Counting(AtomicUsize);

    #[async_trait]
    impl TokenSource for Counting {
        async fn fetch_token(&self) -> Result<AccessToken> {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(AccessToken::new(format!("ya29.{n}")))
        }
    }

    /// Accepts only `accepted`; records what it saw.
    #[derive(Debug)]
    struct Api {
        accepted: &'static str,
        seen: Mutex<Vec<(Option<String>, Bytes)>>,
    }

    impl Api {
        fn accepting(accepted: &'static str) -> Self {
            Self {
                accepted,
                seen: Mutex::new(Vec::new()),
            }
        }
        fn seen(&self) -> Vec<(Option<String>, Bytes)> {
            self.seen.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl Transport for Api {
        async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>> {
            let auth = request
                .headers()
                .get(AUTHORIZATION)
                .map(|v| v.to_str().unwrap().to_owned());
            let ok = auth.as_deref() == Some(self.accepted);
            self.seen
                .lock()
                .unwrap()
                .push((auth, request.body().clone()));
            let mut response = Response::new(Bytes::new());
            if !ok {
                *response.status_mut() = StatusCode::UNAUTHORIZED;
            }
            Ok(response)
        }
    }

    fn post(uri: &str) -> Request<Bytes> {
        Request::post(uri)
            .body(Bytes::from_static(b"payload"))
            .unwrap()
    }

    #[test]
    fn a_401_drops_the_token_and_replays_once_with_the_body() {
        let credentials = Credentials::new(Counting::default());
        let api = AuthorizedTransport::new(Api::accepting("Bearer ya29.2"), credentials);
        let response = block_on(api.send(post("https://api.example/x"))).unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let seen = api.get_ref().seen();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].0.as_deref(), Some("Bearer ya29.1"));
        assert_eq!(seen[1].0.as_deref(), Some("Bearer ya29.2"));
        assert_eq!(seen[1].1, "payload");
    }

    #[test]
    fn the_replay_is_the_last_try() {
        let credentials = Credentials::new(Counting::default());
        let api = AuthorizedTransport::new(Api::accepting("never"), credentials);
        let response = block_on(api.send(post("https://api.example/x"))).unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(api.get_ref().seen().len(), 2);
    }

    #[test]
    fn without_replay_the_401_is_returned_and_the_token_dropped() {
        let credentials = Credentials::new(Counting::default());
        let api =
            AuthorizedTransport::new(Api::accepting("never"), credentials.clone()).without_replay();
        let response = block_on(api.send(post("https://api.example/x"))).unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(api.get_ref().seen().len(), 1);
        assert!(credentials.token().is_none());
    }

    #[test]
    fn the_callers_authorization_and_plain_http_are_left_alone() {
        let credentials = Credentials::new(Counting::default());
        let api = AuthorizedTransport::new(Api::accepting("Basic mine"), credentials);
        let mut own = post("https://api.example/x");
        own.headers_mut()
            .insert(AUTHORIZATION, "Basic mine".parse().unwrap());
        assert_eq!(block_on(api.send(own)).unwrap().status(), StatusCode::OK);
        let _ = block_on(api.send(post("http://api.example/x"))).unwrap();
        let _ = block_on(api.send(post("http://127.0.0.1:1/x"))).unwrap();
        let seen: Vec<_> = api.get_ref().seen().into_iter().map(|s| s.0).collect();
        assert_eq!(seen[0].as_deref(), Some("Basic mine"));
        assert_eq!(seen[1], None);
        assert_eq!(seen[2].as_deref(), Some("Bearer ya29.1"));
    }

    #[test]
    fn options_change_the_rules() {
        let credentials = Credentials::new(Counting::default());
        let api = AuthorizedTransport::new(Api::accepting("Bearer ya29.1"), credentials)
            .with_overwrite_authorization(true)
            .dangerous_allow_http(true);
        let mut own = post("http://api.example/x");
        own.headers_mut()
            .insert(AUTHORIZATION, "Basic mine".parse().unwrap());
        assert_eq!(block_on(api.send(own)).unwrap().status(), StatusCode::OK);
    }
}
