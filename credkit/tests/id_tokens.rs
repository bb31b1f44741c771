//! ID tokens end to end, from every origin ADC finds, against the test kit's fakes: each
//! origin's token is cached by `Credentials` until its `exp` (one fetch for concurrent
//! callers), put on requests by the tower layer like an access token, and accepted by the
//! verifier (every fake signs with one test issuer, whose keys the verifier is given).
#![cfg(all(
    unix,
    feature = "refresh-token",
    feature = "service-account",
    feature = "metadata",
    feature = "impersonated",
    feature = "gcloud",
    feature = "reqwest",
    feature = "verifier"
))]
// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use credkit::core::Credentials;
use credkit::reqwest::ReqwestTransport;
use credkit::verifier::IdTokenVerifier;
use credkit::{AccessToken, Adc};
use credkit_testing::{
    AdcEnv, FakeGcloud, FakeIamServer, FakeMetadataServer, FakeTokenEndpoint, JwtBearerCheck,
    Reply, TestIdTokenIssuer, TestKey,
};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use support::Route;

const AUDIENCE: &str = "https://my-service-abc123-uc.a.run.app";
const EMAIL: &str = "robot@credkit-test.iam.gserviceaccount.com";

/// The one issuer every fake signs its ID tokens with in these tests.
fn issuer() -> &'static TestIdTokenIssuer {
    static ISSUER: OnceLock<TestIdTokenIssuer> = OnceLock::new();
    ISSUER.get_or_init(|| TestIdTokenIssuer::generate().unwrap())
}

/// A fake's minting hook: the claims it chose, signed by [`issuer`].
fn mint(claims: &Value) -> String {
    issuer().mint(claims)
}

/// Verifies `token` for `audience` with the issuer's keys (offline), as a service receiving
/// it would; the verified claims.
async fn verified(token: &AccessToken, audience: &str) -> credkit::verifier::IdTokenClaims {
    let verifier = IdTokenVerifier::builder()
        .with_audience(audience)
        .with_jwk_set(issuer().jwk_set_json())
        .build()
        .unwrap();
    verifier
        .verify(token.secret().expose_secret())
        .await
        .unwrap()
}

/// The claims of a JWT, read without verification.
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// An ID token for `audience` from [`issuer`], an hour from now.
fn jwt(audience: &str) -> String {
    mint(&TestIdTokenIssuer::google_claims(
        audience,
        time::OffsetDateTime::now_utc(),
    ))
}

/// Sends `callers` concurrent requests through the tower layer over `credentials`; returns the
/// `Authorization` values the service saw, and checks the token is the one cached.
async fn through_tower(credentials: &Credentials, callers: usize) -> Vec<String> {
    let seen = support::through_tower(credentials, callers, AUDIENCE).await;
    let token = credentials.token().unwrap();
    let expected = format!("Bearer {}", token.secret().expose_secret());
    assert!(seen.iter().all(|value| *value == expected), "{seen:?}");
    seen
}

/// The ID token's checks every origin shares: a JWT whose `exp` is the token's expiry.
fn assert_cached_until_exp(token: &AccessToken) -> Value {
    let jwt = token.secret().expose_secret();
    let claims = claims(jwt);
    assert_eq!(
        token.expiry().map(time::OffsetDateTime::unix_timestamp),
        claims["exp"].as_i64(),
        "the ID token is cached until its own exp"
    );
    claims
}

