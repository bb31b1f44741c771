//! `Reply`: one scripted answer of the fake token endpoint.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, LOCATION};
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::json;

/// The lifetime, in seconds, of every token the fake endpoint makes up: one hour, as Google's.
pub const FAKE_EXPIRES_IN: u64 = 3600;

const JSON: &str = "application/json; charset=utf-8";

/// One scripted answer of a [`FakeTokenServer`](crate::FakeTokenServer) or
/// [`FakeTokenEndpoint`](crate::FakeTokenEndpoint): a status, headers and a body, or a hostile
/// behaviour, optionally after a delay.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use credkit_testing::Reply;
///
/// let script = [
///     Reply::oauth_error(503, "temporarily_unavailable", None).with_header("retry-after", "1"),
///     Reply::token("ya29.second-try").with_delay(Duration::from_millis(5)),
///     Reply::rotation("ya29.rotated", "1//new-refresh-token"),
///     Reply::html(502, "<html>Bad gateway</html>"),
///     Reply::stall(),
/// ];
/// assert_eq!(script[0].status(), 503);
/// ```
///
/// Kinds of reply:
///
/// - **Responses:** [`json`](Self::json), [`raw`](Self::raw), [`html`](Self::html),
///   [`token`](Self::token), [`rotation`](Self::rotation),
///   [`oauth_error`](Self::oauth_error), [`unauthorized`](Self::unauthorized),
///   [`redirect`](Self::redirect), and the generated
///   [`default_token`](Self::default_token) and [`rotating_token`](Self::rotating_token).
/// - **Hostile behaviours:** [`stall`](Self::stall), [`drip`](Self::drip),
///   [`reset`](Self::reset), [`oversize`](Self::oversize) and
///   [`oversize_declared`](Self::oversize_declared). Over a socket they do what they say; in
///   memory each becomes the error a conforming transport would return (see
///   [`FakeTokenEndpoint`](crate::FakeTokenEndpoint)).
///
/// A header that is not a valid header name or value makes the reply a `500` whose text body
/// says so, so that a typo in a test fails the test instead of passing silently.
#[derive(Clone)]
pub struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Body,
    pub(crate) delay: Duration,
    pub(crate) invalid_header: bool,
}

/// What a reply sends after its status line and headers.
#[derive(Clone, Debug)]
pub(crate) enum Body {
    /// These bytes.
    Full(Bytes),
    /// A made-up token response, new for every request; with a new refresh token too when
    /// `rotate`.
    Generated { rotate: bool },
    /// A `Location` to this path on the same server.
    Redirect(String),
    /// Never anything: headers, then silence.
    Stall,
    /// One byte, then one more after every interval, forever.
    Drip(Duration),
    /// No response: the connection is reset.
    Reset,
    /// `len` bytes, streamed; with a `Content-Length` when `declared`.
    Oversize { len: u64, declared: bool },
}

