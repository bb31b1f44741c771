//! `Authorizer`: the rules for putting credentials on requests and for a 401, held once.

use http::{HeaderMap, StatusCode};

use super::AttachPolicy;
use super::step::{Answer, Authorization, Ready, Sent, TokenWait};
use crate::Credentials;
use crate::credentials::{Rejection, Written};

/// Decides, for each request, whether and how it gets a [`Credentials`]' headers, and, for
/// each response, whether the request is replayed: see the [module docs](super).
///
/// It does no I/O and owns no request: an adapter for an HTTP stack calls
/// [`authorize`](Self::authorize) before sending and [`answered`](Self::answered) after. A
/// clone costs one reference count.
///
/// ```
/// use credkit_core::authorize::{Authorization, Authorizer};
/// use credkit_core::{AccessToken, Credentials, StaticSource};
///
/// # futures::executor::block_on(async {
/// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
/// credentials.refresh().await?;
/// let authorizer = Authorizer::new(credentials);
/// let mut request = http::Request::get("https://api.example/v1/files").body(())?;
/// assert!(matches!(authorizer.authorize(&mut request), Authorization::Ready(_)));
/// assert_eq!(request.headers()["authorization"], "Bearer ya29.t");
///
/// let mut plain = http::Request::get("http://api.example/v1/files").body(())?;
/// assert!(matches!(authorizer.authorize(&mut plain), Authorization::Skip));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Authorizer {
    credentials: Credentials,
    policy: AttachPolicy,
    replay: bool,
}

