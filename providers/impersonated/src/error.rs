//! The errors of impersonation. Each starts with the reference library's words for the call
//! that failed, keeps the HTTP status and Google's error `status` as an [`OAuthError`], is
//! transient exactly as the shared classifier says, and never carries a token or a raw body:
//! Google's error `message` is [`scrub`](oauth::scrub)bed of the source's token and capped.

use bytes::Bytes;
use credkit_core::{BuildError, Error, ErrorKind, OAuthError, classify, oauth};
use secrecy::SecretString;
use time::OffsetDateTime;

/// The reference's words when `generateAccessToken` or `signJwt` fails.
pub(crate) const REFRESH_ERROR: &str = "Unable to acquire impersonated credentials";

/// The reference's words when `generateIdToken` fails.
pub(crate) const ID_TOKEN_ERROR: &str = "Error getting ID token";

/// The reference's words when `signBlob` fails.
pub(crate) const SIGN_ERROR: &str = "Error calling sign_bytes";

/// The reference's words when `signBlob` kept answering with a retryable status.
pub(crate) const SIGN_EXHAUSTED: &str = "exhausted signBlob endpoint retries";

/// The reference's words for domain-wide delegation outside the default universe.
pub(crate) const DWD_UNIVERSE: &str =
    "Domain-wide delegation is not supported in universes other than googleapis.com";

/// The error an IAM Credentials reply with a status other than 200 stands for, led by `prefix`.
///
/// - Google's JSON error (`{"error":{"code":403,"message":"…","status":"PERMISSION_DENIED"}}`):
///   kind `TokenEndpoint`, the HTTP status, an [`OAuthError`] whose `error` is the `status` (or
///   the HTTP status as a number when Google sent none) and whose description is the scrubbed
///   `message`; the message `"<prefix>: <status>: <message>"`.
/// - An OAuth-style error (`{"error":"invalid_grant",…}`, as a proxy in front may send): the
///   token endpoint's reading of it ([`oauth::error_from_response`]), led by `prefix`.
/// - Anything else: [`Error::unexpected_response`] (status and content type, never the body),
///   led by `prefix`.
///
/// Transient when the status is (500, 503, 504, 408, 429) or the OAuth code is; `Retry-After`
/// is kept.
pub(crate) fn from_reply(
    prefix: &str,
    response: &http::Response<Bytes>,
    now: OffsetDateTime,
    secrets: &[&SecretString],
) -> Error {
    let status = response.status().as_u16();
    let body: Option<serde_json::Value> = serde_json::from_slice(response.body()).ok();
    let google = body
        .as_ref()
        .and_then(|value| value.get("error"))
        .and_then(serde_json::Value::as_object);
    let err = if let Some(google) = google {
        let code = google
            .get("status")
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
            .map_or_else(|| status.to_string(), |s| oauth::scrub(s, secrets));
        let mut fields = OAuthError::new(code);
        if let Some(message) = google.get("message").and_then(serde_json::Value::as_str) {
            fields = fields.with_description(oauth::scrub(message, secrets));
        }
        let transient = classify::is_transient_status(status) || fields.is_transient();
        Error::new(ErrorKind::TokenEndpoint, format!("{prefix}: {fields}"))
            .with_http_status(status)
            .with_oauth(fields)
            .with_transient(transient)
    } else {
        let inner = oauth::error_from_response(response, now, secrets);
        let mut err = Error::new(inner.kind(), format!("{prefix}: {}", inner.message()))
            .with_http_status(status)
            .with_transient(inner.is_transient());
        if let Some(fields) = inner.oauth() {
            err = err.with_oauth(fields.clone());
        }
        err
    };
    match oauth::retry_after(response.headers(), now) {
        Some(wait) => err.with_retry_after(wait),
        None => err,
    }
}

/// A 200 whose body lacks what it should hold: `"<prefix>: <what>"`, permanent. Never quotes
/// the body.
pub(crate) fn invalid(prefix: &str, what: &str) -> Error {
    Error::new(ErrorKind::InvalidResponse, format!("{prefix}: {what}"))
}

/// `signBlob` answered with a retryable failure on every attempt: the reference's words, then
/// the last failure's; still transient, so an outer retry layer may try again later.
pub(crate) fn sign_exhausted(last: &Error) -> Error {
    let mut err = Error::new(last.kind(), format!("{SIGN_EXHAUSTED}: {}", last.message()))
        .with_transient(true);
    if let Some(status) = last.http_status() {
        err = err.with_http_status(status);
    }
    if let Some(fields) = last.oauth() {
        err = err.with_oauth(fields.clone());
    }
    err
}

/// Domain-wide delegation was asked for in another universe.
pub(crate) fn dwd_universe() -> BuildError {
    BuildError::invalid_value(DWD_UNIVERSE)
}

