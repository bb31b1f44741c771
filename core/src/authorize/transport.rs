//! `AuthorizedTransport`: a [`Transport`] that puts credentials on every request and replays
//! once after a 401.

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};

use super::{Answer, Authorizer};
use crate::{Credentials, RefreshAhead, Result, Transport};

/// Wraps a [`Transport`] so that each request carries the headers of a [`Credentials`], and a
/// request rejected with a 401 is sent once more with a new token.
///
/// For users on an HTTP stack of their own (and for credkit's examples): the "authorize,
/// send, on a 401 drop the token and retry once" loop, as a thin adapter over the
/// [`Authorizer`]. tower users have `credkit-tower`, reqwest-middleware users the `middleware`
/// feature of `credkit-reqwest`; all three are adapters over the same authorizer, so they
/// follow the same rules (see [`authorize`](super) for all of them):
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
///   whatever it is. A token refused right after the refresh that replaced a rejected one is
///   kept and the request not replayed: a persistent 401 cannot storm the token endpoint.
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
    authorizer: Authorizer,
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
        Self::with_authorizer(transport, Authorizer::new(credentials))
    }

    /// Sends through `transport`, authorized by `authorizer` and its rules.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, AuthorizedTransport, Credentials, StaticSource};
    /// use credkit_core::authorize::Authorizer;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let authorizer = Authorizer::new(credentials).without_replay();
    /// let api = AuthorizedTransport::with_authorizer((), authorizer);
    /// assert!(!api.authorizer().replays());
    /// ```
    pub fn with_authorizer(transport: T, authorizer: Authorizer) -> Self {
        Self {
            transport,
            authorizer,
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
    pub fn without_replay(self) -> Self {
        self.map(Authorizer::without_replay)
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
    pub fn with_overwrite_authorization(self, overwrite: bool) -> Self {
        self.map(|a| a.with_overwrite_authorization(overwrite))
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
    pub fn dangerous_allow_http(self, allow: bool) -> Self {
        self.map(|a| a.dangerous_allow_http(allow))
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
        self.authorizer.credentials()
    }

    /// The rules applied to each request.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, AuthorizedTransport, Credentials, StaticSource};
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// assert!(AuthorizedTransport::new((), credentials).authorizer().replays());
    /// ```
    pub fn authorizer(&self) -> &Authorizer {
        &self.authorizer
    }

    fn map(mut self, f: impl FnOnce(Authorizer) -> Authorizer) -> Self {
        self.authorizer = f(self.authorizer);
        self
    }
}

#[async_trait]
impl<T: Transport> Transport for AuthorizedTransport<T> {
    async fn send(&self, mut request: Request<Bytes>) -> Result<Response<Bytes>> {
        let authorizer = &self.authorizer;
        // Copied before the headers are written (a `Bytes` body is a reference count).
        let replay = authorizer.replays().then(|| copy(&request));
        let authorization = authorizer.authorize(&mut request);
        let Some(ready) = authorization.ready(request.headers_mut()).await? else {
            return self.transport.send(request).await;
        };
        let response = RefreshAhead::beside(ready.ahead, self.transport.send(request)).await?;
        let (Answer::Replay, Some(mut replay)) =
            (authorizer.answered(response.status(), ready.sent), replay)
        else {
            return Ok(response);
        };
        drop(response);
        let authorization = authorizer.authorize_replay(replay.headers_mut());
        let Some(ready) = authorization.ready(replay.headers_mut()).await? else {
            return self.transport.send(replay).await;
        };
        let response = RefreshAhead::beside(ready.ahead, self.transport.send(replay)).await?;
        // The replay is the last try: its 401 is taken, and returned.
        let _last = authorizer.answered(response.status(), ready.sent);
        Ok(response)
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

    use futures::executor::block_on;
    use http::StatusCode;
    use http::header::AUTHORIZATION;

    use super::*;
    use crate::authorize::tests::Counting;

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
