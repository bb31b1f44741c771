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
use crate::token::validate_token_text;
use crate::{AccessToken, Error, ErrorKind, Result};

mod error;
#[cfg(test)]
mod tests;

pub use error::OAuthError;

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
    // The parser's error is not kept as the source: its message may quote the body, and with it
    // a token. The position-free summary below says what was wrong.
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
