//! ID tokens end to end, from every origin ADC finds, against the test kit's fakes: each
//! origin's token is cached by `Credentials` until its `exp` (one fetch for concurrent
//! callers) and put on requests by the tower layer like an access token.
#![cfg(all(
    unix,
    feature = "refresh-token",
    feature = "service-account",
    feature = "metadata",
    feature = "gcloud",
    feature = "reqwest"
))]
// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use credkit::core::Credentials;
use credkit::reqwest::ReqwestTransport;
use credkit::{AccessToken, Adc};
use credkit_testing::{
    AdcEnv, FakeGcloud, FakeMetadataServer, FakeTokenEndpoint, JwtBearerCheck, Reply, TestKey,
};
use credkit_tower::AuthLayer;
use http_body_util::Full;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tower::{ServiceBuilder, ServiceExt};

const AUDIENCE: &str = "https://my-service-abc123-uc.a.run.app";
const EMAIL: &str = "robot@credkit-test.iam.gserviceaccount.com";

/// The claims of a JWT, read without verification.
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// An unsigned JWT-shaped ID token for `audience`, an hour from now.
fn jwt(audience: &str) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({"aud": audience, "iss": "https://accounts.google.com", "iat": now, "exp": now + 3600});
    format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// Sends `callers` concurrent requests through the tower layer over `credentials`; returns the
/// `Authorization` values the service saw, and checks the token is the one cached.
async fn through_tower(credentials: &Credentials, callers: usize) -> Vec<String> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let service = {
        let seen = Arc::clone(&seen);
        ServiceBuilder::new()
            .layer(AuthLayer::new(credentials.clone()))
            .service_fn(move |request: http::Request<Full<Bytes>>| {
                let seen = Arc::clone(&seen);
                async move {
                    let value = request.headers()[http::header::AUTHORIZATION]
                        .to_str()
                        .unwrap()
                        .to_owned();
                    seen.lock().unwrap().push(value);
                    Ok::<_, std::convert::Infallible>(http::Response::new(()))
                }
            })
    };
    let requests = (0..callers).map(|_| {
        let request = http::Request::get(AUDIENCE)
            .body(Full::<Bytes>::default())
            .unwrap();
        service.clone().oneshot(request)
    });
    for response in futures::future::join_all(requests).await {
        assert_eq!(response.unwrap().status(), 200);
    }
    let token = credentials.token().unwrap();
    let expected = format!("Bearer {}", token.secret().expose_secret());
    let seen = seen.lock().unwrap().clone();
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
    let claims = assert_cached_until_exp(&credentials.token().unwrap());
    // The reference's semantics: the OAuth client's token, whatever the audience.
    assert_eq!(claims["aud"], "32555940559.apps.googleusercontent.com");
}

#[tokio::test]
async fn a_service_account_key() {
    let key = TestKey::generate().unwrap();
    let endpoint = FakeTokenEndpoint::new();
    endpoint.accept_jwt_bearer(JwtBearerCheck::new(&key, EMAIL));
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
    let claims = assert_cached_until_exp(&credentials.token().unwrap());
    assert_eq!(claims["aud"], AUDIENCE);
}

#[tokio::test]
async fn the_metadata_server() {
    let fake = FakeMetadataServer::start().await.unwrap();
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
    let claims = assert_cached_until_exp(&credentials.token().unwrap());
    assert_eq!(claims["aud"], AUDIENCE);
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
    assert_cached_until_exp(&credentials.token().unwrap());
}
