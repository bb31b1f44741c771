//! The identity pool's two built-in sources, as the reference's `identity_pool` module: a
//! subject token in a file (a Kubernetes projected token, GitHub's token written by a step) or
//! at a URL (Azure's instance metadata service, a local token server), as text or as a JSON
//! member.

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::oauth::scrub;
use credkit_core::{BuildError, Error, ErrorKind};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::info::SourceContext;
use crate::supplier::{SubjectTokenSupplier, SupplierContext};

/// More than this is not a subject token (a JWT is a few kilobytes; a SAML assertion rarely
/// passes a hundred).
pub const MAX_SUBJECT_TOKEN_BYTES: usize = 512 * 1024;

/// How a file or URL holds the subject token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectTokenFormat {
    /// The whole content is the token.
    Text,
    /// A JSON object; the token is the string member named here (`subject_token_field_name`).
    Json(String),
}

impl SubjectTokenFormat {
    /// Parses the `format` member of a `credential_source`, with the reference's messages.
    fn from_source(source: &Map<String, Value>) -> Result<Self, BuildError> {
        let format = match source.get("format") {
            None | Some(Value::Null) => return Ok(Self::Text),
            Some(Value::Object(format)) => format,
            Some(_) => {
                return Err(BuildError::invalid_value(
                    "credential_source.format must be a JSON object",
                ));
            }
        };
        match format.get("type") {
            None | Some(Value::Null) => Ok(Self::Text),
            Some(Value::String(kind)) if kind.is_empty() || kind == "text" => Ok(Self::Text),
            Some(Value::String(kind)) if kind == "json" => {
                match format.get("subject_token_field_name") {
                    Some(Value::String(field)) => Ok(Self::Json(field.clone())),
                    None | Some(Value::Null) => Err(BuildError::missing_fields(
                        "Missing subject_token_field_name for JSON credential_source format",
                    )),
                    Some(_) => Err(BuildError::invalid_value(
                        "credential_source.format.subject_token_field_name must be a string",
                    )),
                }
            }
            Some(Value::String(kind)) => Err(BuildError::invalid_value(format!(
                "Invalid credential_source format '{}'",
                scrub(kind, &[])
            ))),
            Some(other) => Err(BuildError::invalid_value(format!(
                "Invalid credential_source format '{other}'"
            ))),
        }
    }

    /// The subject token in `content`, read from `location`.
    pub(crate) fn token(&self, content: &[u8], location: &str) -> Result<SecretString, Error> {
        // The path or URL and the field name come from the configuration: kept to one clean line.
        let location = &scrub(location, &[]);
        let token = match self {
            Self::Text => {
                let text = std::str::from_utf8(content).map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidResponse,
                        format!("the subject token from {location} is not UTF-8 text"),
                    )
                })?;
                // Trimmed, as the Go library does: a token written with `echo` ends in a newline.
                SecretString::from(text.trim())
            }
            Self::Json(field) => {
                // Parsed straight into a map whose values are wiped when dropped.
                let unreadable = || {
                    Error::new(
                        ErrorKind::InvalidResponse,
                        format!(
                            "Unable to parse subject_token from JSON file '{location}' using key '{}'",
                            scrub(field, &[])
                        ),
                    )
                };
                let mut json: Value = serde_json::from_slice(content).map_err(|_| unreadable())?;
                let token = json
                    .get(field.as_str())
                    .and_then(Value::as_str)
                    .map(SecretString::from);
                credkit_core::oauth::zeroize_json(&mut json);
                token.ok_or_else(unreadable)?
            }
        };
        if token.expose_secret().is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidResponse,
                "Missing subject_token in the credential_source file",
            ));
        }
        if token.expose_secret().chars().any(char::is_control) {
            return Err(Error::new(
                ErrorKind::InvalidResponse,
                format!("the subject token from {location} has control characters"),
            ));
        }
        Ok(token)
    }
}

/// The subject token in a file, read anew at every exchange (a projected token is rotated in
/// place).
#[derive(Clone, Debug)]
pub struct FileSource {
    path: PathBuf,
    format: SubjectTokenFormat,
}

