//! `AuthLayer`: builds [`Auth`] services.

use std::fmt;
use std::sync::Arc;

use credkit_core::Credentials;
use credkit_core::authorize::Authorizer;
use tower_layer::Layer;

use crate::replay::{BufferBody, CloneBody, NoReplay};
use crate::service::Auth;
use crate::settings::Settings;

/// A [`Layer`] that puts credentials on every request of the service it wraps: see [`Auth`].
///
/// A clone costs one `Arc`, and so does each service it builds.
///
/// # Examples
///
/// ```
/// use credkit_core::{AccessToken, Credentials, StaticSource};
/// use credkit_tower::AuthLayer;
/// use tower::ServiceBuilder;
/// # use std::convert::Infallible;
/// # use http_body_util::Full;
/// # use bytes::Bytes;
///
/// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
/// let client = ServiceBuilder::new()
///     .layer(AuthLayer::new(credentials))
///     .service_fn(|request: http::Request<Full<Bytes>>| async move {
///         // A real client sends it; this one answers with the header it got.
///         let auth = request.headers()["authorization"].clone();
///         Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::copy_from_slice(auth.as_bytes()))))
///     });
/// # let _ = client;
/// ```
pub struct AuthLayer<R = CloneBody> {
    settings: Arc<Settings<R>>,
}

impl AuthLayer {
    /// A layer that authorizes requests with `credentials`, replaying a request rejected with
    /// a 401 once when its body is `Clone` ([`CloneBody`]).
    ///
    /// The defaults: no token on plain `http://` off loopback, a caller's own `Authorization`
    /// left alone, replay by cloning the body.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// use credkit_tower::AuthLayer;
    ///
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let layer = AuthLayer::new(credentials);
    /// # let _ = layer;
    /// ```
    pub fn new(credentials: Credentials) -> Self {
        Self {
            settings: Arc::new(Settings::new(Authorizer::new(credentials), CloneBody)),
        }
    }

    /// A layer that authorizes requests by `authorizer`'s rules (shared with credkit's other
    /// adapters), replaying a request rejected with a 401 once when its body is `Clone`.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// use credkit_core::authorize::Authorizer;
    /// use credkit_tower::AuthLayer;
    ///
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let layer = AuthLayer::from_authorizer(Authorizer::new(credentials));
    /// # let _ = layer;
    /// ```
    pub fn from_authorizer(authorizer: Authorizer) -> Self {
        Self {
            settings: Arc::new(Settings::new(authorizer, CloneBody)),
        }
    }
}

impl<R: Clone> AuthLayer<R> {
    /// Whether to replace an `Authorization` header the caller set on a request. Default:
    /// `false`, the caller's header is sent as it is and the request gets none of the
    /// credentials' headers (nor is it replayed after a 401).
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_tower::AuthLayer;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let layer = AuthLayer::new(credentials).with_overwrite_authorization(true);
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn with_overwrite_authorization(self, overwrite: bool) -> Self {
        self.map(|mut settings| {
            settings.authorizer = settings.authorizer.with_overwrite_authorization(overwrite);
            settings
        })
    }

    /// Whether to send the token over plain `http://` to hosts off loopback, where anyone on
    /// the path can read it and use it. Default: `false`, such a request is sent without the
    /// credentials' headers. `https://`, `http://` to a loopback host (`127.0.0.0/8`, `::1`,
    /// `localhost`) and URIs without a scheme always get them.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_tower::AuthLayer;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// // Only inside a network you trust end to end.
    /// let layer = AuthLayer::new(credentials).dangerous_allow_http(true);
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn dangerous_allow_http(self, allow: bool) -> Self {
        self.map(|mut settings| {
            settings.authorizer = settings.authorizer.dangerous_allow_http(allow);
            settings
        })
    }

    /// Never replay a request: a 401 still drops the token that was sent (so the next request
    /// gets a new one) and is returned as it came. Works with any body type.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_tower::AuthLayer;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let layer = AuthLayer::new(credentials).without_replay();
    /// # let _ = layer;
    /// ```
    pub fn without_replay(self) -> AuthLayer<NoReplay> {
        self.map(|mut settings| {
            settings.authorizer = settings.authorizer.without_replay();
            settings.with_replay(NoReplay)
        })
    }

    /// Replay a body that is not `Clone` by reading it into memory first, when its size hint
    /// says it is at most `limit` bytes; see [`BufferBody`]. Streams are sent unread and not
    /// replayed.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_tower::AuthLayer;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let layer = AuthLayer::new(credentials).with_buffered_replay(64 * 1024);
    /// # let _ = layer;
    /// ```
    pub fn with_buffered_replay(self, limit: usize) -> AuthLayer<BufferBody> {
        self.map(|settings| settings.with_replay(BufferBody::new(limit)))
    }

    /// The credentials this layer applies.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_tower::AuthLayer;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let layer = AuthLayer::new(credentials);
    /// assert_eq!(layer.credentials().source_name(), "static token");
    /// ```
    pub fn credentials(&self) -> &Credentials {
        self.settings.authorizer.credentials()
    }

    /// The rules this layer applies, shared with credkit's other adapters.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_tower::AuthLayer;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let layer = AuthLayer::new(credentials).without_replay();
    /// assert!(!layer.authorizer().replays());
    /// ```
    pub fn authorizer(&self) -> &Authorizer {
        &self.settings.authorizer
    }

    fn map<R2>(self, f: impl FnOnce(Settings<R>) -> Settings<R2>) -> AuthLayer<R2> {
        AuthLayer {
            settings: Arc::new(f(Arc::unwrap_or_clone(self.settings))),
        }
    }
}

impl<S, R> Layer<S> for AuthLayer<R> {
    type Service = Auth<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth::from_settings(inner, Arc::clone(&self.settings))
    }
}

impl<R> Clone for AuthLayer<R> {
    fn clone(&self) -> Self {
        Self {
            settings: Arc::clone(&self.settings),
        }
    }
}

impl<R: fmt::Debug> fmt::Debug for AuthLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("settings", &self.settings)
            .finish()
    }
}
