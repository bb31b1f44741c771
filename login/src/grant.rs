//! Posting a grant to the token endpoint, and the credentials its answer makes.

use std::sync::Arc;

use credkit_core::{AccessToken, Clock, Result, Transport, oauth};
use credkit_refresh_token::UserCredentials;
use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

use crate::client::OAuthClient;
use crate::{endpoint, error};

/// Redeems a grant at `client`'s token endpoint: the grant's own members (`grant`, whose secret
/// values are in `grant_secrets`) and the client's authentication (`client_id`, and
/// `client_secret` when it has one, in the body as Google expects), then the credentials the
/// answer makes (see [`credentials`]).
pub(crate) async fn redeem(
    client: &OAuthClient,
    scopes: &[String],
    transport: &Arc<dyn Transport>,
    clock: &Arc<dyn Clock>,
    grant: &[(&str, &str)],
    grant_secrets: &[&SecretString],
) -> Result<UserCredentials> {
    let url = endpoint::checked(client.token_uri(), "token endpoint")?;
    let mut pairs = grant.to_vec();
    pairs.push(("client_id", client.client_id()));
    let mut secrets = grant_secrets.to_vec();
    if let Some(secret) = client.client_secret() {
        pairs.push(("client_secret", secret.expose_secret()));
        secrets.push(secret);
    }
    let token = post_grant(transport.as_ref(), clock.as_ref(), &url, &pairs, &secrets).await?;
    credentials(
        client,
        scopes,
        token,
        Arc::clone(transport),
        Arc::clone(clock),
    )
}

/// Posts `pairs` as a form to `url` and reads the token response; a non-200 answer is the
/// endpoint's error ([`oauth::error_from_response`], its OAuth fields kept). Every secret in
/// `secrets` is scrubbed from any text the endpoint sends back.
pub(crate) async fn post_grant(
    transport: &dyn Transport,
    clock: &dyn Clock,
    url: &Url,
    pairs: &[(&str, &str)],
    secrets: &[&SecretString],
) -> Result<AccessToken> {
    let request = form_request(url, pairs)?;
    // The token's lifetime counts from before the request went out.
    let sent_at = clock.now();
    let response = transport.send(request).await?;
    if response.status() == http::StatusCode::OK {
        oauth::read_token_response(&response, sent_at, secrets)
    } else {
        Err(oauth::error_from_response(&response, clock.now(), secrets))
    }
}

/// A `POST` of `pairs` as `application/x-www-form-urlencoded` (in a buffer zeroized on drop).
pub(crate) fn form_request(
    url: &Url,
    pairs: &[(&str, &str)],
) -> Result<http::Request<bytes::Bytes>> {
    http::Request::post(url.as_str())
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(oauth::form_body(pairs))
        .map_err(|_| error::bad_endpoint("token endpoint"))
}

/// What the login obtained: refresh-token credentials from the token response, for `client`,
/// with the requested `scopes`, sending their refreshes through `transport`.
///
/// # Errors
///
/// An invalid-response error when the answer has no refresh token (a login without one is of
/// no use after the first hour).
pub(crate) fn credentials(
    client: &OAuthClient,
    scopes: &[String],
    mut token: AccessToken,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
) -> Result<UserCredentials> {
    let refresh_token = token
        .take_rotated_refresh_token()
        .ok_or_else(error::no_refresh_token)?;
    let mut builder = UserCredentials::builder()
        .with_token(token.secret().clone())
        .with_refresh_token(refresh_token)
        .with_token_uri(client.token_uri())
        .with_client_id(client.client_id())
        .with_scopes(scopes.iter().cloned())
        .with_transport(transport)
        .with_clock(clock);
    if let Some(secret) = client.client_secret() {
        builder = builder.with_client_secret(secret.clone());
    }
    if let Some(expiry) = token.expiry() {
        builder = builder.with_expiry(expiry);
    }
    if let Some(id_token) = token.id_token() {
        builder = builder.with_id_token(id_token.clone());
    }
    if let Some(granted) = token.granted_scopes() {
        builder = builder.with_granted_scopes(granted.iter().cloned());
    }
    builder.build().map_err(error::unusable_answer)
}
