//! Reading OAuth 2.0 token-endpoint responses (RFC 6749 sections 5.1 and 5.2).
//!
//! Every provider that talks to a token endpoint gets the same answers here: a success becomes an
//! [`AccessToken`], an error becomes a classified [`Error`] that keeps the OAuth fields and the
//! status, and nothing a hostile endpoint sends (an HTML page, a truncated body, an absurd
//! `expires_in`, a token with a line break, a description that echoes the refresh token) can
//! panic or leak into a message. The requests go out the same way for every provider too:
//! [`form_body`] encodes a form exactly as the reference library does.
//!
//! # Copies of secrets
//!
//! Secrets are parsed straight into [`SecretString`]s, form bodies are written into one buffer of
//! their final size, and every intermediate buffer credkit owns (JSON values of error bodies and
//! credentials files, serializer output) is zeroized before it is freed. Copies outside credkit's
//! control remain: `serde_json`'s scratch buffer for strings with escape sequences, the HTTP
//! client's and the TLS stack's own buffers (reqwest, hyper, rustls), the kernel's socket
//! buffers, and whatever the caller does with an exposed secret.

use std::time::Duration;

use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::error::describe_media_type;
use crate::token::validate_token_text;
use crate::{AccessToken, Error, ErrorKind, Result, classify};

mod error;
mod form;
mod scrub;
#[cfg(test)]
mod tests;
mod wire;

pub use error::OAuthError;
pub use form::form_body;
pub use scrub::{MAX_TEXT_CHARS, REDACTED, REPLACEMENT, TRUNCATED, scrub};
pub use wire::zeroize_json;

use wire::Wire;

/// Reads a token endpoint's response: a success (HTTP 200) becomes an [`AccessToken`], anything
/// else the error it stands for (see [`error_from_response`], which removes `secrets` from any
/// text of the endpoint's the error keeps).
///
/// From a success it takes `access_token` (required: "No access token in response."),
/// `expires_in` (a number or a numeric string, decimals accepted; the expiry is `now` plus it,
/// saturating, with the issue time `now`), `token_type`, `scope` (split on whitespace into the
/// granted scopes), `id_token`, and `refresh_token` (reported as a rotation; a `null` one is
/// ignored). Other members are kept as extras.
///
/// `now` is the instant the request was sent, read *before* sending from the
/// [`Clock`](crate::Clock) the provider was given: the same clock its
/// [`Credentials`](crate::Credentials) use, so that a test's `FakeClock` governs both. A second
/// clock (the system clock in a provider, a fake one in `Credentials`) makes tokens look
/// expired on arrival, which `Credentials` refuses loudly.
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
/// let token = read_token_response(&response, now, &[])?;
/// assert_eq!(token.secret().expose_secret(), "ya29.t");
/// assert_eq!(token.expiry(), Some(datetime!(2026-01-01 1:00 UTC)));
/// assert_eq!(token.granted_scopes().unwrap(), ["email", "profile"]);
/// # Ok::<(), credkit_core::Error>(())
/// ```
pub fn read_token_response(
    response: &http::Response<Bytes>,
    now: OffsetDateTime,
    secrets: &[&SecretString],
) -> Result<AccessToken> {
    if response.status() != http::StatusCode::OK {
        return Err(error_from_response(response, now, secrets));
    }
    let status = response.status().as_u16();
    // The parser's error is not kept as the source: its message may quote the body, and with it
    // a token. The position-free summary below says what was wrong.
    // Parsed member by member straight into secret types: no intermediate buffer of the whole
    // response (as `serde(flatten)` would make) holds the token.
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
                describe_media_type(content_type(response, secrets))
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
/// `"<error>: <error_description>"`, the OAuth fields and the status kept). Anything else (an
/// HTML 503 page, JSON without `error`) becomes [`Error::unexpected_response`], naming the status
/// and content type but never the body; a string `error_description` without `error` is added
/// to that message. Every piece of endpoint text kept is [`scrub`]bed: `secrets` (pass every
/// secret the request carried or the caller holds) removed, control characters replaced, the
/// length capped. A `Retry-After` header is recorded for the retry layer.
///
/// The error is transient when the status is 500, 503, 504, 408 or 429, or when the body is a
/// JSON object whose `error` or `error_description` is exactly `internal_failure`,
/// `server_error` or `temporarily_unavailable` (see [`classify::is_transient_oauth_body`]: a
/// non-string member makes it permanent, as in the reference library).
///
/// ```
/// use bytes::Bytes;
/// use secrecy::SecretString;
/// use time::macros::datetime;
/// use credkit_core::oauth::error_from_response;
///
/// let refresh = SecretString::from("1//0gSecret");
/// let response = http::Response::builder()
///     .status(400)
///     .body(Bytes::from_static(br#"{"error":"invalid_grant","error_description":"Bad token 1//0gSecret"}"#))
///     .unwrap();
/// let err = error_from_response(&response, datetime!(2026-01-01 0:00 UTC), &[&refresh]);
/// assert_eq!(err.to_string(), "invalid_grant: Bad token [REDACTED]");
/// assert!(!err.is_transient());
/// ```
pub fn error_from_response(
    response: &http::Response<Bytes>,
    now: OffsetDateTime,
    secrets: &[&SecretString],
) -> Error {
    let status = response.status().as_u16();
    let content_type = content_type(response, secrets);
    let mut body: Option<serde_json::Value> = serde_json::from_slice(response.body()).ok();
    let err = match &body {
        Some(value) => from_error_body(status, content_type, value, secrets),
        None => Error::unexpected_response(status, content_type),
    };
    if let Some(value) = &mut body {
        zeroize_json(value);
    }
    match retry_after(response.headers(), now) {
        Some(wait) => err.with_retry_after(wait),
        None => err,
    }
}

/// The error a JSON error body stands for (see [`error_from_response`]).
fn from_error_body(
    status: u16,
    content_type: Option<&str>,
    body: &serde_json::Value,
    secrets: &[&SecretString],
) -> Error {
    let transient =
        classify::is_transient_status(status) || classify::is_transient_oauth_body(body);
    if let Some(oauth) = OAuthError::from_value(body, secrets) {
        return Error::token_endpoint(status, oauth).with_transient(transient);
    }
    let unexpected = Error::unexpected_response(status, content_type);
    match body.get("error_description").and_then(|d| d.as_str()) {
        Some(description) => Error::new(
            ErrorKind::TokenEndpoint,
            format!(
                "{}; its error_description: {}",
                unexpected.message(),
                scrub(description, secrets)
            ),
        )
        .with_http_status(status)
        .with_transient(transient),
        None => unexpected.with_transient(transient),
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

/// The response's `content-type` for messages, unless it is not text or holds one of `secrets`
/// (an endpoint may echo anything anywhere; [`describe_media_type`] then says "untyped").
fn content_type<'a>(
    response: &'a http::Response<Bytes>,
    secrets: &[&SecretString],
) -> Option<&'a str> {
    response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|ct| {
            !secrets.iter().any(|secret| {
                let secret = secret.expose_secret();
                !secret.is_empty() && ct.contains(secret)
            })
        })
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
