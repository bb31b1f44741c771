//! ID tokens through `generateIdToken` against the fake IAM server.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use credkit_core::{Clock, Credentials, ErrorKind, TokenSource};
use credkit_testing::{FakeClock, FakeIamServer};
use secrecy::ExposeSecret;
use serde_json::json;
use support::{SOURCE_TOKEN, TARGET, builder, iam, source};

const AUDIENCE: &str = "https://service-abc.a.run.app";

#[tokio::test]
async fn sends_audience_delegates_and_include_email_and_expires_at_exp() {
    let clock = FakeClock::new();
    let iam = iam(&clock).await;
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let target = builder(source, &iam, &clock)
        .with_delegates(["projects/-/serviceAccounts/d@p"])
        .build()
        .unwrap();
    let ids = target
        .id_token_source_builder(AUDIENCE)
        .with_include_email(true)
        .with_quota_project("qp")
        .build()
        .unwrap();
    assert_eq!(ids.audience(), AUDIENCE);
    assert!(ids.include_email());
    assert_eq!(ids.target_principal(), TARGET);
    assert_eq!(ids.quota_project(), Some("qp"));
    assert!(ids.clock().is_some());
    let token = ids.fetch_token().await.unwrap();
    let jwt = token.secret().expose_secret().to_owned();
    assert_eq!(token.id_token().unwrap().expose_secret(), jwt);
    assert_eq!(
        token.expiry().unwrap().unix_timestamp(),
        clock.now().unix_timestamp() + 3600
    );
    let request = &iam.requests()[0];
    assert_eq!(request.rpc(), Some("generateIdToken"));
    assert_eq!(request.principal(), Some(TARGET));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {SOURCE_TOKEN}").as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.json().unwrap(),
        json!({
            "audience": AUDIENCE,
            "delegates": ["projects/-/serviceAccounts/d@p"],
            "includeEmail": true,
        })
    );
}

#[tokio::test]
async fn cached_by_credentials_with_the_minter_of_the_caller() {
    let clock = FakeClock::new();
    let iam = FakeIamServer::builder()
        .with_clock(clock.clone())
        .with_id_token_minter(|claims| {
            credkit_testing::FakeMetadataServer::fake_id_token(&json!({
                "aud": claims["aud"], "exp": claims["exp"], "minted": "by the caller",
            }))
        })
        .start()
        .await
        .unwrap();
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let target = builder(source, &iam, &clock).build().unwrap();
    let source = target.id_token_source(AUDIENCE).unwrap();
    assert!(!source.include_email());
    let ids = Credentials::new(source);
    let first = ids.access_token().await.unwrap();
    let second = ids.access_token().await.unwrap();
    assert_eq!(
        first.secret().expose_secret(),
        second.secret().expose_secret()
    );
    assert_eq!(iam.request_count(), 1);
    assert_eq!(
        iam.requests()[0].json().unwrap()["includeEmail"],
        json!(false)
    );
    assert_eq!(iam.requests()[0].json().unwrap()["delegates"], json!(null));
    // Near its exp the token is refreshed.
    clock.advance(Duration::from_secs(3600));
    ids.access_token().await.unwrap();
    assert_eq!(iam.request_count(), 2);
}

#[tokio::test]
async fn errors_start_with_the_reference_words() {
    let clock = FakeClock::new();
    let iam = iam(&clock).await;
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let target = builder(source, &iam, &clock).build().unwrap();
    let ids = target.id_token_source(AUDIENCE).unwrap();
    iam.fail_next(1, 403);
    let err = ids.fetch_token().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Error getting ID token: PERMISSION_DENIED: fake IAM failure"
    );
    assert_eq!(err.http_status(), Some(403));
    iam.push_reply(200, "application/json", r#"{"notoken":1}"#);
    let err = ids.fetch_token().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Error getting ID token: No ID token in response."
    );
    iam.push_reply(200, "application/json", r#"{"token":"not-a-jwt"}"#);
    let err = ids.fetch_token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(!err.to_string().contains("not-a-jwt"));
    assert!(target.id_token_source("").unwrap_err().is_missing_field());
}

#[tokio::test]
async fn debug_never_shows_the_token() {
    let clock = FakeClock::new();
    let iam = iam(&clock).await;
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let target = builder(source, &iam, &clock).build().unwrap();
    let builder = target.id_token_source_builder(AUDIENCE);
    assert!(format!("{builder:?}").contains(AUDIENCE));
    let ids = builder.build().unwrap();
    let token = ids.fetch_token().await.unwrap();
    let shown = format!("{ids:?} {token:?}");
    assert!(!shown.contains(token.secret().expose_secret()));
    assert!(!shown.contains(SOURCE_TOKEN));
    assert!(shown.contains(TARGET));
    assert_eq!(ids.name(), "impersonated service account ID token");
}
