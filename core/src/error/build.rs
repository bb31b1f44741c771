//! The construction error.

use std::borrow::Cow;
use std::error::Error as StdError;

use super::{Error, ErrorKind};

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

/// An `http::Error` from building a request (an invalid URI, method or header value) becomes a
/// permanent [`ErrorKind::Configuration`] error, the same kind a transport gives a request it
/// refuses before sending ([`TransportFailure::InvalidRequest`](crate::TransportFailure)). The
/// cause is kept as the source; the message never repeats the URI or the header value, which
/// may hold a secret.
///
/// So an HTTP plugin builds its request with `?`:
///
/// ```
/// use credkit_core::{Error, ErrorKind, bytes::Bytes};
///
/// fn request(url: &str) -> Result<http::Request<Bytes>, Error> {
///     Ok(http::Request::post(url).body(Bytes::new())?)
/// }
/// let err = request("not a url").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Configuration);
/// assert!(!err.is_transient());
/// assert!(!err.to_string().contains("not a url"));
/// ```
impl From<http::Error> for Error {
    fn from(err: http::Error) -> Self {
        let what = if err.is::<http::uri::InvalidUri>() || err.is::<http::uri::InvalidUriParts>() {
            "its URI is invalid"
        } else if err.is::<http::header::InvalidHeaderName>()
            || err.is::<http::header::InvalidHeaderValue>()
        {
            "a header name or value is invalid"
        } else if err.is::<http::method::InvalidMethod>() {
            "its method is invalid"
        } else {
            "a part of it is invalid"
        };
        Self::new(
            ErrorKind::Configuration,
            format!("the HTTP request could not be built: {what}"),
        )
        .with_source(err)
    }
}
