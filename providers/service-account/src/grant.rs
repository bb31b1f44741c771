//! The JWT-bearer grant (RFC 7523): an assertion signed with the key, traded at the token
//! endpoint for an access token or an ID token.

use bytes::Bytes;
use credkit_core::{AccessToken, Clock, Result, Transport, oauth};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::credentials::{Config, GOOGLE_TOKEN_URI};
use crate::error;
use crate::id_token::IdConfig;
use crate::jwt::{encode_jwt, issued_and_expiry};

/// The grant type of RFC 7523's JWT-bearer grant.
pub const JWT_BEARER_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The assertion's claims for an access token, in the reference's order (see
/// `ServiceAccountCredentials`' docs).
pub(crate) fn access_token_claims(config: &Config, now: OffsetDateTime) -> Map<String, Value> {
    let (iat, exp) = issued_and_expiry(now);
    let mut claims = Map::new();
    claims.insert("iat".to_owned(), iat.into());
    claims.insert("exp".to_owned(), exp.into());
    claims.insert("iss".to_owned(), config.email.clone().into());
    claims.insert("aud".to_owned(), GOOGLE_TOKEN_URI.into());
    let scope = config.scopes.as_deref().unwrap_or_default().join(" ");
    claims.insert("scope".to_owned(), scope.into());
    claims.extend(config.additional_claims.clone());
    if let Some(subject) = &config.subject {
        claims
            .entry("sub")
            .or_insert_with(|| subject.clone().into());
    }
    claims
}

/// The assertion's claims for an ID token.
pub(crate) fn id_token_claims(config: &IdConfig, now: OffsetDateTime) -> Map<String, Value> {
    let (iat, exp) = issued_and_expiry(now);
    let mut claims = Map::new();
    claims.insert("iat".to_owned(), iat.into());
    claims.insert("exp".to_owned(), exp.into());
    claims.insert("iss".to_owned(), config.email.clone().into());
    claims.insert("aud".to_owned(), GOOGLE_TOKEN_URI.into());
    claims.insert(
        "target_audience".to_owned(),
        config.target_audience.clone().into(),
    );
    claims.extend(config.additional_claims.clone());
    claims
}

/// Runs the grant for an access token.
pub(crate) async fn access_token(config: &Config) -> Result<AccessToken> {
    let transport = config
        .transport
        .as_deref()
        .ok_or_else(error::no_transport)?;
    // `iat` and the token's lifetime count from this one reading, taken before the request.
    let now = config.clock.now();
    let assertion = encode_jwt(&config.signer, &access_token_claims(config, now)).await?;
    tracing::debug!(email = %config.email, "sending the JWT-bearer grant");
    let response = post(transport, &config.token_uri, &assertion).await?;
    if response.status() == http::StatusCode::OK {
        oauth::read_token_response(&response, now, &[&assertion])
    } else {
        Err(failure(&response, config.clock.as_ref(), &assertion))
    }
}

/// Runs the grant for an ID token: the token is the response's `id_token`, its expiry the ID
/// token's own `exp`.
pub(crate) async fn id_token(config: &IdConfig) -> Result<AccessToken> {
    let transport = config
        .transport
        .as_deref()
        .ok_or_else(error::no_transport)?;
    let now = config.clock.now();
    let assertion = encode_jwt(&config.signer, &id_token_claims(config, now)).await?;
    tracing::debug!(email = %config.email, "sending the JWT-bearer grant for an ID token");
    let response = post(transport, &config.token_uri, &assertion).await?;
    if response.status() != http::StatusCode::OK {
        return Err(failure(&response, config.clock.as_ref(), &assertion));
    }
    let id_token = read_id_token(response.body())?;
    Ok(AccessToken::from_id_token(id_token)?.with_issued_at(now))
}

/// The `id_token` of a 200 response, parsed straight into a secret.
fn read_id_token(body: &[u8]) -> Result<SecretString> {
    #[derive(serde::Deserialize)]
    struct Wire {
        id_token: Option<SecretString>,
    }
    let wire: Wire = serde_json::from_slice(body).map_err(|_| {
        credkit_core::Error::new(
            credkit_core::ErrorKind::InvalidResponse,
            "the token endpoint answered HTTP 200 with a body that is not a token response",
        )
    })?;
    wire.id_token.ok_or_else(error::no_id_token)
}

/// The error a non-200 response stands for, the assertion scrubbed from its text. Read at the
/// time of the answer: a `Retry-After` date counts from then.
fn failure(
    response: &http::Response<Bytes>,
    clock: &dyn Clock,
    assertion: &SecretString,
) -> credkit_core::Error {
    oauth::error_from_response(response, clock.now(), &[assertion])
}

/// Sends the grant: `content-type: application/x-www-form-urlencoded` and the form
/// `assertion=<JWT>&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer`, in the
/// reference's order and encoding, in a buffer zeroized when the request is dropped.
async fn post(
    transport: &dyn Transport,
    token_uri: &str,
    assertion: &SecretString,
) -> Result<http::Response<Bytes>> {
    let request = grant_request(token_uri, assertion)?;
    transport.send(request).await
}

pub(crate) fn grant_request(
    token_uri: &str,
    assertion: &SecretString,
) -> Result<http::Request<Bytes>> {
    let body = oauth::form_body(&[
        ("assertion", assertion.expose_secret()),
        ("grant_type", JWT_BEARER_GRANT_TYPE),
    ]);
    http::Request::post(token_uri)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .map_err(error::invalid_token_uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_is_the_references() {
        let request = grant_request(
            "https://oauth2.googleapis.com/token",
            &SecretString::from("a.b.c"),
        )
        .unwrap();
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(
            request.headers()["content-type"],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(request.headers().len(), 1);
        assert_eq!(
            request.body().as_ref(),
            b"assertion=a.b.c&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
        );
    }

    #[test]
    fn an_invalid_token_uri_is_a_configuration_error() {
        let err = grant_request("not a uri\n", &SecretString::from("x")).unwrap_err();
        assert_eq!(err.kind(), credkit_core::ErrorKind::Configuration);
        assert!(!err.to_string().contains("not a uri"));
    }

    #[test]
    fn id_token_bodies() {
        assert!(read_id_token(br#"{"id_token":"a.b.c"}"#).is_ok());
        assert_eq!(
            read_id_token(br#"{"access_token":"x"}"#)
                .unwrap_err()
                .to_string(),
            "No ID token in response."
        );
        let err = read_id_token(b"<html>").unwrap_err();
        assert_eq!(err.kind(), credkit_core::ErrorKind::InvalidResponse);
    }
}