#[tokio::test]
async fn a_users_refresh_token() {
    let endpoint = FakeTokenEndpoint::new();
    let id_token = jwt("32555940559.apps.googleusercontent.com");
    endpoint.push_reply(Reply::json(
        200,
        json!({"access_token": "ya29.a", "expires_in": 3600, "id_token": id_token}),
    ));
    let env = AdcEnv::new()
        .with_credentials_file(r#"{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "1//r"}"#)
        .without_metadata_check();
    let credentials = Adc::new()
        .with_env(env.lookup())
        .with_transport(endpoint.clone())
        .id_token_credentials(AUDIENCE)
        .await
        .unwrap();
    through_tower(&credentials, 8).await;
    assert_eq!(endpoint.requests().len(), 1, "one refresh for every caller");
    let token = credentials.token().unwrap();
    let claims = assert_cached_until_exp(&token);
    // The reference's semantics: the OAuth client's token, whatever the audience.
    assert_eq!(claims["aud"], "32555940559.apps.googleusercontent.com");
    verified(&token, "32555940559.apps.googleusercontent.com").await;
}

#[tokio::test]
async fn a_service_account_key() {
    let key = TestKey::generate().unwrap();
    let endpoint = FakeTokenEndpoint::new();
    endpoint.accept_jwt_bearer(JwtBearerCheck::new(&key, EMAIL).with_id_token_minter(mint));
    let env = AdcEnv::new()
        .with_credentials_file(&key.service_account_json(EMAIL, &endpoint.token_url()))
        .without_metadata_check();
    let credentials = Adc::new()
        .with_env(env.lookup())
        .with_transport(endpoint.clone())
        .id_token_credentials(AUDIENCE)
        .await
        .unwrap();
    through_tower(&credentials, 8).await;
    assert_eq!(endpoint.requests().len(), 1, "one grant for every caller");
    let token = credentials.token().unwrap();
    let claims = assert_cached_until_exp(&token);
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(
        verified(&token, AUDIENCE).await.email.as_deref(),
        Some(EMAIL)
    );
}

#[tokio::test]
async fn the_metadata_server() {
    let fake = FakeMetadataServer::builder()
        .with_id_token_minter(mint)
        .start()
        .await
        .unwrap();
    let env = AdcEnv::new().with_metadata_host(fake.host());
    let credentials = Adc::new()
        .with_env(env.lookup())
        .with_transport(ReqwestTransport::new().unwrap())
        .id_token_credentials(AUDIENCE)
        .await
        .unwrap();
    let before = fake.request_count();
    through_tower(&credentials, 8).await;
    assert_eq!(
        fake.request_count() - before,
        1,
        "one identity request for every caller"
    );
    let token = credentials.token().unwrap();
    let claims = assert_cached_until_exp(&token);
    assert_eq!(claims["aud"], AUDIENCE);
    verified(&token, AUDIENCE).await;
}

#[tokio::test]
async fn the_gcloud_cli() {
    let gcloud = FakeGcloud::builder()
        .with_identity_token(jwt(AUDIENCE))
        .build()
        .unwrap();
    let env = AdcEnv::new()
        .with_gcloud_dir(gcloud.dir())
        .with_gcloud_properties(&[("account", EMAIL)])
        .without_metadata_check();
    let credentials = Adc::new()
        .with_env(env.lookup())
        .with_transport(FakeTokenEndpoint::new())
        .id_token_credentials(AUDIENCE)
        .await
        .unwrap();
    through_tower(&credentials, 8).await;
    assert_eq!(gcloud.calls(), 1, "one gcloud run for every caller");
    assert_eq!(
        gcloud.invocations()[0],
        [
            "auth",
            "print-identity-token",
            &format!("--audiences={AUDIENCE}")
        ]
    );
    let token = credentials.token().unwrap();
    assert_cached_until_exp(&token);
    verified(&token, AUDIENCE).await;
}

#[tokio::test]
async fn an_impersonated_service_account() {
    let iam = FakeIamServer::builder()
        .with_accepted_bearer("ya29.source")
        .with_id_token_minter(mint)
        .start()
        .await
        .unwrap();
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(Reply::token("ya29.source"));
    let file = json!({
        "type": "impersonated_service_account",
        "service_account_impersonation_url": format!(
            "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{EMAIL}:generateAccessToken"
        ),
        "delegates": ["projects/-/serviceAccounts/middle@credkit-test.iam.gserviceaccount.com"],
        "source_credentials": {"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "1//r"},
    });
    let env = AdcEnv::new()
        .with_credentials_file(&file.to_string())
        .without_metadata_check();
    let route = Route::new(&iam, &endpoint);
    let credentials = Adc::new()
        .with_env(env.lookup())
        .with_transport(route)
        .id_token_credentials(AUDIENCE)
        .await
        .unwrap();
    through_tower(&credentials, 8).await;
    let calls: Vec<_> = iam.requests();
    assert_eq!(calls.len(), 1, "one generateIdToken for every caller");
    assert_eq!(calls[0].rpc(), Some("generateIdToken"));
    assert_eq!(calls[0].principal(), Some(EMAIL));
    assert_eq!(
        calls[0].json().unwrap()["delegates"],
        json!(["projects/-/serviceAccounts/middle@credkit-test.iam.gserviceaccount.com"])
    );
    assert_eq!(endpoint.requests().len(), 1, "the source refreshed once");
    let token = credentials.token().unwrap();
    let claims = assert_cached_until_exp(&token);
    assert_eq!(claims["aud"], AUDIENCE);
    verified(&token, AUDIENCE).await;
}
