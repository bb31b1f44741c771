//! Reading OAuth 2.0 token-endpoint responses (RFC 6749 sections 5.1 and 5.2).
//!
//! Every provider that talks to a token endpoint gets the same answers here: a success becomes an
//! [`AccessToken`], an error becomes a classified [`Error`] that keeps the OAuth fields and the
//! status, and nothing a hostile endpoint sends (an HTML page, a truncated body, an absurd
//! `expires_in`, a token with a line break) can panic or leak the body into a message.

use std::time::Duration;

use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::error::describe_media_type;
use crate::{AccessToken, Error, ErrorKind, OAuthError, Result, validate_token_text};

/// Reads a token endpoint's response: a success (HTTP 200) becomes an [`AccessToken`], anything
/// else the error it stands for (see [`error_from_response`]).
///
/// From a success it takes `access_token` (required: "No access token in response."),
/// `expires_in` (a number or a numeric string, decimals accepted; the expiry is `now` plus it,
/// saturating, with the issue time `now`), `token_type`, `scope` (split on whitespace into the
/// granted scopes), `id_token`, and `refresh_token` (reported as a rotation; a `null` one is
/// ignored). Other members are kept as extras.
///
/// # Errors
///
/// [`ErrorKind::InvalidResponse`] for a 200 that is not a JSON object, lacks `access_token`, or
/// carries a token that cannot go into a header; the errors of [`error_from_response`] otherwise.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use secrecy::ExposeSecret;
/// use time::macros::datetime;
/// use credkit_core::oauth::read_token_response;
///
/// let now = datetime!(2026-01-01 0:00 UTC);
/// let response = http::Response::new(Bytes::from_static(
///     br#"{"access_token":"ya29.t","expires_in":3600,"scope":"email profile"}"#,
/// ));
/// let token = read_token_response(&response, now)?;
/// assert_eq!(token.secret().expose_secret(), "ya29.t");
/// assert_eq!(token.expiry(), Some(datetime!(2026-01-01 1:00 UTC)));
/// assert_eq!(token.granted_scopes().unwrap(), ["email", "profile"]);
/// # Ok::<(), credkit_core::Error>(())
/// ```
pub fn read_token_response(
    response: &http::Response<Bytes>,
    now: OffsetDateTime,
) -> Result<AccessToken> {
    if response.status() != http::StatusCode::OK {
        return Err(error_from_response(response, now));
    }
    let status = response.status().as_u16();
    let wire: Wire = serde_json::from_slice(response.body()).map_err(|err| {
        let what = if err.is_data() {
            "a member has the wrong type"
        } else {
            "it is not a complete JSON object"
        };
        Error::new(
            ErrorKind::InvalidResponse,
            format!(
                "the token endpoint answered HTTP {status} with {} body that is not a token response ({what})",
                media_type(response)
            ),
        )
    })?;
    let Some(secret) = wire.access_token else {
        return Err(Error::new(
            ErrorKind::InvalidResponse,
            "No access token in response.",
        ));
    };
    validate_token_text(secret.expose_secret(), "access token")?;
    let mut token = AccessToken::from_secret(secret);
    if let Some(expires_in) = wire.expires_in {
        token = token.with_lifetime(now, seconds(&expires_in)?);
    }
    if let Some(token_type) = wire.token_type {
        token = token.with_token_type(token_type);
    }
    if let Some(scope) = wire.scope {
        token = token.with_granted_scopes(scope.split_whitespace());
    }
    if let Some(id_token) = wire.id_token {
        token = token.with_id_token(id_token);
    }
    if let Some(refresh_token) = wire.refresh_token {
        token = token.with_rotated_refresh_token(refresh_token);
    }
    for (key, value) in wire.extra {
        token = token.with_extra(key, value);
    }
    Ok(token)
}

