//! The one runtime error type shared by every credkit crate, and the construction error.
//!
//! `mod.rs` holds the runtime [`Error`] with its [`ErrorKind`] and [`TransportFailure`];
//! `build.rs` the construction error [`BuildError`]. The OAuth error fields live beside the
//! response parser, in [`crate::oauth`].

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::OAuthError;
use crate::classify;

mod build;
#[cfg(test)]
mod tests;

pub use build::BuildError;

/// A `Result` whose error is credkit's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, coarsely: the category of an [`Error`].
///
/// Match on it with a wildcard arm; new kinds may be added in a minor release.
///
/// ```
/// use credkit_core::{Error, ErrorKind};
///
/// let err = Error::new(ErrorKind::Configuration, "no token endpoint configured");
/// assert_eq!(err.kind(), ErrorKind::Configuration);
/// assert!(!err.is_transient());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request could not be sent or its response not received: connection refused or reset,
    /// a body over the size limit, a broken stream.
    Transport,
    /// An operation took longer than its limit (an HTTP request, an external program).
    Timeout,
    /// The token endpoint answered with an error status.
    TokenEndpoint,
    /// A response or an external program's output could not be understood.
    InvalidResponse,
    /// The credentials cannot be used as configured: missing fields, an unsupported universe
    /// domain, a refused endpoint URL, a malformed credentials file.
    Configuration,
    /// The user must reauthenticate before the refresh token can be used again.
    ReauthRequired,
    /// A provider's own mechanism failed: an external program, a caller-supplied callback.
    Provider,
    /// Loading, storing or removing a credential record failed.
    Storage,
    /// This source has nothing to offer here: no credentials file, no environment variable, no
    /// program installed. A [`ChainSource`](crate::ChainSource) moves on to its next source only
    /// on this kind; every other error stops the chain. A chain none of whose sources is
    /// configured fails with this kind too, with each source's error in [`Error::causes`].
    NotConfigured,
    /// A bug in credkit; please report it.
    Internal,
}

impl ErrorKind {
    /// A short lowercase name for logs and metrics, such as `"token_endpoint"`.
    ///
    /// ```
    /// assert_eq!(credkit_core::ErrorKind::TokenEndpoint.as_str(), "token_endpoint");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Transport => "transport",
            Self::Timeout => "timeout",
            Self::TokenEndpoint => "token_endpoint",
            Self::InvalidResponse => "invalid_response",
            Self::Configuration => "configuration",
            Self::ReauthRequired => "reauth_required",
            Self::Provider => "provider",
            Self::Storage => "storage",
            Self::NotConfigured => "not_configured",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a [`Transport`](crate::Transport) failed, for [`Error::transport`].
///
/// The variant decides the error's kind and transience through the shared classifier, so every
/// transport reports the same failure the same way.
///
/// ```
/// use credkit_core::{Error, ErrorKind, TransportFailure};
///
/// let err = Error::transport(TransportFailure::Connect, "connection refused");
/// assert_eq!(err.kind(), ErrorKind::Transport);
/// assert!(err.is_transient());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportFailure {
    /// The connection could not be established. Transient.
    Connect,
    /// The request or response took too long. Transient, of kind [`ErrorKind::Timeout`].
    Timeout,
    /// The connection was reset or closed mid-exchange. Transient.
    Reset,
    /// The response body exceeded the transport's limit. Permanent.
    BodyTooLarge,
    /// The request itself was refused before sending: an invalid or disallowed URL. Permanent,
    /// of kind [`ErrorKind::Configuration`].
    InvalidRequest,
    /// Any other failure. Permanent.
    Other,
}

