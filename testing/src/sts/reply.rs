//! `StsReply`: one scripted answer of the fake STS.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde_json::json;

/// One scripted answer of a [`FakeStsServer`](crate::FakeStsServer), given to the next request
/// that passes the fake's checks (a request STS would refuse is refused without using the
/// script).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use credkit_testing::StsReply;
///
/// let script = [
///     StsReply::oauth_error(503, "temporarily_unavailable", None).with_header("retry-after", "1"),
///     StsReply::token("ya29.sts").with_delay(Duration::from_millis(5)),
///     StsReply::token_expiring_in("ya29.short", 60),
///     StsReply::rotation("ya29.user", "new-refresh-token"),
///     StsReply::raw(200, "text/html", "<html>not a token</html>"),
///     StsReply::hang(),
/// ];
/// assert_eq!(script[0].status(), 503);
/// assert_eq!(script[1].status(), 200);
/// ```
#[derive(Clone)]
pub struct StsReply {
    pub(crate) kind: Kind,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) delay: Duration,
    pub(crate) invalid_header: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    /// A token response: the exchange's shape for the exchange, the refresh grant's for a
    /// refresh (with `refresh_token` when given or when strict rotation issues one).
    Token {
        access_token: String,
        expires_in: Option<u64>,
        refresh_token: Option<String>,
    },
    /// These bytes, as they are.
    Raw {
        status: u16,
        content_type: String,
        body: Bytes,
    },
    /// No answer, ever.
    Hang,
}

impl StsReply {
    fn new(kind: Kind) -> Self {
        Self {
            kind,
            headers: Vec::new(),
            delay: Duration::ZERO,
            invalid_header: false,
        }
    }

    /// A success with `access_token` and the server's `expires_in` (3600 unless
    /// [`with_expires_in`](crate::FakeStsServerBuilder::with_expires_in) said otherwise): for
    /// the exchange `{"access_token", "issued_token_type", "token_type": "Bearer",
    /// "expires_in"}`, for the refresh grant the same without `issued_token_type` (and with a
    /// new `refresh_token` under strict rotation).
    pub fn token(access_token: impl Into<String>) -> Self {
        Self::new(Kind::Token {
            access_token: access_token.into(),
            expires_in: None,
            refresh_token: None,
        })
    }

    /// As [`token`](Self::token), with this `expires_in`.
    pub fn token_expiring_in(access_token: impl Into<String>, expires_in: u64) -> Self {
        Self::new(Kind::Token {
            access_token: access_token.into(),
            expires_in: Some(expires_in),
            refresh_token: None,
        })
    }

    /// As [`token`](Self::token), with `refresh_token` in the answer: a rotation. Under strict
    /// rotation it becomes the one refresh token the server accepts next.
    pub fn rotation(access_token: impl Into<String>, refresh_token: impl Into<String>) -> Self {
        Self::new(Kind::Token {
            access_token: access_token.into(),
            expires_in: None,
            refresh_token: Some(refresh_token.into()),
        })
    }

    /// An OAuth error as STS sends one: `status` with `{"error": ..., "error_description":
    /// ...}` (no `error_description` when `None`).
    ///
    /// ```
    /// let reply = credkit_testing::StsReply::oauth_error(400, "invalid_grant", Some("The refresh token is expired."));
    /// assert_eq!(reply.status(), 400);
    /// ```
    pub fn oauth_error(status: u16, error: &str, description: Option<&str>) -> Self {
        let mut body = json!({ "error": error });
        if let (Some(description), Some(object)) = (description, body.as_object_mut()) {
            object.insert("error_description".to_owned(), description.into());
        }
        Self::json(status, &body)
    }

    /// `status` with `value` as a JSON body.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::raw(status, "application/json; charset=utf-8", value.to_string())
    }

    /// `status` with `body` as it is, under `content_type`: garbage, an HTML error page, a
    /// truncated JSON text.
    pub fn raw(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        Self::new(Kind::Raw {
            status,
            content_type: content_type.to_owned(),
            body: body.into(),
        })
    }

    /// Never answers: the request is recorded, then nothing (a client without a timeout waits
    /// forever).
    pub fn hang() -> Self {
        Self::new(Kind::Hang)
    }

    /// Adds a header (`retry-after`, say). An invalid name or value makes the reply a `500`
    /// saying so, so that a typo fails the test instead of passing silently.
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

    /// Waits `delay` before answering.
    #[must_use]
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The status this reply sends: 200 for a token (and for a hang, were it ever to answer),
    /// 500 for an invalid status or header.
    pub fn status(&self) -> u16 {
        match &self.kind {
            _ if self.invalid_header => 500,
            Kind::Raw { status, .. } if http::StatusCode::from_u16(*status).is_ok() => *status,
            Kind::Raw { .. } => 500,
            Kind::Token { .. } | Kind::Hang => 200,
        }
    }

    /// How long this reply waits before answering.
    pub fn delay(&self) -> Duration {
        self.delay
    }
}

/// Shows the kind and status; tokens and bodies are not shown.
impl fmt::Debug for StsReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Token { .. } => "token",
            Kind::Raw { .. } => "raw",
            Kind::Hang => "hang",
        };
        f.debug_struct("StsReply")
            .field("kind", &kind)
            .field("status", &self.status())
            .field("delay", &self.delay)
            .finish_non_exhaustive()
    }
}
