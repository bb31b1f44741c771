//! `Auth<S>`: the service that puts credentials on requests.

use std::fmt;
use std::mem;
use std::sync::Arc;
use std::task::{Context, Poll};

use credkit_core::Credentials;
use credkit_core::authorize::Authorizer;
use http::{Request, Response};
use tower_service::Service;

use crate::BoxError;
use crate::future::ResponseFuture;
use crate::replay::sealed::Prepare;
use crate::replay::{CloneBody, ReplayPolicy};
use crate::settings::Settings;

/// Puts credentials on every request to an HTTP service `S`, and reacts to a 401.
///
/// Built by [`AuthLayer`](crate::AuthLayer), or by [`Auth::new`]. For each request:
///
/// 1. If the caller set its own `Authorization` header, or the request goes over plain
///    `http://` to a host off loopback, it is sent as it is (both rules can be changed on the
///    layer).
/// 2. Otherwise the credentials' headers are written, marked sensitive: `authorization:
///    Bearer <token>` and, with a quota project, `x-goog-user-project`. A **fresh** token costs
///    the cached values: no lock, no allocation, no await. A **stale** token is written at once
///    and one refresh runs ahead (in the background with a spawner on the credentials, such as
///    `credkit_tokio::TokioSpawner`, or alongside this request without one). Only an **invalid** token (none yet, or expired)
///    makes the request wait, for the one refresh every waiting request shares.
/// 3. When the response is a **401**, the token that request carried is dropped (as
///    [`Credentials::invalidate_if`] would): so any number of requests rejected with one token
///    cause one refresh. The request is then sent once more, with the new token, if the
///    [replay policy](crate::ReplayPolicy) kept a copy; otherwise, or if the replay is
///    rejected too, that 401 is the response. A token refused right after it replaced a
///    rejected one is kept, and the request not replayed (see
///    [`credkit_core::authorize`]).
///
/// # Errors
///
/// The service's error type is [`BoxError`]: the inner service's error, boxed, or a
/// [`credkit_core::Error`] when no token could be had. Downcast to tell them apart:
///
/// ```
/// # use credkit_tower::BoxError;
/// fn is_credentials_error(err: &BoxError) -> bool {
///     err.downcast_ref::<credkit_core::Error>().is_some()
/// }
/// # let err: BoxError = Box::new(credkit_core::Error::internal("example"));
/// # assert!(is_credentials_error(&err));
/// ```
///
/// # Cloning
///
/// `Auth<S>` is `Clone` when `S` is; the shared settings cost one `Arc`. [`call`](Service::call)
/// takes the service that [`poll_ready`](Service::poll_ready) readied into the response
/// future, leaving a clone in its place (tower's clone-and-swap), so a replay can be sent
/// through the same service later.
pub struct Auth<S, R = CloneBody> {
    inner: S,
    settings: Arc<Settings<R>>,
}

impl<S> Auth<S> {
    /// Wraps `inner` with the defaults of [`AuthLayer::new`](crate::AuthLayer::new).
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// use credkit_tower::Auth;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// # let client = tower::service_fn(|_: http::Request<()>| async {
    /// #     Ok::<_, std::convert::Infallible>(http::Response::new(()))
    /// # });
    /// let service = Auth::new(client, credentials);
    /// # let _ = service;
    /// ```
    pub fn new(inner: S, credentials: Credentials) -> Self {
        let authorizer = Authorizer::new(credentials);
        Self::from_settings(inner, Arc::new(Settings::new(authorizer, CloneBody)))
    }
}

impl<S, R> Auth<S, R> {
    pub(crate) fn from_settings(inner: S, settings: Arc<Settings<R>>) -> Self {
        Self { inner, settings }
    }

    /// The inner service.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_tower::Auth;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let service = Auth::new(42_u8, credentials);
    /// assert_eq!(*service.get_ref(), 42);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_tower::Auth;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let mut service = Auth::new(42_u8, credentials);
    /// *service.get_mut() += 1;
    /// assert_eq!(*service.get_ref(), 43);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_tower::Auth;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let service = Auth::new(42_u8, credentials);
    /// assert_eq!(service.into_inner(), 42);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The credentials this service applies.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use credkit_tower::Auth;
    /// # let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let service = Auth::new((), credentials);
    /// assert_eq!(service.credentials().source_name(), "static token");
    /// ```
    pub fn credentials(&self) -> &Credentials {
        self.settings.authorizer.credentials()
    }
}

impl<S, R, B, ResBody> Service<Request<B>> for Auth<S, R>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone,
    S::Error: Into<BoxError>,
    R: ReplayPolicy<B>,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, S, B, <R as Prepare<B>>::Kept<S>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let settings = &self.settings;
        // The readied service goes with the request, for a replay; a clone takes its place.
        let clone = self.inner.clone();
        let service = mem::replace(&mut self.inner, clone);
        ResponseFuture::new(
            settings.authorizer.clone(),
            service,
            request,
            &settings.replay,
        )
    }
}

impl<S: Clone, R> Clone for Auth<S, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            settings: Arc::clone(&self.settings),
        }
    }
}

impl<S: fmt::Debug, R: fmt::Debug> fmt::Debug for Auth<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("inner", &self.inner)
            .field("settings", &self.settings)
            .finish()
    }
}
