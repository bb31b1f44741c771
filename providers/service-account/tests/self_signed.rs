//! Self-signed JWTs: made exactly where the reference makes them, with its claims, no request,
//! expiring at the JWT's `exp`.
#![allow(clippy::unwrap_used)]

mod support;

use credkit_core::{Clock, ErrorKind, TokenSource};
use credkit_service_account::ServiceAccountCredentials;
use credkit_testing::{FakeClock, FakeTokenEndpoint};
use secrecy::ExposeSecret;
use support::{CLOUD_PLATFORM, EMAIL, builder, verify};

fn fetch(source: &impl TokenSource) -> credkit_core::Result<credkit_core::AccessToken> {
    futures::executor::block_on(source.fetch_token())
}

/// Fetches, checks that nothing was sent, and returns the JWT's claims.
fn self_signed(
    creds: &ServiceAccountCredentials,
    endpoint: &FakeTokenEndpoint,
    clock: &FakeClock,
) -> serde_json::Map<String, serde_json::Value> {
    assert!(creds.uses_self_signed_jwt());
    let token = fetch(creds).unwrap();
    assert_eq!(endpoint.request_count(), 0);
    let (header, claims) = verify(token.secret().expose_secret());
    assert_eq!(header.kid.as_deref(), Some(support::test_key().key_id()));
    let iat = clock.now().unix_timestamp();
    assert_eq!(claims["iat"], iat);
    assert_eq!(claims["exp"], iat + 3600);
    assert_eq!(token.expiry().unwrap().unix_timestamp(), iat + 3600);
    assert_eq!(token.issued_at(), Some(clock.now()));
    assert_eq!(claims["iss"], EMAIL);
    assert_eq!(claims["sub"], EMAIL);
    claims
}

#[test]
fn a_default_host_without_scopes_gives_an_audience_jwt() {
    let (clock, endpoint) = (FakeClock::new(), FakeTokenEndpoint::new());
    let creds = builder(&endpoint, &clock)
        .with_default_host("pubsub.googleapis.com")
        .with_quota_project("q")
        .build()
        .unwrap();
    let claims = self_signed(&creds, &endpoint, &clock);
    assert_eq!(claims["aud"], "https://pubsub.googleapis.com/");
    assert!(claims.get("scope").is_none());
    assert_eq!(claims.len(), 5);
    assert_eq!(fetch(&creds).unwrap().quota_project(), Some("q"));
}

#[test]
fn scopes_without_jwt_access_use_the_grant_even_with_a_default_host() {
    let (clock, endpoint) = (FakeClock::new(), FakeTokenEndpoint::new());
    let creds = builder(&endpoint, &clock)
        .with_default_host("pubsub.googleapis.com")
        .with_scopes([CLOUD_PLATFORM])
        .build()
        .unwrap();
    assert!(!creds.uses_self_signed_jwt());
    fetch(&creds).unwrap();
    assert_eq!(endpoint.request_count(), 1);
}

#[test]
fn always_use_jwt_access_prefers_scopes_then_audience_then_default_scopes() {
    let (clock, endpoint) = (FakeClock::new(), FakeTokenEndpoint::new());
    let base = builder(&endpoint, &clock)
        .with_always_use_jwt_access(true)
        .with_default_host("storage.googleapis.com");
    let creds = base
        .with_scopes([CLOUD_PLATFORM, "email"])
        .with_default_scopes(["d"])
        .build()
        .unwrap();
    let claims = self_signed(&creds, &endpoint, &clock);
    assert_eq!(claims["scope"], format!("{CLOUD_PLATFORM} email"));
    assert!(claims.get("aud").is_none());

    let creds = creds
        .with_scopes(Vec::<String>::new(), Some(vec!["d".to_owned()]))
        .unwrap();
    let claims = self_signed(&creds, &endpoint, &clock);
    assert_eq!(claims["aud"], "https://storage.googleapis.com/");
    assert!(claims.get("scope").is_none());

    let creds = creds.to_builder().with_default_host("").build().unwrap();
    let claims = self_signed(&creds, &endpoint, &clock);
    assert_eq!(claims["scope"], "d");

    // Nothing to make a JWT for: the grant, as in the reference.
    let creds = creds.with_scopes(Vec::<String>::new(), None).unwrap();
    assert!(!creds.uses_self_signed_jwt());
}

#[test]
fn a_subject_always_uses_the_grant() {
    let (clock, endpoint) = (FakeClock::new(), FakeTokenEndpoint::new());
    let creds = builder(&endpoint, &clock)
        .with_always_use_jwt_access(true)
        .with_scopes([CLOUD_PLATFORM])
        .with_subject("u@example.com")
        .build()
        .unwrap();
    assert!(!creds.uses_self_signed_jwt());
    fetch(&creds).unwrap();
    assert_eq!(endpoint.request_count(), 1);
}

#[test]
fn outside_the_default_universe_jwts_are_always_self_signed_and_delegation_refused() {
    let (clock, endpoint) = (FakeClock::new(), FakeTokenEndpoint::new());
    let creds = builder(&endpoint, &clock)
        .with_universe_domain("example-universe.test")
        .with_scopes([CLOUD_PLATFORM])
        .build()
        .unwrap();
    assert!(creds.always_use_jwt_access());
    assert_eq!(creds.universe_domain(), "example-universe.test");
    let claims = self_signed(&creds, &endpoint, &clock);
    assert_eq!(claims["scope"], CLOUD_PLATFORM);

    let delegated = creds.with_subject("u@example.com").unwrap();
    let err = fetch(&delegated).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(
        err.to_string(),
        "domain wide delegation is not supported for non-default universe domain"
    );
    assert!(!err.is_transient());
    assert_eq!(endpoint.request_count(), 0);

    let err = creds.with_always_use_jwt_access(false).unwrap_err();
    assert!(err.is_invalid_value());
    // Back to the default universe: the setting may be turned off again.
    let home = creds.with_universe_domain("").unwrap();
    assert_eq!(home.universe_domain(), "googleapis.com");
    assert!(
        !home
            .with_always_use_jwt_access(false)
            .unwrap()
            .always_use_jwt_access()
    );
}