/// The error a non-success token-endpoint response stands for.
///
/// A JSON body with a string `error` becomes [`Error::token_endpoint`] (message
/// `"<error>: <error_description>"`, the OAuth fields and the status kept, transient by the shared
/// classifier). Anything else (an HTML 503 page, JSON without `error`) becomes
/// [`Error::unexpected_response`], naming the status and content type but never the body. A
/// `Retry-After` header is recorded for the retry layer.
///
/// ```
/// use bytes::Bytes;
/// use time::macros::datetime;
/// use credkit_core::oauth::error_from_response;
///
/// let response = http::Response::builder()
///     .status(400)
///     .body(Bytes::from_static(br#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#))
///     .unwrap();
/// let err = error_from_response(&response, datetime!(2026-01-01 0:00 UTC));
/// assert_eq!(err.to_string(), "invalid_grant: Token has been expired or revoked.");
/// assert!(!err.is_transient());
/// ```
pub fn error_from_response(response: &http::Response<Bytes>, now: OffsetDateTime) -> Error {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let err = match OAuthError::from_json(response.body()) {
        Some(oauth) => Error::token_endpoint(status, oauth),
        None => Error::unexpected_response(status, content_type),
    };
    match retry_after(response.headers(), now) {
        Some(wait) => err.with_retry_after(wait),
        None => err,
    }
}

