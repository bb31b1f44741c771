//! The error fields of an OAuth 2.0 error response.

use std::fmt;

use secrecy::SecretString;

use super::scrub::scrub;
use crate::classify;

/// The error fields of an OAuth 2.0 error response (RFC 6749 section 5.2), plus Google's
/// `error_subtype`.
///
/// The fields come from an untrusted endpoint, so every one of them is passed through
/// [`scrub`](crate::oauth::scrub) when it is set: control characters replaced, the length capped
/// and, where the reader was given them, the caller's secrets removed. An `OAuthError` never
/// holds raw endpoint text.
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
    /// An error with only the `error` code (scrubbed).
    pub fn new(error: impl Into<String>) -> Self {
        Self {
            error: scrub(&error.into(), &[]),
            error_description: None,
            error_subtype: None,
        }
    }

    /// Sets the human-readable `error_description` (scrubbed).
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.error_description = Some(scrub(&description.into(), &[]));
        self
    }

    /// Sets Google's `error_subtype` (such as `invalid_rapt`), scrubbed.
    #[must_use]
    pub fn with_subtype(mut self, subtype: impl Into<String>) -> Self {
        self.error_subtype = Some(scrub(&subtype.into(), &[]));
        self
    }

    /// Parses an error response body. Returns `None` unless the body is a JSON object whose
    /// `error` member is a string; a non-string `error_description` or `error_subtype` is ignored.
    /// The fields are scrubbed of control characters and capped in length; to remove secrets as
    /// well, use [`error_from_response`](crate::oauth::error_from_response).
    pub fn from_json(body: &[u8]) -> Option<Self> {
        let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let parsed = Self::from_value(&value, &[]);
        super::zeroize_json(&mut value);
        parsed
    }

    /// Like [`OAuthError::from_json`], from an already parsed JSON value, removing `secrets`.
    pub(crate) fn from_value(value: &serde_json::Value, secrets: &[&SecretString]) -> Option<Self> {
        let object = value.as_object()?;
        let text = |key: &str| {
            object
                .get(key)
                .and_then(|v| v.as_str())
                .map(|t| scrub(t, secrets))
        };
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn from_value_reads_the_three_fields() {
        let value = serde_json::json!({
            "error": "invalid_grant",
            "error_description": "reauth",
            "error_subtype": "invalid_rapt",
            "other": 1,
        });
        let parsed = OAuthError::from_value(&value, &[]).unwrap();
        assert_eq!(parsed.error(), "invalid_grant");
        assert_eq!(parsed.description(), Some("reauth"));
        assert_eq!(parsed.subtype(), Some("invalid_rapt"));
        assert!(OAuthError::from_value(&serde_json::json!("invalid_grant"), &[]).is_none());
    }

    #[test]
    fn fields_are_scrubbed_however_they_are_set() {
        let secret = SecretString::from("1//refresh-secret");
        let value = serde_json::json!({
            "error": "invalid_grant\r\nx-forged: 1",
            "error_description": "Invalid refresh token: 1//refresh-secret",
        });
        let parsed = OAuthError::from_value(&value, &[&secret]).unwrap();
        assert_eq!(parsed.error(), "invalid_grant\u{FFFD}\u{FFFD}x-forged: 1");
        assert_eq!(
            parsed.description(),
            Some("Invalid refresh token: [REDACTED]")
        );
        let built = OAuthError::new("a\nb")
            .with_description("c\u{1b}d")
            .with_subtype("e\u{85}f");
        assert_eq!(built.to_string(), "a\u{FFFD}b: c\u{FFFD}d");
        assert_eq!(built.subtype(), Some("e\u{FFFD}f"));
    }
}
