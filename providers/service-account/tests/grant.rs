//! The JWT-bearer grant against the fake token endpoint, which verifies the assertion: scopes,
//! delegation, additional claims, ID tokens, errors, hung servers and cancellation.
#![allow(clippy::unwrap_used)]

mod support;

use base64::Engine as _;

use std::time::Duration;

use credkit_core::{Clock, ErrorKind, TokenSource};
use credkit_service_account::{GOOGLE_TOKEN_URI, JWT_BEARER_GRANT_TYPE};
use credkit_testing::{FakeClock, FakeTokenEndpoint, FakeTokenServer, Reply};
use futures::FutureExt;
use secrecy::ExposeSecret;
use serde_json::json;
use support::{CLOUD_PLATFORM, EMAIL, builder, check, verify};

fn fetch(source: &impl TokenSource) -> credkit_core::Result<credkit_core::AccessToken> {
    futures::executor::block_on(source.fetch_token())
}

#[test]
fn scoped_grant_is_verified_and_its_token_dated_from_before_the_request() {
    let clock = FakeClock::new().with_auto_advance(true);
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.accept_jwt_bearer(
        check()
            .with_scope(format!("{CLOUD_PLATFORM} email"))
            .with_subject(None),
    );
    endpoint.push_reply(Reply::default_token().with_delay(Duration::from_secs(30)));
    let start = clock.now();
    let creds = builder(&endpoint, &clock)
        .with_scopes([CLOUD_PLATFORM, "email"])
        .with_quota_project("billing")
        .build()
        .unwrap();
    assert!(!creds.uses_self_signed_jwt());
    let token = fetch(&creds).unwrap();
    assert_eq!(token.secret().expose_secret(), "fake-access-token-1");
    assert_eq!(token.quota_project(), Some("billing"));
    // Counted from the send, 30 s before the reply.
    assert_eq!(token.expiry(), Some(start + Duration::from_secs(3600)));

    let request = endpoint.last_request().unwrap();
    assert_eq!(request.form_keys(), ["assertion", "grant_type"]);
    assert_eq!(
        request.form_value("grant_type"),
        Some(JWT_BEARER_GRANT_TYPE)
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let (header, claims) = verify(request.form_value("assertion").unwrap());
    assert_eq!(header.kid.as_deref(), Some(support::test_key().key_id()));
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(claims["iss"], EMAIL);
    assert_eq!(claims["aud"], GOOGLE_TOKEN_URI);
    assert_eq!(claims["iat"], start.unix_timestamp());
    assert_eq!(claims["exp"], start.unix_timestamp() + 3600);
    assert_eq!(claims.len(), 5, "{claims:?}");
}

#[test]
fn delegation_and_additional_claims_go_into_the_assertion() {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new();
    endpoint.accept_jwt_bearer(
        check()
            .with_subject(Some("user@example.com"))
            .with_scope(""),
    );
    let mut extra = serde_json::Map::new();
    extra.insert("target".to_owned(), json!("x"));
    let creds = builder(&endpoint, &clock)
        .with_subject("user@example.com")
        .with_additional_claims(extra)
        .build()
        .unwrap();
    fetch(&creds).unwrap();
    let (_, claims) = verify(
        endpoint
            .last_request()
            .unwrap()
            .form_value("assertion")
            .unwrap(),
    );
    assert_eq!(claims["sub"], "user@example.com");
    assert_eq!(claims["target"], "x");
    assert_eq!(claims["scope"], "");

    // An additional `sub` wins over the subject, as the reference's setdefault.
    let mut sub = serde_json::Map::new();
    sub.insert("sub".to_owned(), json!("other@example.com"));
    let creds = creds.with_additional_claims(sub).unwrap();
    let err = fetch(&creds).unwrap_err();
    assert_eq!(err.oauth_error(), Some("invalid_grant"));
    assert!(err.to_string().contains("sub"), "{err}");
}

#[test]
fn a_wrong_key_is_refused_with_invalid_grant_naming_the_signature() {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new();
    let other = credkit_testing::TestKey::generate().unwrap();
    endpoint.accept_jwt_bearer(credkit_testing::JwtBearerCheck::new(&other, EMAIL));
    let creds = builder(&endpoint, &clock).build().unwrap();
    let err = fetch(&creds).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenEndpoint);
    assert_eq!(err.oauth_error(), Some("invalid_grant"));
    assert!(!err.is_transient());
    // The kid differs first.
    assert!(err.to_string().contains("kid"), "{err}");
}