impl FileSource {
    /// The token in the file at `path`, as text.
    ///
    /// ```
    /// use credkit_external_account::{FileSource, SubjectTokenFormat};
    ///
    /// let source = FileSource::new("/var/run/secrets/tokens/gcp")
    ///     .with_format(SubjectTokenFormat::Json("id_token".into()));
    /// assert_eq!(source.path().to_str(), Some("/var/run/secrets/tokens/gcp"));
    /// ```
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            format: SubjectTokenFormat::Text,
        }
    }

    /// The same source, reading the token in `format`.
    #[must_use]
    pub fn with_format(mut self, format: SubjectTokenFormat) -> Self {
        self.format = format;
        self
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl SubjectTokenSupplier for FileSource {
    /// Reads the file (at most [`MAX_SUBJECT_TOKEN_BYTES`]; a few kilobytes, read in place).
    async fn subject_token(&self, _context: &SupplierContext) -> Result<SecretString, Error> {
        let location = scrub(&self.path.display().to_string(), &[]);
        let file = std::fs::File::open(&self.path).map_err(|err| {
            let message = if err.kind() == std::io::ErrorKind::NotFound {
                format!("File '{location}' was not found.")
            } else {
                format!("the subject token file '{location}' cannot be read: {err}")
            };
            Error::new(ErrorKind::Provider, message)
        })?;
        let mut content = Zeroizing::new(Vec::new());
        let limit = u64::try_from(MAX_SUBJECT_TOKEN_BYTES).unwrap_or(u64::MAX);
        file.take(limit + 1)
            .read_to_end(&mut content)
            .map_err(|err| {
                Error::new(
                    ErrorKind::Provider,
                    format!("the subject token file '{location}' cannot be read: {err}"),
                )
            })?;
        if content.len() > MAX_SUBJECT_TOKEN_BYTES {
            return Err(too_big(&location));
        }
        self.format.token(&content, &location)
    }

    fn kind(&self) -> &'static str {
        "file"
    }
}

/// The subject token at a URL, fetched with `GET` and the given headers at every exchange.
///
/// The transport's endpoint rule applies: `https`, or plain `http` to loopback and the
/// link-local metadata address (Azure's and AWS's `169.254.169.254`). Redirects are not
/// followed: a 3xx is an error naming the status.
#[derive(Clone)]
pub struct UrlSource {
    url: String,
    headers: http::HeaderMap,
    format: SubjectTokenFormat,
}

impl fmt::Debug for UrlSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be credentials (an `Authorization` to the token server).
        let names: Vec<&str> = self.headers.keys().map(http::HeaderName::as_str).collect();
        f.debug_struct("UrlSource")
            .field("url", &self.url)
            .field("headers", &names)
            .field("format", &self.format)
            .finish()
    }
}

impl UrlSource {
    /// The token at `url`, as text.
    ///
    /// ```
    /// use credkit_external_account::{SubjectTokenFormat, UrlSource};
    ///
    /// let source = UrlSource::new(
    ///     "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=api://app",
    /// )?
    /// .with_header("Metadata", "True")?
    /// .with_format(SubjectTokenFormat::Json("access_token".into()));
    /// # let _ = source;
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A URL that is not absolute `http` or `https`.
    pub fn new(url: impl Into<String>) -> Result<Self, BuildError> {
        let url = crate::credentials::check_url(&url.into(), "credential_source.url")?;
        Ok(Self {
            url,
            headers: http::HeaderMap::new(),
            format: SubjectTokenFormat::Text,
        })
    }