/// credkit's runtime error: what every trait method and every provider returns.
///
/// It is opaque and pointer-sized. Ask it what happened with [`kind`](Error::kind), whether a
/// retry may help with [`is_transient`](Error::is_transient), and for token-endpoint errors the
/// HTTP status and the OAuth `error` fields. The cause, if any, is in
/// [`source`](std::error::Error::source). Cloning is cheap, so one refresh's error can be handed
/// to every caller that waited on it.
///
/// Its `Display` is a single line that never contains a secret or a raw response body; where the
/// reference library has an exact message, the text is kept verbatim so it can be searched for.
///
/// # Examples
///
/// ```
/// use credkit_core::{Error, ErrorKind, OAuthError};
///
/// let err = Error::token_endpoint(400, OAuthError::new("invalid_grant"));
/// assert_eq!(err.kind(), ErrorKind::TokenEndpoint);
/// assert_eq!(err.http_status(), Some(400));
/// assert_eq!(err.oauth_error(), Some("invalid_grant"));
/// assert!(!err.is_transient());
/// assert_eq!(err.to_string(), "invalid_grant");
///
/// let busy = Error::token_endpoint(503, OAuthError::new("backend_error"));
/// assert!(busy.is_transient());
/// ```
#[derive(Clone)]
pub struct Error {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    message: Cow<'static, str>,
    transient: bool,
    http_status: Option<u16>,
    oauth: Option<OAuthError>,
    retry_after: Option<Duration>,
    causes: Vec<Error>,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl Error {
    /// An error of `kind` with a one-line `message`.
    ///
    /// The message must not contain a secret.
    ///
    /// # Transience
    ///
    /// The kind alone decides where the error starts, and only [`ErrorKind::Timeout`] starts
    /// transient: a timeout is worth retrying whatever timed out, while every other kind can be
    /// either (a refused connection is, a body over the limit is not). Errors built from an HTTP
    /// status, an OAuth code or a transport failure get their transience from the shared
    /// [`classify`](crate::classify) rules through [`Error::token_endpoint`],
    /// [`Error::unexpected_response`] and [`Error::transport`]; call
    /// [`with_transient`](Error::with_transient) only where a provider knows better.
    ///
    /// ```
    /// use credkit_core::{Error, ErrorKind};
    ///
    /// assert!(Error::new(ErrorKind::Timeout, "gcloud took too long").is_transient());
    /// assert!(!Error::new(ErrorKind::Provider, "gcloud failed").is_transient());
    /// assert!(Error::new(ErrorKind::Provider, "gcloud is busy").with_transient(true).is_transient());
    /// ```
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                kind,
                message: message.into(),
                transient: kind == ErrorKind::Timeout,
                http_status: None,
                oauth: None,
                retry_after: None,
                causes: Vec::new(),
                source: None,
            }),
        }
    }

    /// A transport failure, classified by the shared classifier (see [`TransportFailure`]).
    pub fn transport(failure: TransportFailure, message: impl Into<Cow<'static, str>>) -> Self {
        let kind = match failure {
            TransportFailure::Timeout => ErrorKind::Timeout,
            TransportFailure::InvalidRequest => ErrorKind::Configuration,
            _ => ErrorKind::Transport,
        };
        Self::new(kind, message).with_transient(classify::is_transient_failure(failure))
    }

    /// An OAuth error response from the token endpoint with HTTP `status`.
    ///
    /// The message is `"<error>: <error_description>"`, or `"<error>"` alone. Transient when the
    /// status is 500, 503, 504, 408 or 429, or the OAuth code is transient (see [`OAuthError`]).
    pub fn token_endpoint(status: u16, oauth: OAuthError) -> Self {
        let transient = classify::is_transient_status(status) || oauth.is_transient();
        let mut err =
            Self::new(ErrorKind::TokenEndpoint, oauth.to_string()).with_transient(transient);
        let inner = Arc::make_mut(&mut err.inner);
        inner.http_status = Some(status);
        inner.oauth = Some(oauth);
        err
    }

    /// An error status from the token endpoint whose body is not an OAuth error (an HTML error
    /// page, JSON without `error`). The body is never included; the message names the status and
    /// the content type. Transient exactly when the status is.
    ///
    /// ```
    /// let err = credkit_core::Error::unexpected_response(503, Some("text/html; charset=utf-8"));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "the token endpoint answered HTTP 503 with a text/html body that is not an OAuth error response"
    /// );
    /// assert!(err.is_transient());
    /// ```
    pub fn unexpected_response(status: u16, content_type: Option<&str>) -> Self {
        let media_type = describe_media_type(content_type);
        Self::new(
            ErrorKind::TokenEndpoint,
            format!(
                "the token endpoint answered HTTP {status} with {media_type} body that is not an OAuth error response"
            ),
        )
        .with_transient(classify::is_transient_status(status))
        .with_http_status(status)
    }

    /// "Nothing is configured here": the source has no credentials to offer in this
    /// environment, so a chain may try its next source. Never transient.
    ///
    /// ```
    /// let err = credkit_core::Error::not_configured("GOOGLE_APPLICATION_CREDENTIALS is not set");
    /// assert!(err.is_not_configured());
    /// assert!(!err.is_transient());
    /// ```
    pub fn not_configured(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::NotConfigured, message)
    }

    /// An internal invariant was broken: a bug in credkit.
    pub fn internal(what: &str) -> Self {
        Self::new(
            ErrorKind::Internal,
            format!("internal error: {what}; this is a bug in credkit, please report it"),
        )
    }

    /// Overrides whether the error is transient.
    #[must_use]
    pub fn with_transient(mut self, transient: bool) -> Self {
        Arc::make_mut(&mut self.inner).transient = transient;
        self
    }

    /// Records the HTTP status the error came with. Does not change transience.
    #[must_use]
    pub fn with_http_status(mut self, status: u16) -> Self {
        Arc::make_mut(&mut self.inner).http_status = Some(status);
        self
    }

    /// Records the OAuth error fields the error came with. Does not change the message or
    /// transience.
    #[must_use]
    pub fn with_oauth(mut self, oauth: OAuthError) -> Self {
        Arc::make_mut(&mut self.inner).oauth = Some(oauth);
        self
    }

    /// Records how long the endpoint asked the client to wait (`Retry-After`); the retrying
    /// source honours it, capped by its policy.
    #[must_use]
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        Arc::make_mut(&mut self.inner).retry_after = Some(wait);
        self
    }

    /// Records the errors this one aggregates, in order (each source of a
    /// [`ChainSource`](crate::ChainSource) that had nothing configured, say). Does not change the
    /// kind, the message or transience.
    ///
    /// ```
    /// use credkit_core::Error;
    ///
    /// let err = Error::not_configured("no source is configured")
    ///     .with_causes(vec![Error::not_configured("no file"), Error::not_configured("no gcloud")]);
    /// let reasons: Vec<_> = err.causes().iter().map(Error::message).collect();
    /// assert_eq!(reasons, ["no file", "no gcloud"]);
    /// ```
    #[must_use]
    pub fn with_causes(mut self, causes: Vec<Error>) -> Self {
        Arc::make_mut(&mut self.inner).causes = causes;
        self
    }

    /// Attaches the underlying cause, reported through [`source`](std::error::Error::source).
    /// The cause's own message must not contain a secret either.
    #[must_use]
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        Arc::make_mut(&mut self.inner).source = Some(Arc::new(source));
        self
    }

    /// The category of the error.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// Whether trying again later may succeed: connect, timeout and reset failures, HTTP 500,
    /// 503, 504, 408 and 429, and the OAuth codes `internal_failure`, `server_error` and
    /// `temporarily_unavailable`. Retry layers read only this.
    pub fn is_transient(&self) -> bool {
        self.inner.transient
    }

    /// Whether the source had nothing configured here (kind [`ErrorKind::NotConfigured`]): the
    /// one error a [`ChainSource`](crate::ChainSource) passes over.
    pub fn is_not_configured(&self) -> bool {
        self.inner.kind == ErrorKind::NotConfigured
    }

    /// The HTTP status of the response the error came from, if any.
    pub fn http_status(&self) -> Option<u16> {
        self.inner.http_status
    }

    /// The OAuth `error` code (RFC 6749 section 5.2), such as `invalid_grant`.
    pub fn oauth_error(&self) -> Option<&str> {
        self.inner.oauth.as_ref().map(OAuthError::error)
    }

    /// The OAuth `error_description`, if the endpoint sent one.
    pub fn error_description(&self) -> Option<&str> {
        self.inner.oauth.as_ref().and_then(OAuthError::description)
    }

    /// Google's `error_subtype`, such as `invalid_rapt`, if the endpoint sent one.
    pub fn error_subtype(&self) -> Option<&str> {
        self.inner.oauth.as_ref().and_then(OAuthError::subtype)
    }

    /// All OAuth error fields together, if the endpoint sent them.
    pub fn oauth(&self) -> Option<&OAuthError> {
        self.inner.oauth.as_ref()
    }

    /// How long the endpoint asked the client to wait before trying again.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// The errors this one aggregates, in order (see [`with_causes`](Error::with_causes)); empty
    /// for most errors.
    pub fn causes(&self) -> &[Error] {
        &self.inner.causes
    }

    /// The one-line message, the same as `Display`.
    pub fn message(&self) -> &str {
        &self.inner.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let mut s = f.debug_struct("Error");
        s.field("kind", &inner.kind)
            .field("message", &inner.message)
            .field("transient", &inner.transient);
        if let Some(status) = inner.http_status {
            s.field("http_status", &status);
        }
        if let Some(oauth) = &inner.oauth {
            s.field("oauth", oauth);
        }
        if let Some(wait) = inner.retry_after {
            s.field("retry_after", &wait);
        }
        if !inner.causes.is_empty() {
            s.field("causes", &inner.causes);
        }
        if let Some(source) = &inner.source {
            s.field("source", source);
        }
        s.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}