impl Reply {
    fn new(status: u16, body: Body) -> Self {
        let (status, invalid_header) = match StatusCode::from_u16(status) {
            Ok(status) => (status, false),
            Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, true),
        };
        Self {
            status,
            headers: Vec::new(),
            body,
            delay: Duration::ZERO,
            invalid_header,
        }
    }

    /// `status` with `value` as a JSON body.
    ///
    /// ```
    /// let reply = credkit_testing::Reply::json(200, serde_json::json!({"access_token": "t"}));
    /// assert_eq!(reply.status(), 200);
    /// ```
    #[allow(clippy::needless_pass_by_value)] // By value, so a `json!(...)` needs no `&`.
    pub fn json(status: u16, value: serde_json::Value) -> Self {
        Self::raw(status, JSON, value.to_string())
    }

    /// `status` with `body` as it is, under `content_type`.
    ///
    /// ```
    /// let reply = credkit_testing::Reply::raw(200, "text/plain", "not json");
    /// assert_eq!(reply.status(), 200);
    /// ```
    pub fn raw(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        Self::new(status, Body::Full(body.into())).with_header(CONTENT_TYPE, content_type)
    }

    /// `status` with an HTML body: the wrong content type for a token endpoint, as a proxy's or
    /// load balancer's error page.
    ///
    /// ```
    /// let reply = credkit_testing::Reply::html(502, "<html>Bad gateway</html>");
    /// assert_eq!(reply.status(), 502);
    /// ```
    pub fn html(status: u16, body: impl Into<Bytes>) -> Self {
        Self::raw(status, "text/html; charset=utf-8", body)
    }

    /// A successful token response: `access_token`, `expires_in` [`FAKE_EXPIRES_IN`] and
    /// `token_type` `Bearer`.
    ///
    /// ```
    /// let reply = credkit_testing::Reply::token("ya29.fixed");
    /// assert_eq!(reply.status(), 200);
    /// ```
    pub fn token(access_token: &str) -> Self {
        Self::json(
            200,
            json!({
                "access_token": access_token,
                "expires_in": FAKE_EXPIRES_IN,
                "token_type": "Bearer",
            }),
        )
    }

    /// A successful token response that also rotates the refresh token: as
    /// [`token`](Self::token), plus `refresh_token`.
    ///
    /// ```
    /// let reply = credkit_testing::Reply::rotation("ya29.new", "1//new-refresh-token");
    /// assert_eq!(reply.status(), 200);
    /// ```
    pub fn rotation(access_token: &str, refresh_token: &str) -> Self {
        Self::json(
            200,
            json!({
                "access_token": access_token,
                "expires_in": FAKE_EXPIRES_IN,
                "token_type": "Bearer",
                "refresh_token": refresh_token,
            }),
        )
    }

    /// The default reply, made for each request: `access_token` `fake-access-token-<n>` (`n`
    /// counts the generated tokens from 1), `expires_in` [`FAKE_EXPIRES_IN`], `token_type`
    /// `Bearer`, and the request's `scope` form field echoed when it had one.
    ///
    /// An endpoint with an empty script answers with this; push it last to return to it after
    /// other replies.
    ///
    /// ```
    /// let reply = credkit_testing::Reply::default_token();
    /// assert_eq!(reply.status(), 200);
    /// ```
    pub fn default_token() -> Self {
        Self::new(200, Body::Generated { rotate: false })
    }

    /// As [`default_token`](Self::default_token), and rotating the refresh token each time:
    /// `refresh_token` `fake-refresh-token-<n>`, with the same `n`.
    ///
    /// ```
    /// let reply = credkit_testing::Reply::rotating_token();
    /// assert_eq!(reply.status(), 200);
    /// ```
    pub fn rotating_token() -> Self {
        Self::new(200, Body::Generated { rotate: true })
    }

    /// An OAuth error response (RFC 6749 section 5.2): `{"error": ..., "error_description":
    /// ...}`, without `error_description` when it is `None`.
    ///
    /// ```
    /// use credkit_testing::Reply;
    ///
    /// let expired = Reply::oauth_error(400, "invalid_grant", Some("Token has been expired or revoked."));
    /// let busy = Reply::oauth_error(503, "temporarily_unavailable", None);
    /// assert_eq!(expired.status(), 400);
    /// assert_eq!(busy.status(), 503);
    /// ```
    pub fn oauth_error(status: u16, error: &str, description: Option<&str>) -> Self {
        let mut body = json!({ "error": error });
        if let (Some(description), Some(object)) = (description, body.as_object_mut()) {
            object.insert("error_description".to_owned(), description.into());
        }
        Self::json(status, body)
    }

    /// A `401 Unauthorized` as a Google API answers a request whose access token it refuses
    /// (expired, revoked, or for another audience): `WWW-Authenticate: Bearer
    /// error="invalid_token"` and the JSON error body with `"status": "UNAUTHENTICATED"`. What
    /// a [`FakeApiServer`](crate::FakeApiServer) answers when its bearer check refuses a token.
    ///
    /// ```
    /// let reply = credkit_testing::Reply::unauthorized();
    /// assert_eq!(reply.status(), 401);
    /// assert!(reply.header("www-authenticate").unwrap().contains("invalid_token"));
    /// ```
    pub fn unauthorized() -> Self {
        Self::json(
            401,
            json!({
                "error": {
                    "code": 401,
                    "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
                    "status": "UNAUTHENTICATED",
                }
            }),
        )
        .with_header(
            http::header::WWW_AUTHENTICATE,
            r#"Bearer realm="https://accounts.google.com/", error="invalid_token""#,
        )
    }

    /// A `302 Found` whose `Location` is `path` on the same endpoint (its scheme, host and port),
    /// so a client that follows it sends a second request to this fake and nowhere else.
    ///
    /// ```
    /// let reply = credkit_testing::Reply::redirect("/elsewhere");
    /// assert_eq!(reply.status(), 302);
    /// ```
    pub fn redirect(path: &str) -> Self {
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        Self::new(302, Body::Redirect(path))
    }

    /// Hostile: a `200` with JSON headers, then no body ever. A client without a total timeout
    /// waits forever. In memory: a [`Timeout`](credkit_core::ErrorKind::Timeout) error.
    ///
    /// ```
    /// let reply = credkit_testing::Reply::stall();
    /// assert_eq!(reply.status(), 200);
    /// ```
    pub fn stall() -> Self {
        Self::new(200, Body::Stall).with_header(CONTENT_TYPE, JSON)
    }

    /// Hostile: a `200` with JSON headers, then a body that never ends: one byte at once and
    /// one more after every `interval`. Each read succeeds, so only a total timeout stops it. In
    /// memory: a [`Timeout`](credkit_core::ErrorKind::Timeout) error.
    ///
    /// ```
    /// let reply = credkit_testing::Reply::drip(std::time::Duration::from_millis(20));
    /// assert_eq!(reply.status(), 200);
    /// ```
    pub fn drip(interval: Duration) -> Self {
        Self::new(200, Body::Drip(interval)).with_header(CONTENT_TYPE, JSON)
    }

    /// Hostile: no response; the request is read, then the connection is reset (a TCP RST, not
    /// a clean close). In memory: a transient transport error, as for a reset.
    ///
    /// ```
    /// let _reply = credkit_testing::Reply::reset();
    /// ```
    pub fn reset() -> Self {
        Self::new(200, Body::Reset)
    }

    /// Hostile: a `200` with JSON headers and a body of `len` bytes streamed in chunks without
    /// a `Content-Length` (the client must count). The server never holds more than one chunk.
    /// In memory: the body-too-large error when `len` is over the endpoint's cap, else the
    /// bytes.
    ///
    /// ```
    /// let reply = credkit_testing::Reply::oversize(8 * 1024 * 1024);
    /// assert_eq!(reply.status(), 200);
    /// ```
    pub fn oversize(len: u64) -> Self {
        Self::new(
            200,
            Body::Oversize {
                len,
                declared: false,
            },
        )
        .with_header(CONTENT_TYPE, JSON)
    }

    /// As [`oversize`](Self::oversize), with the length declared up front in `Content-Length`.
    ///
    /// ```
    /// let reply = credkit_testing::Reply::oversize_declared(8 * 1024 * 1024);
    /// assert_eq!(reply.status(), 200);
    /// ```
    pub fn oversize_declared(len: u64) -> Self {
        Self::new(
            200,
            Body::Oversize {
                len,
                declared: true,
            },
        )
        .with_header(CONTENT_TYPE, JSON)
    }

    /// Adds a header (replacing one of the same name set earlier, such as the content type).
    ///
    /// ```
    /// let reply = credkit_testing::Reply::oauth_error(429, "rate_limited", None)
    ///     .with_header("retry-after", "2");
    /// assert_eq!(reply.header("retry-after"), Some("2"));
    /// ```
    #[must_use]
    pub fn with_header<K, V>(mut self, name: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        HeaderValue: TryFrom<V>,
    {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(name), Ok(value)) => {
                self.headers.retain(|(existing, _)| *existing != name);
                self.headers.push((name, value));
            }
            _ => self.invalid_header = true,
        }
        self
    }

    /// Waits `delay` before answering (before the status line, over a socket).
    ///
    /// ```
    /// use std::time::Duration;
    /// let reply = credkit_testing::Reply::token("t").with_delay(Duration::from_millis(50));
    /// assert_eq!(reply.delay(), Duration::from_millis(50));
    /// ```
    #[must_use]
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The status this reply sends (`500` if it was given an invalid status or header).
    ///
    /// ```
    /// assert_eq!(credkit_testing::Reply::token("t").status(), 200);
    /// assert_eq!(credkit_testing::Reply::json(1000, serde_json::json!({})).status(), 500);
    /// ```
    pub fn status(&self) -> u16 {
        if self.invalid_header {
            500
        } else {
            self.status.as_u16()
        }
    }

    /// The value of header `name` set on this reply, if any and if it is text.
    ///
    /// ```
    /// let reply = credkit_testing::Reply::token("t");
    /// assert_eq!(reply.header("content-type"), Some("application/json; charset=utf-8"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(existing, _)| existing.as_str().eq_ignore_ascii_case(name))
            .and_then(|(_, value)| value.to_str().ok())
    }

    /// How long this reply waits before answering.
    ///
    /// ```
    /// assert!(credkit_testing::Reply::token("t").delay().is_zero());
    /// ```
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// The `Location` header of a redirect to `path` on the endpoint at `base`.
    pub(crate) fn location(base: &str, path: &str) -> Option<(HeaderName, HeaderValue)> {
        let value = HeaderValue::try_from(format!("{base}{path}")).ok()?;
        Some((LOCATION, value))
    }
}

/// Shows the status, headers, body kind and delay; bodies are shown by length only.
impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Reply");
        s.field("status", &self.status())
            .field("headers", &self.headers);
        match &self.body {
            Body::Full(bytes) => s.field("body_len", &bytes.len()),
            other => s.field("body", other),
        };
        s.field("delay", &self.delay)
            .field("invalid_header", &self.invalid_header)
            .finish()
    }
}
