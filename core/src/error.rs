//! The one runtime error type shared by every credkit crate, and the construction error.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::classify;

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
    /// on this kind; every other error stops the chain.
    NotConfigured,
    /// Every source of a [`ChainSource`](crate::ChainSource) failed; [`Error::causes`] lists why.
    Chain,
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
            Self::Chain => "chain",
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

/// The error fields of an OAuth 2.0 error response (RFC 6749 section 5.2), plus Google's
/// `error_subtype`.
///
/// ```
/// use credkit_core::OAuthError;
///
/// let body = br#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#;
/// let oauth = OAuthError::from_json(body).expect("an OAuth error body");
/// assert_eq!(oauth.error(), "invalid_grant");
/// assert_eq!(oauth.to_string(), "invalid_grant: Token has been expired or revoked.");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    error: String,
    error_description: Option<String>,
    error_subtype: Option<String>,
}

impl OAuthError {
    /// An error with only the `error` code.
    pub fn new(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            error_description: None,
            error_subtype: None,
        }
    }

    /// Sets the human-readable `error_description`.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.error_description = Some(description.into());
        self
    }

    /// Sets Google's `error_subtype` (such as `invalid_rapt`).
    #[must_use]
    pub fn with_subtype(mut self, subtype: impl Into<String>) -> Self {
        self.error_subtype = Some(subtype.into());
        self
    }

    /// Parses an error response body. Returns `None` unless the body is a JSON object whose
    /// `error` member is a string; a non-string `error_description` or `error_subtype` is ignored.
    pub fn from_json(body: &[u8]) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        Self::from_value(&value)
    }

    /// Like [`OAuthError::from_json`], from an already parsed JSON value.
    pub fn from_value(value: &serde_json::Value) -> Option<Self> {
        let object = value.as_object()?;
        let text = |key: &str| object.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        Some(Self {
            error: text("error")?,
            error_description: text("error_description"),
            error_subtype: text("error_subtype"),
        })
    }

    /// The `error` code, such as `invalid_grant`.
    pub fn error(&self) -> &str {
        &self.error
    }

    /// The `error_description`, if the endpoint sent one.
    pub fn description(&self) -> Option<&str> {
        self.error_description.as_deref()
    }

    /// Google's `error_subtype`, if the endpoint sent one.
    pub fn subtype(&self) -> Option<&str> {
        self.error_subtype.as_deref()
    }

    /// Whether the shared classifier calls this error transient: its `error` or
    /// `error_description` is exactly `internal_failure`, `server_error` or
    /// `temporarily_unavailable`.
    pub fn is_transient(&self) -> bool {
        classify::is_transient_oauth_code(&self.error)
            || self
                .error_description
                .as_deref()
                .is_some_and(classify::is_transient_oauth_code)
    }
}

