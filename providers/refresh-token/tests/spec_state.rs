//! The reference's state members (`valid`, `expired`, `token_state`, `apply`,
//! `before_request`), ported onto the caching `Credentials` that `Credentials::builder(creds)` builds.
//!
//! Ported: 10.1 items 2, 6, 23, 24, 25 (the apply half); 10.2 items 1, 7, 8, 16, 17; and the
//! base-class cases of `tests/test_credentials.py` (valid without expiry, the threshold
//! boundaries, one refresh per `before_request`). Item 6 asserts credkit's decision: no
//! `x-goog-api-client` metrics header. The non-blocking refresh-worker cases are covered by
//! core's refresh-ahead tests, which replace the reference's worker thread.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use credkit_core::http::HeaderMap;
use credkit_core::{Clock, Credentials, TokenState};
use credkit_refresh_token::UserCredentials;
use credkit_testing::FakeClock;
use futures::executor::block_on;
use serde_json::json;
use support::Scripted;

fn refreshable(transport: Arc<Scripted>, clock: &FakeClock) -> UserCredentials {
    UserCredentials::builder()
        .with_refresh_token("refresh_token")
        .with_token_uri("https://example.com/oauth2/token")
        .with_client_id("client_id")
        .with_client_secret("client_secret")
        .with_transport(transport)
        .with_clock(clock.clone())
        .build()
        .unwrap()
}

fn cached(creds: UserCredentials) -> Credentials {
    Credentials::builder(creds).build().unwrap()
}

#[test]
fn default_state_is_invalid_but_not_expired() {
    let clock = FakeClock::new();
    let credentials = cached(refreshable(Scripted::new(), &clock));
    assert!(!credentials.valid());
    assert!(!credentials.expired());
    assert_eq!(credentials.token_state(), TokenState::Invalid);
}

#[test]
fn before_request_sets_authorization_and_no_metrics_header() {
    let creds = UserCredentials::builder()
        .with_token("token")
        .build()
        .unwrap();
    let credentials = cached(creds);
    let mut headers = HeaderMap::new();
    block_on(credentials.before_request(&mut headers)).unwrap();
    assert_eq!(headers["authorization"], "Bearer token");
    assert!(headers.get("x-goog-api-client").is_none());
    assert_eq!(headers.len(), 1);
}

#[test]
fn apply_with_and_without_quota_project() {
    let with = UserCredentials::builder()
        .with_token("token")
        .with_quota_project("quota-project-123")
        .build()
        .unwrap();
    let mut headers = HeaderMap::new();
    cached(with.clone()).apply(&mut headers).unwrap();
    assert_eq!(headers["x-goog-user-project"], "quota-project-123");
    assert!(headers["authorization"].to_str().unwrap().contains("token"));

    let mut headers = HeaderMap::new();
    cached(
        UserCredentials::builder()
            .with_token("token")
            .build()
            .unwrap(),
    )
    .apply(&mut headers)
    .unwrap();
    assert!(headers.get("x-goog-user-project").is_none());

    // A copy with another quota project applies its own; the original keeps its.
    let mut copy_headers = HeaderMap::new();
    cached(with.with_quota_project("new-project-456").unwrap())
        .apply(&mut copy_headers)
        .unwrap();
    assert_eq!(copy_headers["x-goog-user-project"], "new-project-456");
    let mut original_headers = HeaderMap::new();
    cached(with).apply(&mut original_headers).unwrap();
    assert_eq!(original_headers["x-goog-user-project"], "quota-project-123");
}

// Issue 12, bug 5: the reference tests the quota project for truthiness, so an empty one sends
// no header (its `test_apply_with_no_quota_project_id`, with the project set to "").
#[test]
fn an_empty_quota_project_sends_no_header() {
    let creds = UserCredentials::builder()
        .with_token("token")
        .with_quota_project("")
        .build()
        .unwrap();
    let mut headers = HeaderMap::new();
    cached(creds).apply(&mut headers).unwrap();
    assert!(headers.get("x-goog-user-project").is_none());
    assert_eq!(headers.len(), 1);
}

#[test]
fn an_invalid_credential_refreshes_once_before_the_request() {
    let clock = FakeClock::new();
    let transport =
        Scripted::new().reply(200, json!({"access_token": "fresh", "expires_in": 3600}));
    let credentials = cached(refreshable(transport.clone(), &clock));
    let mut headers = HeaderMap::new();
    block_on(credentials.before_request(&mut headers)).unwrap();
    assert_eq!(headers["authorization"], "Bearer fresh");
    assert!(credentials.valid());
    // A second request reuses the token: still one refresh.
    block_on(credentials.before_request(&mut headers)).unwrap();
    assert_eq!(transport.count(), 1);
}

#[test]
fn a_token_without_expiry_is_valid_and_never_refreshed() {
    let clock = FakeClock::new();
    let transport = Scripted::new().reply(200, json!({"access_token": "unused"}));
    let seeded = UserCredentials::builder()
        .with_token("token")
        .with_transport(transport.clone())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let credentials = cached(seeded);
    assert!(credentials.valid());
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    clock.advance(Duration::from_secs(365 * 86_400));
    let mut headers = HeaderMap::new();
    block_on(credentials.before_request(&mut headers)).unwrap();
    assert_eq!(headers["authorization"], "Bearer token");
    assert_eq!(transport.count(), 0);
}

#[test]
fn threshold_boundaries_with_a_seeded_expiry() {
    let clock = FakeClock::new();
    let seeded = |secs: i64| {
        cached(
            UserCredentials::builder()
                .with_token("token")
                .with_expiry(clock.now() + time::Duration::seconds(secs))
                .with_clock(clock.clone())
                .build()
                .unwrap(),
        )
    };
    // The reference's live check: +226 s fresh and valid, +224 s stale and expired, -1 s invalid.
    let fresh = seeded(226);
    assert!(fresh.valid() && !fresh.expired());
    assert_eq!(fresh.token_state(), TokenState::Fresh);
    let stale = seeded(224);
    assert!(!stale.valid() && stale.expired());
    assert_eq!(stale.token_state(), TokenState::Stale);
    let gone = seeded(-1);
    assert_eq!(gone.token_state(), TokenState::Invalid);
}

#[test]
fn a_file_without_expiry_is_refreshed_before_use() {
    let transport =
        Scripted::new().reply(200, json!({"access_token": "fresh", "expires_in": 3600}));
    let info =
        json!({"token": "old", "client_id": "c", "client_secret": "s", "refresh_token": "r"});
    let creds = UserCredentials::from_authorized_user_info(&info, None)
        .unwrap()
        .to_builder()
        .with_transport(transport.clone())
        .build()
        .unwrap();
    // Loaded without an expiry, the token counts as already expired (now - 225 s).
    let credentials = cached(creds);
    assert!(credentials.expired());
    let mut headers = HeaderMap::new();
    block_on(credentials.before_request(&mut headers)).unwrap();
    assert_eq!(headers["authorization"], "Bearer fresh");
    assert_eq!(transport.count(), 1);
}