#[test]
fn endpoint_errors_are_classified_and_scrubbed() {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(Reply::oauth_error(503, "temporarily_unavailable", None));
    let creds = builder(&endpoint, &clock).build().unwrap();
    let err = fetch(&creds).unwrap_err();
    assert!(err.is_transient());
    assert_eq!(err.http_status(), Some(503));

    // An endpoint that echoes the assertion: the error never shows it.
    let endpoint = FakeTokenEndpoint::new();
    let creds = builder(&endpoint, &clock).build().unwrap();
    endpoint.push_reply(Reply::html(400, "<html>nope</html>"));
    let err = fetch(&creds).unwrap_err();
    assert!(!err.is_transient());
    let assertion = endpoint
        .last_request()
        .unwrap()
        .form_value("assertion")
        .unwrap()
        .to_owned();
    let echo = FakeTokenEndpoint::new();
    echo.push_reply(Reply::oauth_error(
        400,
        "invalid_grant",
        Some(&format!("bad {assertion}")),
    ));
    // The same assertion is signed again only at the same second; pin the clock.
    let creds = builder(&echo, &clock).build().unwrap();
    let err = fetch(&creds).unwrap_err();
    assert_eq!(
        echo.last_request().unwrap().form_value("assertion"),
        Some(assertion.as_str())
    );
    assert_eq!(err.to_string(), "invalid_grant: bad [REDACTED]");
    assert!(!format!("{err:?}").contains(&assertion));
}

#[test]
fn missing_transport_and_bad_uri_fail_before_any_request() {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new();
    let creds = credkit_service_account::ServiceAccountCredentials::builder(support::key(
        "http://127.0.0.1:9/token",
    ))
    .with_clock(clock.clone())
    .build()
    .unwrap();
    let err = fetch(&creds).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains("with_transport"));
    let creds = builder(&endpoint, &clock)
        .with_token_uri("not a uri\n")
        .build()
        .unwrap();
    assert_eq!(fetch(&creds).unwrap_err().kind(), ErrorKind::Configuration);
    assert_eq!(endpoint.request_count(), 0);
}

#[test]
fn an_id_token_grant_returns_the_id_token_expiring_at_its_exp() {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new();
    endpoint.accept_jwt_bearer(check());
    let creds = builder(&endpoint, &clock)
        .with_quota_project("q")
        .build()
        .unwrap();
    let ids = creds
        .id_token_credentials("https://service.example")
        .unwrap();
    let token = fetch(&ids).unwrap();
    assert_eq!(token.quota_project(), Some("q"));
    let start = clock.now().unix_timestamp();
    assert_eq!(token.expiry().unwrap().unix_timestamp(), start + 3600);
    let (_, claims) = verify(
        endpoint
            .last_request()
            .unwrap()
            .form_value("assertion")
            .unwrap(),
    );
    assert_eq!(claims["target_audience"], "https://service.example");
    assert_eq!(claims["aud"], GOOGLE_TOKEN_URI);
    assert!(claims.get("scope").is_none());
    // The ID token is what the endpoint issued for the audience.
    let id: serde_json::Value = {
        let payload = token
            .secret()
            .expose_secret()
            .split('.')
            .nth(1)
            .unwrap()
            .to_owned();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(id["aud"], "https://service.example");
}

#[test]
fn id_tokens_outside_the_default_universe_are_not_supported_yet() {
    let endpoint = FakeTokenEndpoint::new();
    let ids = credkit_service_account::IdTokenCredentials::builder(
        support::key(&endpoint.token_url()),
        "aud",
    )
    .with_universe_domain("example.com")
    .with_transport(endpoint.clone())
    .build()
    .unwrap();
    let err = fetch(&ids).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains("does not support yet"), "{err}");
    assert_eq!(endpoint.request_count(), 0);
}

#[test]
fn a_dropped_grant_leaves_the_source_usable() {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_reply(Reply::token("never").with_delay(Duration::from_secs(3600)));
    endpoint.push_reply(Reply::default_token());
    let creds = builder(&endpoint, &clock).build().unwrap();
    // Polled once: the request is out, the reply waits on the clock, which never moves.
    assert!(creds.fetch_token().now_or_never().is_none());
    assert_eq!(endpoint.request_count(), 1);
    let token = fetch(&creds).unwrap();
    assert_eq!(token.secret().expose_secret(), "fake-access-token-1");
}

#[tokio::test]
async fn a_hung_server_is_the_transports_timeout_and_the_fetch_can_be_abandoned() {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::stall());
    let clock = FakeClock::new();
    let creds = builder(server.endpoint(), &clock)
        .with_token_uri(server.token_url())
        .build()
        .unwrap();
    // In memory a stall is the transport's timeout: transient.
    let err = creds.fetch_token().await.unwrap_err();
    assert!(err.is_transient());
    assert_eq!(err.kind(), ErrorKind::Timeout);
}

#[test]
fn tokens_through_credentials_use_the_sources_clock() {
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new();
    let creds = builder(&endpoint, &clock)
        .with_quota_project("p")
        .build()
        .unwrap();
    let cached = credkit_core::Credentials::builder(creds).build().unwrap();
    let headers = futures::executor::block_on(cached.headers()).unwrap();
    assert_eq!(headers["x-goog-user-project"], "p");
    assert_eq!(endpoint.request_count(), 1);
    let _ = futures::executor::block_on(cached.headers()).unwrap();
    assert_eq!(endpoint.request_count(), 1, "cached");
}