/// `"<error>: <error_description>"`, or `"<error>"` alone without a description.
impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error_description {
            Some(description) => write!(f, "{}: {description}", self.error),
            None => f.write_str(&self.error),
        }
    }
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
    /// Only [`ErrorKind::Timeout`] errors start transient; use [`Error::with_transient`] where a
    /// provider knows better. The message must not contain a secret.
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

    /// An error that aggregates the failures of several sources, in order (see
    /// [`ChainSource`](crate::ChainSource)). Transient if any of them is.
    pub fn chain(message: impl Into<Cow<'static, str>>, causes: Vec<Error>) -> Self {
        let transient = causes.iter().any(Error::is_transient);
        let mut err = Self::new(ErrorKind::Chain, message).with_transient(transient);
        Arc::make_mut(&mut err.inner).causes = causes;
        err
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

    /// The errors this one aggregates, in order; empty unless the kind is [`ErrorKind::Chain`].
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

/// A response's media type for messages: `a text/html`, or `an untyped` without a usable
/// `content-type` (parameters dropped; anything but visible ASCII is not trusted).
pub(crate) fn describe_media_type(content_type: Option<&str>) -> String {
    content_type
        .and_then(|ct| ct.split(';').next())
        .map(str::trim)
        .filter(|ct| !ct.is_empty() && ct.chars().all(|c| c.is_ascii_graphic()))
        .map_or_else(|| "an untyped".to_owned(), |ct| format!("a {ct}"))
}

/// An error while building a credential, a source or a transport: never transient.
///
/// ```
/// use credkit_core::BuildError;
///
/// let err = BuildError::missing_field("client_id");
/// assert!(err.is_missing_field());
/// assert_eq!(err.to_string(), "missing required field client_id");
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BuildError {
    kind: BuildErrorKind,
    message: Cow<'static, str>,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BuildErrorKind {
    MissingField,
    InvalidValue,
    Loading,
    Parsing,
    UnknownType,
}

impl BuildError {
    fn with_kind(kind: BuildErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A required field is missing.
    pub fn missing_field(field: &str) -> Self {
        Self::with_kind(
            BuildErrorKind::MissingField,
            format!("missing required field {field}"),
        )
    }

    /// Required fields are missing; `message` says which (the reference library's text, for
    /// example).
    pub fn missing_fields(message: impl Into<Cow<'static, str>>) -> Self {
        Self::with_kind(BuildErrorKind::MissingField, message)
    }

    /// A value is present but not acceptable.
    pub fn invalid_value(message: impl Into<Cow<'static, str>>) -> Self {
        Self::with_kind(BuildErrorKind::InvalidValue, message)
    }

    /// Reading the input (a file, the environment) failed.
    pub fn loading(message: impl Into<Cow<'static, str>>) -> Self {
        Self::with_kind(BuildErrorKind::Loading, message)
    }

    /// The input could not be parsed.
    pub fn parsing(message: impl Into<Cow<'static, str>>) -> Self {
        Self::with_kind(BuildErrorKind::Parsing, message)
    }

    /// The input names a credential type this builder does not handle.
    pub fn unknown_type(message: impl Into<Cow<'static, str>>) -> Self {
        Self::with_kind(BuildErrorKind::UnknownType, message)
    }

    /// Attaches the underlying cause. Its message must not contain a secret.
    #[must_use]
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Whether a required field is missing.
    pub fn is_missing_field(&self) -> bool {
        self.kind == BuildErrorKind::MissingField
    }

    /// Whether a value was present but not acceptable.
    pub fn is_invalid_value(&self) -> bool {
        self.kind == BuildErrorKind::InvalidValue
    }

    /// Whether reading the input failed.
    pub fn is_loading(&self) -> bool {
        self.kind == BuildErrorKind::Loading
    }

    /// Whether parsing the input failed.
    pub fn is_parsing(&self) -> bool {
        self.kind == BuildErrorKind::Parsing
    }

    /// Whether the input names a credential type this builder does not handle.
    pub fn is_unknown_type(&self) -> bool {
        self.kind == BuildErrorKind::UnknownType
    }

    /// Construction errors are never transient: the same input fails the same way.
    pub fn is_transient(&self) -> bool {
        false
    }
}

/// A construction error met at run time (loading credentials lazily, say) becomes a
/// [`ErrorKind::Configuration`] error with the same message.
impl From<BuildError> for Error {
    fn from(err: BuildError) -> Self {
        let message = err.message.clone();
        Self::new(ErrorKind::Configuration, message).with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_pointer_sized() {
        assert_eq!(size_of::<Error>(), size_of::<usize>());
    }

    #[test]
    fn token_endpoint_message_with_and_without_description() {
        let with =
            Error::token_endpoint(400, OAuthError::new("help").with_description("I'm alive"));
        assert_eq!(with.to_string(), "help: I'm alive");
        let without = Error::token_endpoint(400, OAuthError::new("invalid_grant"));
        assert_eq!(without.to_string(), "invalid_grant");
        assert_eq!(without.error_description(), None);
    }

    #[test]
    fn oauth_error_rejects_non_string_error() {
        assert!(OAuthError::from_json(br#"{"error":{"foo":"bar"}}"#).is_none());
        assert!(OAuthError::from_json(br#"{"foo":"bar"}"#).is_none());
        assert!(OAuthError::from_json(b"<html>").is_none());
        assert!(OAuthError::from_json(br#"["error"]"#).is_none());
        let parsed =
            OAuthError::from_json(br#"{"error":"invalid_grant","error_description":7}"#).unwrap();
        assert_eq!(parsed.description(), None);
    }

    #[test]
    fn transient_description_code_is_transient() {
        let err = Error::token_endpoint(
            400,
            OAuthError::new("invalid_request").with_description("internal_failure"),
        );
        assert!(err.is_transient());
    }

    #[test]
    fn unexpected_response_never_trusts_content_type() {
        let err = Error::unexpected_response(502, Some("text/html\r\nx: y"));
        assert!(!err.to_string().contains('\n'));
        assert!(!err.is_transient());
        let none = Error::unexpected_response(500, None);
        assert!(none.to_string().contains("an untyped body"));
        assert!(none.is_transient());
    }

    #[test]
    fn transport_failures_classify() {
        let cases = [
            (TransportFailure::Connect, ErrorKind::Transport, true),
            (TransportFailure::Timeout, ErrorKind::Timeout, true),
            (TransportFailure::Reset, ErrorKind::Transport, true),
            (TransportFailure::BodyTooLarge, ErrorKind::Transport, false),
            (
                TransportFailure::InvalidRequest,
                ErrorKind::Configuration,
                false,
            ),
            (TransportFailure::Other, ErrorKind::Transport, false),
        ];
        for (failure, kind, transient) in cases {
            let err = Error::transport(failure, "x");
            assert_eq!(err.kind(), kind, "{failure:?}");
            assert_eq!(err.is_transient(), transient, "{failure:?}");
        }
    }

    #[test]
    fn chain_error_keeps_causes_in_order() {
        let err = Error::chain(
            "all failed",
            vec![
                Error::new(ErrorKind::Provider, "first"),
                Error::transport(TransportFailure::Connect, "second"),
            ],
        );
        let messages: Vec<_> = err.causes().iter().map(Error::message).collect();
        assert_eq!(messages, ["first", "second"]);
        assert!(err.is_transient());
    }

    #[test]
    fn build_error_converts_to_configuration_error() {
        let err: Error = BuildError::parsing("bad json").into();
        assert_eq!(err.kind(), ErrorKind::Configuration);
        assert_eq!(err.to_string(), "bad json");
        assert!(err.source().is_some());
    }
}
