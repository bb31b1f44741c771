//! The `RefreshHandler` trait and the `handler_fn` adaptor.

use std::any::type_name;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::{Result, Transport};
use secrecy::SecretString;
use time::OffsetDateTime;

/// A caller-supplied function that gets an access token and its expiry: the reference library's
/// `refresh_handler`.
///
/// It receives the [`Transport`] the credentials use (for HTTP calls of its own, to a token broker
/// say) and the requested scopes, and returns the token and the instant it expires.
/// [`RefreshHandlerSource`](crate::RefreshHandlerSource) validates what it returns.
///
/// Plain async closures become handlers through [`handler_fn`]; implement the trait on a type of
/// your own when the handler has state or a name worth showing in `Debug`.
///
/// # Contract
///
/// - **Fetch, don't cache.** Each call should return a token that is not already expired. The
///   caching layer decides when to call; a handler that returns the same stale token every time
///   makes every call fail.
/// - **Errors** are passed through to the caller unchanged, so classify them: build them with
///   [`Error::new`](credkit_core::Error::new) and mark them
///   [`with_transient(true)`](credkit_core::Error::with_transient) only where trying again may
///   help (the retrying layer reads only that).
/// - **Thread safety and cancellation.** Shared as `Arc<dyn RefreshHandler>` and may be called
///   from several threads; the future may be dropped at any `.await`.
/// - **Secrets.** Return the token as a [`SecretString`]; never put it in an error or a log line.
///
/// # Examples
///
/// A handler with state, implemented on a type:
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use credkit_core::{Result, Transport};
/// use credkit_refresh_handler::RefreshHandler;
/// use secrecy::SecretString;
/// use time::OffsetDateTime;
///
/// #[derive(Debug)]
/// struct Broker {
///     audience: String,
/// }
///
/// #[async_trait]
/// impl RefreshHandler for Broker {
///     async fn refresh(
///         &self,
///         _transport: Arc<dyn Transport>,
///         _scopes: Arc<[String]>,
///     ) -> Result<(SecretString, OffsetDateTime)> {
///         // A real broker would send a request through the transport here.
///         let token = SecretString::from(format!("ya29.for-{}", self.audience));
///         Ok((token, OffsetDateTime::now_utc() + time::Duration::HOUR))
///     }
/// }
///
/// # use credkit_core::TokenSource;
/// # use credkit_refresh_handler::RefreshHandlerSource;
/// # use secrecy::ExposeSecret;
/// # futures::executor::block_on(async {
/// let transport: Arc<dyn Transport> = Arc::new(credkit_testing::MockTransport::new());
/// let source = RefreshHandlerSource::new(Broker { audience: "storage".into() }, transport);
/// let token = source.fetch_token().await?;
/// assert_eq!(token.secret().expose_secret(), "ya29.for-storage");
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait RefreshHandler: Send + Sync + fmt::Debug {
    /// Gets a new access token for `scopes` and the instant it expires.
    ///
    /// # Errors
    ///
    /// Whatever went wrong, classified as transient or permanent (see the trait docs).
    async fn refresh(
        &self,
        transport: Arc<dyn Transport>,
        scopes: Arc<[String]>,
    ) -> Result<(SecretString, OffsetDateTime)>;
}

credkit_core::forward_impls! {
    #[async_trait]
    trait RefreshHandler {
        async fn refresh(
            &self,
            transport: Arc<dyn Transport>,
            scopes: Arc<[String]>,
        ) -> Result<(SecretString, OffsetDateTime)>;
    }
}

/// Makes an async closure a [`RefreshHandler`], in the style of tower's `service_fn`.
///
/// The closure takes the transport and the scopes by value and returns a future of
/// `Result<(token, expiry)>`, where the token is anything that converts into a [`SecretString`]
/// (a `String`, say).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use credkit_core::{Error, ErrorKind, Transport};
/// use credkit_refresh_handler::{handler_fn, RefreshHandler};
/// use time::OffsetDateTime;
///
/// let handler = handler_fn(|_transport: Arc<dyn Transport>, scopes: Arc<[String]>| async move {
///     if scopes.is_empty() {
///         return Err(Error::new(ErrorKind::Provider, "the broker needs at least one scope"));
///     }
///     Ok((String::from("ya29.from-the-broker"), OffsetDateTime::now_utc() + time::Duration::HOUR))
/// });
/// assert!(format!("{handler:?}").starts_with("HandlerFn"));
/// # fn is_handler(_: &impl RefreshHandler) {}
/// # is_handler(&handler);
/// ```
pub fn handler_fn<F, Fut, T>(f: F) -> HandlerFn<F>
where
    F: Fn(Arc<dyn Transport>, Arc<[String]>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(T, OffsetDateTime)>> + Send,
    T: Into<SecretString>,
{
    HandlerFn { f }
}

/// A [`RefreshHandler`] made from an async closure by [`handler_fn`].
///
/// Its `Debug` shows only the closure's type name, never what the closure captured.
#[derive(Clone, Copy)]
pub struct HandlerFn<F> {
    f: F,
}

impl<F> HandlerFn<F> {
    /// The closure.
    pub fn get_ref(&self) -> &F {
        &self.f
    }

    /// The closure, by value.
    pub fn into_inner(self) -> F {
        self.f
    }
}

impl<F> fmt::Debug for HandlerFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerFn")
            .field("f", &format_args!("{}", type_name::<F>()))
            .finish()
    }
}

#[async_trait]
impl<F, Fut, T> RefreshHandler for HandlerFn<F>
where
    F: Fn(Arc<dyn Transport>, Arc<[String]>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(T, OffsetDateTime)>> + Send,
    T: Into<SecretString>,
{
    async fn refresh(
        &self,
        transport: Arc<dyn Transport>,
        scopes: Arc<[String]>,
    ) -> Result<(SecretString, OffsetDateTime)> {
        let (token, expiry) = (self.f)(transport, scopes).await?;
        Ok((token.into(), expiry))
    }
}