/// How long a `Retry-After` header asks to wait: delta-seconds or an HTTP date (relative to
/// `now`; a date in the past means no wait). `None` without a readable header.
///
/// ```
/// use std::time::Duration;
/// use time::macros::datetime;
/// use credkit_core::oauth::retry_after;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("retry-after", "120".parse().unwrap());
/// let now = datetime!(2015-10-21 7:28 UTC);
/// assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(120)));
/// headers.insert("retry-after", "Wed, 21 Oct 2015 07:28:30 GMT".parse().unwrap());
/// assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
/// ```
pub fn retry_after(headers: &http::HeaderMap, now: OffsetDateTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = OffsetDateTime::parse(value, &Rfc2822).ok()?;
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

/// The response's media type for messages (see [`describe_media_type`]).
fn media_type(response: &http::Response<Bytes>) -> String {
    describe_media_type(
        response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// `expires_in` as a duration: a non-negative number, or a string holding one. Saturates when
/// absurdly large.
fn seconds(value: &serde_json::Value) -> Result<Duration> {
    let secs = match value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match secs {
        Some(secs) if secs >= 0.0 && !secs.is_nan() => {
            Ok(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
        }
        _ => Err(Error::new(
            ErrorKind::InvalidResponse,
            "the token response's expires_in is not a non-negative number of seconds",
        )),
    }
}

/// The token response as sent. Secrets go straight into `SecretString`s.
#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    access_token: Option<SecretString>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    id_token: Option<SecretString>,
    #[serde(default)]
    refresh_token: Option<SecretString>,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

    fn response(status: u16, content_type: &str, body: &'static [u8]) -> http::Response<Bytes> {
        http::Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(Bytes::from_static(body))
            .unwrap()
    }

    fn ok(body: &'static [u8]) -> Result<AccessToken> {
        read_token_response(&response(200, "application/json", body), NOW)
    }

    #[test]
    fn expires_in_forms() {
        for (body, secs) in [
            (&br#"{"access_token":"t","expires_in":500}"#[..], 500.0),
            (br#"{"access_token":"t","expires_in":"500"}"#, 500.0),
            (br#"{"access_token":"t","expires_in":"3599.5"}"#, 3599.5),
            (br#"{"access_token":"t","expires_in":0}"#, 0.0),
        ] {
            let token = ok(body).unwrap();
            let expected = NOW + time::Duration::seconds_f64(secs);
            assert_eq!(token.expiry(), Some(expected));
            assert_eq!(token.issued_at(), Some(NOW));
        }
        assert_eq!(ok(br#"{"access_token":"t"}"#).unwrap().expiry(), None);
        assert_eq!(
            ok(br#"{"access_token":"t","expires_in":null}"#)
                .unwrap()
                .expiry(),
            None
        );
    }

    #[test]
    fn bad_expires_in_is_a_typed_error() {
        for body in [
            &br#"{"access_token":"t","expires_in":-1}"#[..],
            br#"{"access_token":"t","expires_in":"soon"}"#,
            br#"{"access_token":"t","expires_in":[1]}"#,
            br#"{"access_token":"t","expires_in":"NaN"}"#,
        ] {
            assert_eq!(ok(body).unwrap_err().kind(), ErrorKind::InvalidResponse);
        }
        let absurd = ok(br#"{"access_token":"t","expires_in":1e300}"#).unwrap();
        assert!(absurd.expiry().is_some_and(|e| e > NOW));
    }

    #[test]
    fn missing_access_token_uses_the_reference_text() {
        let err = ok(br#"{"foo":1}"#).unwrap_err();
        assert_eq!(err.to_string(), "No access token in response.");
        assert!(!err.is_transient());
    }

    #[test]
    fn non_json_success_bodies_are_typed_errors_without_the_body() {
        for (content_type, body) in [
            ("text/html", &b"<html>secret-page</html>"[..]),
            ("application/json", b""),
            ("application/json", br#"{"access_token":"secret-page"#),
            ("application/json", br#"{"access_token":5}"#),
            ("application/json", br#"["secret-page"]"#),
        ] {
            let err = read_token_response(&response(200, content_type, body), NOW).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{body:?}");
            assert!(!err.to_string().contains("secret-page"));
        }
    }

    #[test]
    fn header_injection_is_rejected() {
        let err = ok(b"{\"access_token\":\"a\\r\\nx-evil: 1\"}").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    }

    #[test]
    fn rotation_id_token_scopes_and_extras() {
        let token = ok(br#"{"access_token":"t","refresh_token":"rt2","id_token":"idt","scope":"a  b\tc","token_type":"bearer","foo":"bar"}"#).unwrap();
        assert_eq!(
            token.rotated_refresh_token().unwrap().expose_secret(),
            "rt2"
        );
        assert_eq!(token.id_token().unwrap().expose_secret(), "idt");
        assert_eq!(token.granted_scopes().unwrap(), ["a", "b", "c"]);
        assert_eq!(token.token_type(), "bearer");
        assert_eq!(token.extra()["foo"], "bar");
        let null_rotation = ok(br#"{"access_token":"t","refresh_token":null}"#).unwrap();
        assert!(null_rotation.rotated_refresh_token().is_none());
    }

    #[test]
    fn error_responses() {
        let err = error_from_response(
            &response(400, "application/json", br#"{"error":"invalid_grant","error_description":"Token has been expired or revoked.","error_subtype":"invalid_rapt"}"#),
            NOW,
        );
        assert_eq!(err.kind(), ErrorKind::TokenEndpoint);
        assert_eq!(err.http_status(), Some(400));
        assert_eq!(err.error_subtype(), Some("invalid_rapt"));
        assert!(!err.is_transient());

        let html = error_from_response(&response(503, "text/html", b"<h1>busy secret</h1>"), NOW);
        assert_eq!(html.http_status(), Some(503));
        assert!(html.is_transient());
        assert!(!html.to_string().contains("secret"));
        assert!(html.to_string().contains("503") && html.to_string().contains("text/html"));

        let no_error =
            error_from_response(&response(400, "application/json", br#"{"foo":"bar"}"#), NOW);
        assert_eq!(no_error.oauth_error(), None);
        assert!(!no_error.is_transient());

        let retryable = error_from_response(
            &response(
                400,
                "application/json",
                br#"{"error":"temporarily_unavailable"}"#,
            ),
            NOW,
        );
        assert!(retryable.is_transient());
    }

    #[test]
    fn retry_after_header_is_kept() {
        let response = http::Response::builder()
            .status(429)
            .header("retry-after", "7")
            .body(Bytes::new())
            .unwrap();
        let err = read_token_response(&response, NOW).unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "retry-after",
            "Thu, 01 Jan 2015 00:00:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers, NOW), Some(Duration::ZERO));
        headers.insert("retry-after", "garbage".parse().unwrap());
        assert_eq!(retry_after(&headers, NOW), None);
    }
}