    /// The same source, sending `name: value` with each request.
    ///
    /// # Errors
    ///
    /// A name or value HTTP cannot carry.
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, BuildError> {
        let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            BuildError::invalid_value(format!(
                "credential_source.headers: {:?} is not an HTTP header name",
                scrub(name, &[])
            ))
        })?;
        let mut value = http::HeaderValue::from_str(value).map_err(|_| {
            BuildError::invalid_value(format!(
                "credential_source.headers: the value of {name} is not a valid HTTP header value"
            ))
        })?;
        value.set_sensitive(true);
        self.headers.append(name, value);
        Ok(self)
    }

    /// The same source, reading the token in `format`.
    #[must_use]
    pub fn with_format(mut self, format: SubjectTokenFormat) -> Self {
        self.format = format;
        self
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait]
impl SubjectTokenSupplier for UrlSource {
    async fn subject_token(&self, context: &SupplierContext) -> Result<SecretString, Error> {
        let mut request = http::Request::get(self.url.as_str()).body(bytes::Bytes::new())?;
        request.headers_mut().clone_from(&self.headers);
        let response = context.transport()?.send(request).await?;
        let status = response.status();
        if status.is_redirection() {
            return Err(Error::new(
                ErrorKind::Provider,
                format!(
                    "the credential_source URL answered with a redirect (HTTP {}), which credkit does not follow: put the final URL in the credentials file",
                    status.as_u16()
                ),
            )
            .with_http_status(status.as_u16()));
        }
        if status != http::StatusCode::OK {
            let transient = credkit_core::classify::is_transient_status(status.as_u16());
            return Err(Error::new(
                ErrorKind::Provider,
                format!(
                    "Unable to retrieve Identity Pool subject token: the credential_source URL answered HTTP {}",
                    status.as_u16()
                ),
            )
            .with_http_status(status.as_u16())
            .with_transient(transient));
        }
        if response.body().len() > MAX_SUBJECT_TOKEN_BYTES {
            return Err(too_big("the credential_source URL"));
        }
        self.format.token(response.body(), &self.url)
    }

    fn kind(&self) -> &'static str {
        "url"
    }
}

fn too_big(location: &str) -> Error {
    Error::new(
        ErrorKind::InvalidResponse,
        format!(
            "the subject token from {location} is larger than {MAX_SUBJECT_TOKEN_BYTES} bytes: it is not a token"
        ),
    )
}

/// Parses a file or URL `credential_source`, with the reference's checks and messages.
pub(crate) fn from_credential_source(
    source: &Map<String, Value>,
    _context: &SourceContext<'_>,
) -> Result<Arc<dyn SubjectTokenSupplier>, BuildError> {
    if source.contains_key("environment_id") {
        return Err(BuildError::invalid_value(
            "Invalid Identity Pool credential_source field 'environment_id'",
        ));
    }
    // The reference's order: one source only, then its format.
    let file = crate::info::optional_string(source, "file")?;
    let url = crate::info::optional_string(source, "url")?;
    let certificate = source.get("certificate").filter(|value| !value.is_null());
    let given = usize::from(file.is_some())
        + usize::from(url.is_some())
        + usize::from(certificate.is_some());
    if given > 1 {
        return Err(BuildError::invalid_value(
            "Ambiguous credential_source. 'file', 'url', and 'certificate' are mutually exclusive..",
        ));
    }
    if certificate.is_some() {
        return Err(BuildError::invalid_value(
            "certificate credential sources (X.509 workload identity federation) are not supported by credkit: use a file, URL, executable or AWS source",
        ));
    }
    let format = SubjectTokenFormat::from_source(source)?;
    match (file, url) {
        (Some(_), Some(_)) | (None, None) => Err(BuildError::missing_fields(
            "Missing credential_source. A 'file', 'url', or 'certificate' must be provided.",
        )),
        (Some(file), None) => Ok(Arc::new(FileSource::new(file).with_format(format))),
        (None, Some(url)) => {
            let mut supplier = UrlSource::new(url)?.with_format(format);
            match source.get("headers") {
                None | Some(Value::Null) => {}
                Some(Value::Object(headers)) => {
                    for (name, value) in headers {
                        let Value::String(value) = value else {
                            return Err(BuildError::invalid_value(
                                "credential_source.headers must map names to strings",
                            ));
                        };
                        supplier = supplier.with_header(name, value)?;
                    }
                }
                Some(_) => {
                    return Err(BuildError::invalid_value(
                        "credential_source.headers must be a JSON object",
                    ));
                }
            }
            Ok(Arc::new(supplier))
        }
    }
}