/// The first error of type `T` in `err`'s [`source`](StdError::source) chain, `err` itself
/// included: how a crate's typed refusal (a vault's, a codec's) is found through the errors
/// that wrap it.
///
/// ```
/// use credkit_core::{Error, ErrorKind, find_source};
///
/// #[derive(Debug)]
/// struct Refused;
/// impl std::fmt::Display for Refused {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("refused")
///     }
/// }
/// impl std::error::Error for Refused {}
///
/// let err = Error::new(ErrorKind::Storage, "could not store").with_source(Refused);
/// assert!(find_source::<Refused>(&err).is_some());
/// assert!(find_source::<std::io::Error>(&err).is_none());
/// ```
pub fn find_source<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        next = err.source();
    }
    None
}

/// A response's media type for messages, with its article: `a text/html`, `an application/json`,
/// or `an untyped` without a usable `content-type` (parameters dropped; anything but visible
/// ASCII, or more than 64 characters, is not trusted).
pub(crate) fn describe_media_type(content_type: Option<&str>) -> String {
    content_type
        .and_then(|ct| ct.split(';').next())
        .map(str::trim)
        .filter(|ct| ct.len() <= 64 && is_media_type(ct))
        .map_or_else(
            || "an untyped".to_owned(),
            |ct| {
                let article = if ct.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U'])
                {
                    "an"
                } else {
                    "a"
                };
                format!("{article} {ct}")
            },
        )
}

/// Whether `text` has the shape of a media type, `type/subtype`, each an HTTP token (RFC 9110
/// section 5.6.2): nothing else an endpoint sends there is repeated in a message.
fn is_media_type(text: &str) -> bool {
    let is_token = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    text.split_once('/')
        .is_some_and(|(kind, subtype)| is_token(kind) && is_token(subtype))
}
