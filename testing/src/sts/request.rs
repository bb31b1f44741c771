//! `StsRequest`: what the fake STS received.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderMap, Method, Uri};
use time::OffsetDateTime;

use crate::RecordedRequest;

/// Form members whose values `Debug` hides.
const SECRET_MEMBERS: [&str; 4] = [
    "subject_token",
    "refresh_token",
    "actor_token",
    "client_secret",
];

/// One request as the fake STS received it: method, path, headers, the raw body, the form
/// members decoded from it, and when it arrived (on the server's clock).
///
/// Its `Debug` hides the subject token, the refresh token and the `Authorization` header; the
/// accessors return everything.
///
/// # Examples
///
/// ```
/// use credkit_testing::FakeStsServer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sts = FakeStsServer::start().await?;
/// // ... the code under test posts an exchange to sts.token_url(), then:
/// for request in sts.requests() {
///     assert_eq!(request.method(), "POST");
///     assert_eq!(request.grant_type(), Some("urn:ietf:params:oauth:grant-type:token-exchange"));
///     assert!(request.scopes().contains(&"https://www.googleapis.com/auth/cloud-platform"));
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct StsRequest {
    request: RecordedRequest,
    received_at: OffsetDateTime,
}

/// Everything but the arrival time (path, headers, body, the decoded form) is the recorded
/// request's: [`RecordedRequest`]'s accessors answer for it.
impl std::ops::Deref for StsRequest {
    type Target = RecordedRequest;

    fn deref(&self) -> &RecordedRequest {
        &self.request
    }
}

impl StsRequest {
    pub(crate) fn new(
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
        received_at: OffsetDateTime,
    ) -> Self {
        Self {
            request: RecordedRequest::new(method, uri, headers, body),
            received_at,
        }
    }

    /// The method, such as `POST`.
    pub fn method(&self) -> &str {
        self.request.method().as_str()
    }

    /// The `grant_type` member.
    pub fn grant_type(&self) -> Option<&str> {
        self.form_value("grant_type")
    }

    /// The `scope` member split on spaces; empty without one.
    pub fn scopes(&self) -> Vec<&str> {
        self.form_value("scope")
            .map(|scope| scope.split(' ').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }

    /// The `options` member as Google's STS reads it: the form-decoded value is itself
    /// percent-encoded JSON (the reference sends `quote(json.dumps(options))`). `None` without
    /// the member, or when it is not percent-encoded JSON.
    pub fn options(&self) -> Option<serde_json::Value> {
        self.form_value("options").and_then(decode_options)
    }

    /// The client of `Authorization: Basic base64(id:secret)`, as `(id, secret)`, if the
    /// request carried such a header.
    pub fn basic_auth(&self) -> Option<(String, String)> {
        let encoded = self
            .header(AUTHORIZATION.as_str())?
            .strip_prefix("Basic ")?;
        let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        Some((id.to_owned(), secret.to_owned()))
    }

    /// When the request arrived, on the server's clock.
    pub fn received_at(&self) -> OffsetDateTime {
        self.received_at
    }
}

/// Whether the content type is a form's (the recorded request's rule).
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    crate::server::is_form(headers)
}

/// Percent-decodes `value` (without turning `+` into a space: Python's `quote` never writes
/// one for a space) and parses the JSON.
pub(crate) fn decode_options(value: &str) -> Option<serde_json::Value> {
    let escaped = value.replace('+', "%2B");
    let decoded: String = form_urlencoded::parse(format!("v={escaped}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())?;
    serde_json::from_str(&decoded).ok()
}

impl fmt::Debug for StsRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let form = crate::server::redacted_form(self.form(), &SECRET_MEMBERS);
        let headers = crate::server::redacted_headers(self.headers());
        f.debug_struct("StsRequest")
            .field("method", &self.method())
            .field("path", &self.path())
            .field("headers", &headers)
            .field("body_len", &self.body().len())
            .field("form", &form)
            .field("received_at", &self.received_at)
            .finish_non_exhaustive()
    }
}
