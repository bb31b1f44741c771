//! ID tokens from a loopback metadata server: the request, the expiry from the JWT's `exp`,
//! errors, and caching through `Credentials`.
// Helpers outside the #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use credkit_core::{Clock, Credentials, ErrorKind, TokenSource};
use credkit_metadata::MetadataIdTokenSource;
use credkit_testing::{FakeClock, FakeMetadataServer};
use secrecy::ExposeSecret;
use support::transport;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn source(fake: &FakeMetadataServer, clock: &FakeClock, audience: &str) -> MetadataIdTokenSource {
    MetadataIdTokenSource::builder(audience)
        .with_env(fake.env())
        .with_transport(transport())
        .with_clock(clock.clone())
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_id_token_for_an_audience_expires_at_its_exp() -> TestResult {
    let clock = FakeClock::new();
    let fake = FakeMetadataServer::builder()
        .with_clock(clock.clone())
        .with_id_token_lifetime(Duration::from_secs(1800))
        .start()
        .await?;
    let source = source(&fake, &clock, "https://service.example/");
    assert_eq!(source.audience(), "https://service.example/");
    let token = source.fetch_token().await?;
    assert_eq!(
        token.expiry(),
        Some(clock.now() + Duration::from_secs(1800))
    );
    let jwt = token.secret().expose_secret();
    assert_eq!(jwt.split('.').count(), 3);
    assert_eq!(token.id_token().unwrap().expose_secret(), jwt);
    let request = &fake.requests()[0];
    assert_eq!(
        request.path(),
        "/computeMetadata/v1/instance/service-accounts/default/identity"
    );
    assert_eq!(
        request.query(),
        Some("audience=https%3A%2F%2Fservice.example%2F&format=full")
    );
    assert_eq!(request.header("metadata-flavor"), Some("Google"));
    assert!(!format!("{token:?}").contains(jwt));
    assert!(!format!("{source:?}").contains(jwt));
    Ok(())
}

#[tokio::test]
async fn licenses_account_and_quota_project() -> TestResult {
    let clock = FakeClock::new();
    let fake = FakeMetadataServer::builder()
        .with_clock(clock.clone())
        .start()
        .await?;
    let source = MetadataIdTokenSource::builder("aud")
        .with_env(fake.env())
        .with_transport(transport())
        .with_clock(clock)
        .with_licenses(true)
        .with_service_account(fake.email())
        .with_quota_project("billing")
        .build()?;
    assert_eq!(source.service_account(), fake.email());
    let token = source.fetch_token().await?;
    assert_eq!(token.quota_project(), Some("billing"));
    let request = &fake.requests()[0];
    assert!(
        request
            .path()
            .ends_with(&format!("{}/identity", fake.email()))
    );
    assert_eq!(
        request.query(),
        Some("audience=aud&format=full&licenses=TRUE")
    );
    Ok(())
}

#[tokio::test]
async fn ids_tokens_are_cached_until_their_exp() -> TestResult {
    let clock = FakeClock::new();
    let fake = FakeMetadataServer::builder()
        .with_clock(clock.clone())
        .start()
        .await?;
    let credentials = Credentials::new(source(&fake, &clock, "aud"));
    let first = credentials.access_token().await?;
    let again = credentials.access_token().await?;
    assert_eq!(
        first.secret().expose_secret(),
        again.secret().expose_secret()
    );
    assert_eq!(fake.request_count(), 1);
    clock.advance(Duration::from_secs(3600));
    credentials.access_token().await?;
    assert_eq!(fake.request_count(), 2);
    Ok(())
}

#[tokio::test]
async fn errors_and_a_reply_that_is_not_a_jwt() -> TestResult {
    let clock = FakeClock::new();
    let fake = FakeMetadataServer::start().await?;
    let source = source(&fake, &clock, "aud");
    fake.fail_next(1, 503);
    let err = source.fetch_token().await.unwrap_err();
    assert!(err.is_transient());
    // An account the instance does not have: permanent.
    let err = MetadataIdTokenSource::builder("aud")
        .with_env(fake.env())
        .with_transport(transport())
        .with_service_account("nobody")
        .build()?
        .fetch_token()
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), Some(404));
    assert!(!err.is_transient());
    assert!(
        MetadataIdTokenSource::builder("")
            .with_transport(transport())
            .build()
            .unwrap_err()
            .is_invalid_value()
    );
    assert_eq!(source.name(), "metadata server ID token");
    assert_eq!(
        source.retry_policy(),
        Some(credkit_metadata::metadata_retry_policy())
    );
    let shown = format!("{source:?}");
    for part in [
        "MetadataIdTokenSource",
        "aud",
        "default",
        "licenses",
        "MetadataServer",
    ] {
        assert!(shown.contains(part), "{shown}");
    }
    assert_eq!(source.clock().unwrap().now(), clock.now());
    assert_eq!(source.server().host(), fake.host());

    // A reply that is not a JWT (from an in-memory endpoint): permanent, and not quoted.
    let endpoint = credkit_testing::FakeTokenEndpoint::new();
    endpoint.push_reply(credkit_testing::Reply::raw(
        200,
        "text/html",
        "not-a-jwt-secret",
    ));
    let err = MetadataIdTokenSource::builder("aud")
        .with_env(|_| None)
        .with_transport(endpoint)
        .build()?
        .fetch_token()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(!err.is_transient());
    assert!(err.to_string().contains("not a JWT"), "{err}");
    assert!(!err.to_string().contains("not-a-jwt-secret"), "{err}");
    Ok(())
}

#[tokio::test]
async fn an_expired_or_malformed_id_token_is_refused() -> TestResult {
    // A fake whose clock is an hour behind hands out a token that expired on arrival.
    let behind = FakeClock::at(FakeClock::new().now() - Duration::from_secs(7200));
    let fake = FakeMetadataServer::builder()
        .with_clock(behind)
        .start()
        .await?;
    let clock = FakeClock::new();
    let token = source(&fake, &clock, "aud").fetch_token().await?;
    assert!(token.expiry().unwrap() < clock.now());
    let err = Credentials::new(source(&fake, &clock, "aud"))
        .access_token()
        .await
        .unwrap_err();
    assert_ne!(err.kind(), ErrorKind::Internal);
    Ok(())
}

#[tokio::test]
async fn a_failed_id_token_refresh_stays_transient_and_a_later_success_is_served() -> TestResult {
    let clock = FakeClock::new().with_auto_advance(true);
    let fake = FakeMetadataServer::builder()
        .with_clock(clock.clone())
        .start()
        .await?;
    let credentials = Credentials::new(source(&fake, &clock, "aud"));
    fake.fail_next(7, 503);
    let err = credentials.access_token().await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(
        fake.request_count(),
        7,
        "the metadata retry policy: 7 attempts"
    );
    clock.advance(Duration::from_secs(60));
    let token = credentials.access_token().await?;
    assert_eq!(token.secret().expose_secret().split('.').count(), 3);
    Ok(())
}