impl Authorizer {
    /// Authorizes with `credentials` under the default rules: replay after a 401, keep a
    /// caller's `Authorization`, no token over plain `http://` off loopback.
    ///
    /// ```
    /// # use credkit_core::authorize::Authorizer;
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let authorizer = Authorizer::new(credentials);
    /// assert!(authorizer.replays());
    /// ```
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            policy: AttachPolicy::new(),
            replay: true,
        }
    }

    /// Never replay: a 401 still drops the token that was sent, and is returned.
    ///
    /// ```
    /// # use credkit_core::authorize::Authorizer;
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// assert!(!Authorizer::new(credentials).without_replay().replays());
    /// ```
    #[must_use]
    pub fn without_replay(mut self) -> Self {
        self.replay = false;
        self
    }

    /// Whether to replace an `Authorization` header the caller set. Default: `false`, the
    /// caller's header is sent as it is and the request gets none of the credentials' headers.
    ///
    /// ```
    /// # use credkit_core::authorize::Authorizer;
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let authorizer = Authorizer::new(credentials).with_overwrite_authorization(true);
    /// # let _ = authorizer;
    /// ```
    #[must_use]
    pub fn with_overwrite_authorization(mut self, overwrite: bool) -> Self {
        self.policy = self.policy.with_overwrite_authorization(overwrite);
        self
    }

    /// Whether to send the token over plain `http://` to hosts off loopback, where anyone on
    /// the path can read it and use it. Default: `false`. `https://`, `http://` to a loopback
    /// host (`127.0.0.0/8`, `::1`, `localhost`) and URIs without a scheme always get it.
    ///
    /// ```
    /// # use credkit_core::authorize::Authorizer;
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// // Only inside a network you trust end to end.
    /// let authorizer = Authorizer::new(credentials).dangerous_allow_http(true);
    /// # let _ = authorizer;
    /// ```
    #[must_use]
    pub fn dangerous_allow_http(mut self, allow: bool) -> Self {
        self.policy = self.policy.dangerous_allow_http(allow);
        self
    }

    /// The credentials applied.
    ///
    /// ```
    /// # use credkit_core::authorize::Authorizer;
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// assert_eq!(Authorizer::new(credentials).credentials().source_name(), "static token");
    /// ```
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Whether a rejected request is replayed (when the adapter kept a copy of it).
    ///
    /// ```
    /// # use credkit_core::authorize::Authorizer;
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// assert!(Authorizer::new(credentials).replays());
    /// ```
    pub fn replays(&self) -> bool {
        self.replay
    }

    /// The rules for which requests get the credentials.
    ///
    /// ```
    /// # use credkit_core::authorize::{AttachPolicy, Authorizer};
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// assert_eq!(Authorizer::new(credentials).policy(), AttachPolicy::new());
    /// ```
    pub fn policy(&self) -> AttachPolicy {
        self.policy
    }

    /// For an `http` request about to be sent: whether it gets the credentials and, if so,
    /// the headers written (at once with a fresh or stale token) or the wait for a usable one.
    ///
    /// With a fresh token this costs what [`Credentials::apply`] costs: no lock, no
    /// allocation when the headers have room, no await.
    #[inline]
    pub fn authorize<B>(&self, request: &mut http::Request<B>) -> Authorization {
        if !self.policy.attaches_to(request) {
            return Authorization::Skip;
        }
        self.write(request.headers_mut(), false)
    }

    /// [`authorize`](Self::authorize) for a request of another type (a `reqwest::Request`,
    /// say): its `headers`, and its URL's `scheme` and `host` (`None` when the URL has none).
    ///
    /// ```
    /// # use credkit_core::authorize::{Authorization, Authorizer};
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let authorizer = Authorizer::new(credentials);
    /// let mut headers = http::HeaderMap::new();
    /// let plain = authorizer.authorize_headers(Some("http"), Some("api.example"), &mut headers);
    /// assert!(matches!(plain, Authorization::Skip));
    /// ```
    #[inline]
    pub fn authorize_headers(
        &self,
        scheme: Option<&str>,
        host: Option<&str>,
        headers: &mut HeaderMap,
    ) -> Authorization {
        if !self.policy.attaches(headers, scheme, host) {
            return Authorization::Skip;
        }
        self.write(headers, false)
    }

    /// For the replay of a request that [`answered`](Self::answered) said to replay: its
    /// copy's `headers` get the credentials (replacing any there, the first send's included),
    /// as [`authorize`](Self::authorize) would. Never [`Skip`](Authorization::Skip).
    pub fn authorize_replay(&self, headers: &mut HeaderMap) -> Authorization {
        self.write(headers, true)
    }

    #[inline]
    fn write(&self, headers: &mut HeaderMap, replayed: bool) -> Authorization {
        match self.credentials.write_usable(headers) {
            Written::Usable { token, ahead } => Authorization::Ready(Ready {
                sent: Sent { token, replayed },
                ahead,
            }),
            Written::Unusable => Authorization::Wait(TokenWait {
                future: self.credentials.usable_later(),
                replayed,
            }),
        }
    }

    /// The response to a request that carried `sent` came with `status`: whether to replay
    /// the request.
    ///
    /// Anything but a 401 is returned. A 401 drops the token the request carried, unless the
    /// cache already moved on (another rejected request dropped it first) or the token had
    /// just replaced a rejected one (see the [module docs](super)). The request is replayed
    /// when replay is on, it was not itself the replay, and the next request will carry
    /// another token.
    ///
    /// ```
    /// # use credkit_core::authorize::{Answer, Authorizer};
    /// # use credkit_core::{AccessToken, Credentials, StaticSource, TokenState};
    /// # futures::executor::block_on(async {
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let authorizer = Authorizer::new(credentials.clone());
    /// let mut request = http::Request::get("https://api.example/v1").body(())?;
    /// let ready = authorizer.authorize(&mut request).ready(request.headers_mut()).await?.unwrap();
    /// assert_eq!(authorizer.answered(http::StatusCode::OK, ready.sent), Answer::Return);
    /// assert_eq!(authorizer.answered(http::StatusCode::UNAUTHORIZED, ready.sent), Answer::Replay);
    /// assert_eq!(credentials.token_state(), TokenState::Invalid);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[inline]
    pub fn answered(&self, status: StatusCode, sent: Sent) -> Answer {
        if status != StatusCode::UNAUTHORIZED {
            return Answer::Return;
        }
        self.rejected(sent)
    }

    /// A 401: the token is dropped or kept, and the request replayed or not.
    #[cold]
    fn rejected(&self, sent: Sent) -> Answer {
        let rejection = self.credentials.reject(sent.token);
        if self.replay && !sent.replayed && rejection != Rejection::Kept {
            Answer::Replay
        } else {
            Answer::Return
        }
    }
}