/// No transport was given to a builder.
pub(crate) fn no_transport(what: &str) -> BuildError {
    BuildError::missing_fields(format!(
        "{what} needs a transport for the IAM Credentials API: give one with `with_transport` \
         (credkit_reqwest::ReqwestTransport, say)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, content_type: &str, body: &'static str) -> http::Response<Bytes> {
        http::Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(Bytes::from_static(body.as_bytes()))
            .unwrap()
    }

    const NOW: OffsetDateTime = time::macros::datetime!(2026-01-01 0:00 UTC);

    #[test]
    fn google_errors_keep_status_and_scrubbed_message() {
        let token = SecretString::from("ya29.source-token-secret");
        let response = reply(
            403,
            "application/json",
            r#"{"error":{"code":403,"message":"Permission denied for ya29.source-token-secret\n","status":"PERMISSION_DENIED"}}"#,
        );
        let err = from_reply(REFRESH_ERROR, &response, NOW, &[&token]);
        assert_eq!(
            err.to_string(),
            "Unable to acquire impersonated credentials: PERMISSION_DENIED: Permission denied for [REDACTED]\u{FFFD}"
        );
        assert_eq!(err.kind(), ErrorKind::TokenEndpoint);
        assert_eq!(err.http_status(), Some(403));
        assert_eq!(err.oauth_error(), Some("PERMISSION_DENIED"));
        assert_eq!(
            err.error_description(),
            Some("Permission denied for [REDACTED]\u{FFFD}")
        );
        assert!(!err.is_transient());
    }

    #[test]
    fn transience_follows_the_status_and_retry_after_is_kept() {
        let mut response = reply(
            503,
            "application/json",
            r#"{"error":{"code":503,"message":"busy","status":"UNAVAILABLE"}}"#,
        );
        response
            .headers_mut()
            .insert("retry-after", "7".parse().unwrap());
        let err = from_reply(ID_TOKEN_ERROR, &response, NOW, &[]);
        assert!(err.is_transient());
        assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(7)));
        assert_eq!(err.to_string(), "Error getting ID token: UNAVAILABLE: busy");
        let err = from_reply(
            SIGN_ERROR,
            &reply(502, "application/json", r#"{"error":{"code":502}}"#),
            NOW,
            &[],
        );
        assert!(!err.is_transient());
        assert_eq!(err.oauth_error(), Some("502"));
        assert_eq!(err.to_string(), "Error calling sign_bytes: 502");
        let err = from_reply(
            SIGN_ERROR,
            &reply(
                429,
                "application/json",
                r#"{"error":{"status":"","message":"slow down"}}"#,
            ),
            NOW,
            &[],
        );
        assert_eq!(err.oauth_error(), Some("429"));
        assert_eq!(err.error_description(), Some("slow down"));
        assert!(err.is_transient());
    }

    #[test]
    fn other_bodies_never_show() {
        let err = from_reply(
            REFRESH_ERROR,
            &reply(500, "text/html", "<html>ya29.leaked</html>"),
            NOW,
            &[],
        );
        assert!(!err.to_string().contains("leaked"), "{err}");
        assert!(
            err.to_string()
                .starts_with("Unable to acquire impersonated credentials: the token endpoint answered HTTP 500 with a text/html body"),
            "{err}"
        );
        assert!(err.is_transient());
        assert_eq!(err.http_status(), Some(500));
        let err = from_reply(
            REFRESH_ERROR,
            &reply(
                400,
                "application/json",
                r#"{"error":"invalid_grant","error_description":"bad"}"#,
            ),
            NOW,
            &[],
        );
        assert_eq!(
            err.to_string(),
            "Unable to acquire impersonated credentials: invalid_grant: bad"
        );
        assert_eq!(err.oauth_error(), Some("invalid_grant"));
        assert_eq!(err.kind(), ErrorKind::TokenEndpoint);
        let err = from_reply(
            REFRESH_ERROR,
            &reply(
                400,
                "application/json",
                r#"{"error":"temporarily_unavailable"}"#,
            ),
            NOW,
            &[],
        );
        assert!(err.is_transient());
    }

    #[test]
    fn exhaustion_keeps_the_last_failure() {
        let last = from_reply(
            SIGN_ERROR,
            &reply(
                503,
                "application/json",
                r#"{"error":{"message":"m","status":"UNAVAILABLE"}}"#,
            ),
            NOW,
            &[],
        );
        let err = sign_exhausted(&last);
        assert_eq!(
            err.to_string(),
            "exhausted signBlob endpoint retries: Error calling sign_bytes: UNAVAILABLE: m"
        );
        assert!(err.is_transient());
        assert_eq!(err.http_status(), Some(503));
        assert_eq!(err.oauth_error(), Some("UNAVAILABLE"));
        assert_eq!(err.kind(), ErrorKind::TokenEndpoint);
        let bare = sign_exhausted(&Error::new(ErrorKind::Transport, "reset"));
        assert_eq!(bare.http_status(), None);
        assert_eq!(bare.oauth_error(), None);
    }

    #[test]
    fn build_errors_say_what_to_do() {
        assert!(dwd_universe().to_string().contains("googleapis.com"));
        assert!(dwd_universe().is_invalid_value());
        let err = no_transport("ImpersonatedCredentials");
        assert!(err.to_string().contains("with_transport"), "{err}");
        assert_eq!(
            invalid(ID_TOKEN_ERROR, "No ID token in response.").to_string(),
            "Error getting ID token: No ID token in response."
        );
    }
}
