//! `Credentials`: token state, headers, seeding, invalidation, retries, events, redaction.

// Setup helpers outside `#[test]` functions unwrap too: a broken setup should fail loudly.
#![allow(clippy::unwrap_used)]

mod credentials_support;

use std::sync::Arc;
use std::time::Duration;

use credkit_core::http::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use credkit_core::{
    AccessToken, Clock, Credentials, ErrorKind, RefreshEvent, RetryPolicy, StaticSource, TokenState,
};
use credkit_testing::{FAKE_CLOCK_START, FakeClock, MockTokenSource};
use futures::executor::block_on;

use credentials_support::{Captured, Events, HOUR, TestSource, bearer, permanent, transient};

fn secs(n: i64) -> time::Duration {
    time::Duration::seconds(n)
}

fn seeded(clock: &FakeClock, token: AccessToken) -> (Arc<TestSource>, Credentials) {
    let source = TestSource::new(clock);
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .with_initial_token(token)
        .build()
        .unwrap();
    (source, credentials)
}

#[test]
fn state_members_follow_the_reference_boundaries() {
    let clock = FakeClock::new();
    let expiry = FAKE_CLOCK_START + secs(3600);
    let (source, credentials) = seeded(&clock, AccessToken::new("seed").with_expiry(expiry));
    let at = |offset: i64| clock.set(expiry + secs(offset));

    // 226 s before expiry: fresh and valid.
    at(-226);
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    assert!(credentials.valid());
    assert!(!credentials.expired());
    // 225 s before: stale, no longer valid, "expired" as the reference says.
    at(-225);
    assert_eq!(credentials.token_state(), TokenState::Stale);
    assert!(!credentials.valid());
    assert!(credentials.expired());
    at(-224);
    assert_eq!(credentials.token_state(), TokenState::Stale);
    clock.set(expiry - time::Duration::nanoseconds(1));
    assert_eq!(credentials.token_state(), TokenState::Stale);
    // At expiry: invalid.
    at(0);
    assert_eq!(credentials.token_state(), TokenState::Invalid);
    assert!(!credentials.valid());
    assert!(credentials.expired());
    assert_eq!(credentials.expiry(), Some(expiry));
    // Looking at the state never fetches.
    assert_eq!(source.fetches(), 0);
}

#[test]
fn short_lived_tokens_use_a_quarter_of_their_lifetime() {
    let clock = FakeClock::new();
    let token = AccessToken::new("short").with_lifetime(clock.now(), Duration::from_secs(300));
    let (_, credentials) = seeded(&clock, token);
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    clock.advance(Duration::from_secs(224));
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    clock.advance(Duration::from_secs(1)); // 75 s before expiry
    assert_eq!(credentials.token_state(), TokenState::Stale);
}

#[test]
fn the_threshold_is_configurable() {
    let clock = FakeClock::new();
    let expiry = FAKE_CLOCK_START + secs(3600);
    let credentials = Credentials::builder(TestSource::new(&clock))
        .with_clock(clock.clone())
        .with_refresh_threshold(Duration::from_secs(600))
        .with_initial_token(AccessToken::new("seed").with_expiry(expiry))
        .build()
        .unwrap();
    clock.set(expiry - secs(601));
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    clock.set(expiry - secs(600));
    assert_eq!(credentials.token_state(), TokenState::Stale);
}

#[test]
fn an_empty_cache_is_invalid_and_not_expired() {
    let clock = FakeClock::new();
    let credentials = Credentials::builder(TestSource::new(&clock))
        .with_clock(clock)
        .build()
        .unwrap();
    assert_eq!(credentials.token_state(), TokenState::Invalid);
    assert!(!credentials.valid());
    assert!(!credentials.expired());
    assert_eq!(credentials.expiry(), None);
    assert!(credentials.token().is_none());
}

#[test]
fn a_token_without_expiry_stays_fresh() {
    let clock = FakeClock::new();
    let (_, credentials) = seeded(&clock, AccessToken::new("forever"));
    clock.advance(Duration::from_secs(10 * 365 * 24 * 3600));
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    assert!(!credentials.expired());
}

#[test]
fn a_fresh_seed_is_used_without_a_fetch() {
    let clock = FakeClock::new();
    let mut source = MockTokenSource::new();
    source.expect_fetch_token().times(0);
    let credentials = Credentials::builder(source)
        .with_clock(clock.clone())
        .with_initial_token(AccessToken::new("from-file").with_lifetime(clock.now(), HOUR))
        .build()
        .unwrap();
    let headers = block_on(credentials.headers()).unwrap();
    assert_eq!(bearer(&headers), "from-file");
    let mut map = HeaderMap::new();
    assert_eq!(credentials.apply(&mut map).unwrap(), TokenState::Fresh);
    assert_eq!(bearer(&map), "from-file");
}

#[test]
fn an_expired_seed_is_replaced_on_first_use() {
    let clock = FakeClock::new();
    let expired = AccessToken::new("old").with_expiry(clock.now() - Duration::from_secs(1));
    let (source, credentials) = seeded(&clock, expired);
    assert_eq!(credentials.token_state(), TokenState::Invalid);
    let headers = block_on(credentials.headers()).unwrap();
    assert_eq!(bearer(&headers), "tok-1");
    assert_eq!(source.fetches(), 1);
}

#[test]
fn apply_without_a_usable_token_writes_nothing_and_says_why() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .without_retries()
        .build()
        .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    let err = credentials.apply(&mut headers).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains("no access token is cached yet"));
    assert_eq!(headers.len(), 1);
    assert_eq!(source.fetches(), 0, "apply never fetches in the caller");

    // After a failed refresh, apply reports that failure.
    source.then(Err(permanent()));
    assert!(block_on(credentials.refresh()).is_err());
    let err = credentials.apply(&mut headers).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenEndpoint);

    // Once a token is cached and then expires, apply says so.
    block_on(credentials.refresh()).unwrap();
    assert_eq!(credentials.apply(&mut headers).unwrap(), TokenState::Fresh);
    clock.advance(HOUR);
    headers.remove(AUTHORIZATION);
    let err = credentials.apply(&mut headers).unwrap_err();
    assert!(err.to_string().contains("expired"));
    assert!(headers.get(AUTHORIZATION).is_none());
}

#[test]
fn apply_writes_a_stale_token_and_reports_it() {
    let clock = FakeClock::new();
    let (source, credentials) = seeded(
        &clock,
        AccessToken::new("seed").with_lifetime(clock.now(), HOUR),
    );
    clock.advance(Duration::from_secs(3500));
    let mut headers = HeaderMap::new();
    assert_eq!(credentials.apply(&mut headers).unwrap(), TokenState::Stale);
    assert_eq!(bearer(&headers), "seed");
    assert_eq!(
        source.fetches(),
        0,
        "without a spawner apply cannot refresh"
    );
}

#[test]
fn headers_carry_the_quota_project_and_are_sensitive() {
    let clock = FakeClock::new();
    let credentials = Credentials::builder(TestSource::new(&clock))
        .with_clock(clock)
        .with_quota_project("billing-project")
        .build()
        .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer stale"));
    headers.insert("x-goog-user-project", HeaderValue::from_static("other"));
    block_on(credentials.before_request(&mut headers)).unwrap();
    assert_eq!(headers.len(), 3);
    assert_eq!(headers["authorization"], "Bearer tok-1");
    assert!(headers["authorization"].is_sensitive());
    assert_eq!(headers["x-goog-user-project"], "billing-project");
    assert_eq!(headers[ACCEPT], "application/json");
    assert_eq!(credentials.quota_project(), Some("billing-project"));
    // One value each, replaced rather than appended.
    assert_eq!(headers.get_all(AUTHORIZATION).iter().count(), 1);
    assert_eq!(headers.get_all("x-goog-user-project").iter().count(), 1);

    let fresh_map = block_on(credentials.headers()).unwrap();
    assert_eq!(fresh_map.len(), 2);
    assert!(!format!("{fresh_map:?}").contains("tok-1"));
}

#[test]
fn without_a_quota_project_only_authorization_is_written() {
    let clock = FakeClock::new();
    let credentials = Credentials::builder(TestSource::new(&clock))
        .with_clock(clock)
        .build()
        .unwrap();
    let headers = block_on(credentials.headers()).unwrap();
    assert_eq!(headers.len(), 1);
    assert_eq!(credentials.quota_project(), None);
}

#[test]
fn build_rejects_values_that_cannot_be_headers_without_echoing_them() {
    let clock = FakeClock::new();
    let err = Credentials::builder(TestSource::new(&clock))
        .with_quota_project("proj\r\nx-evil: 1")
        .build()
        .unwrap_err();
    assert!(err.is_invalid_value());
    assert!(!err.to_string().contains("x-evil"));

    let err = Credentials::builder(TestSource::new(&clock))
        .with_initial_token(AccessToken::new("secret-seed\nx-evil: 1"))
        .build()
        .unwrap_err();
    assert!(err.is_invalid_value());
    assert!(!err.to_string().contains("secret-seed"));
}

#[test]
fn a_token_that_cannot_be_a_header_fails_the_refresh() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    source.then(Ok(AccessToken::new("secret-bad\r\nx-evil: 1")));
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock)
        .build()
        .unwrap();
    let err = block_on(credentials.headers()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(!err.to_string().contains("secret-bad"));
    // Nothing was cached; the next call fetches again.
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "tok-2");
}

#[test]
fn refresh_forces_a_new_token() {
    let clock = FakeClock::new();
    let (source, credentials) = seeded(
        &clock,
        AccessToken::new("seed").with_lifetime(clock.now(), HOUR),
    );
    let token = block_on(credentials.refresh()).unwrap();
    assert_eq!(source.fetches(), 1);
    assert!(Arc::ptr_eq(&token, &credentials.token().unwrap()));
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "tok-1");
}

#[test]
fn a_failed_forced_refresh_keeps_the_cached_token() {
    let clock = FakeClock::new();
    let (source, credentials) = seeded(
        &clock,
        AccessToken::new("seed").with_lifetime(clock.now(), HOUR),
    );
    source.then(Err(permanent()));
    assert!(block_on(credentials.refresh()).is_err());
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "seed");
}

#[test]
fn invalidate_if_drops_only_the_rejected_token() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock)
        .build()
        .unwrap();
    let rejected_headers = block_on(credentials.headers()).unwrap();
    let rejected_token = credentials.token().unwrap();
    assert_eq!(bearer(&rejected_headers), "tok-1");

    // Many requests rejected with one token: one invalidation, one refresh.
    assert!(credentials.invalidate_if(&rejected_headers));
    for _ in 0..10 {
        assert!(!credentials.invalidate_if(&rejected_headers));
        assert!(!credentials.invalidate_if(&rejected_token));
    }
    assert_eq!(credentials.token_state(), TokenState::Invalid);
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "tok-2");
    assert_eq!(source.fetches(), 2);
}

#[test]
fn invalidate_if_with_an_outdated_token_is_a_no_op() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock)
        .build()
        .unwrap();
    let old_headers = block_on(credentials.headers()).unwrap();
    let old_token = credentials.token().unwrap();
    let old_value = old_headers[AUTHORIZATION].clone();
    block_on(credentials.refresh()).unwrap(); // tok-2 replaces tok-1

    assert!(!credentials.invalidate_if(&old_headers));
    assert!(!credentials.invalidate_if(&old_token));
    assert!(!credentials.invalidate_if(&*old_token));
    assert!(!credentials.invalidate_if(&old_value));
    assert!(!credentials.invalidate_if(&HeaderMap::new()));
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "tok-2");
    assert_eq!(source.fetches(), 2);
}

#[test]
fn invalidate_if_recognises_copies_by_value() {
    let clock = FakeClock::new();
    let (_, credentials) = seeded(&clock, AccessToken::new("seed"));
    // A header rebuilt by another layer: a different buffer with the same bytes.
    assert!(!credentials.invalidate_if(&HeaderValue::from_static("Bearer seeds")));
    assert!(!credentials.invalidate_if(&AccessToken::new("seeD")));
    assert!(credentials.invalidate_if(&HeaderValue::from_static("Bearer seed")));
    assert!(credentials.token().is_none());
}

#[test]
fn retries_transient_failures_through_the_clock() {
    let clock = FakeClock::new().with_auto_advance(true);
    let source = TestSource::new(&clock);
    source.then(Err(transient())).then(Err(transient()));
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .with_retry_policy(RetryPolicy::default().with_jitter(0.0))
        .build()
        .unwrap();
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "tok-3");
    assert_eq!(source.fetches(), 3);
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(1), Duration::from_secs(2)]
    );
}

#[test]
fn permanent_failures_and_disabled_retries_fail_at_once() {
    let clock = FakeClock::new().with_auto_advance(true);
    let source = TestSource::new(&clock);
    source.then(Err(permanent()));
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .build()
        .unwrap();
    assert!(block_on(credentials.headers()).is_err());
    assert_eq!(source.fetches(), 1);

    let source = TestSource::new(&clock);
    source.then(Err(transient()));
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .without_retries()
        .build()
        .unwrap();
    assert!(block_on(credentials.headers()).unwrap_err().is_transient());
    assert_eq!(source.fetches(), 1);
    assert!(clock.sleeps().is_empty());
}

#[test]
fn the_observer_hears_refreshes_failures_and_state_changes() {
    let clock = FakeClock::new();
    let events = Events::default();
    let source = TestSource::new(&clock);
    source.then(Err(permanent()));
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .without_retries()
        .on_refresh(events.observer())
        .build()
        .unwrap();

    assert!(block_on(credentials.headers()).is_err());
    let seen = events.take();
    assert!(matches!(
        &seen[..],
        [RefreshEvent::Failed { error, keeps_token: false, .. }] if error.kind() == ErrorKind::TokenEndpoint
    ));

    block_on(credentials.headers()).unwrap();
    let seen = events.take();
    let expiry = clock.now() + HOUR;
    assert!(matches!(
        &seen[..],
        [
            RefreshEvent::Refreshed { expiry: Some(e), from_storage: false, rotated_refresh_token: false, .. },
            RefreshEvent::StateChanged { from: TokenState::Invalid, to: TokenState::Fresh, .. },
        ] if *e == expiry
    ));

    clock.advance(Duration::from_secs(3590));
    assert_eq!(credentials.token_state(), TokenState::Stale);
    clock.advance(Duration::from_secs(10));
    assert_eq!(credentials.token_state(), TokenState::Invalid);
    let seen = events.take();
    assert!(matches!(
        &seen[..],
        [
            RefreshEvent::StateChanged {
                from: TokenState::Fresh,
                to: TokenState::Stale,
                ..
            },
            RefreshEvent::StateChanged {
                from: TokenState::Stale,
                to: TokenState::Invalid,
                ..
            },
        ]
    ));
    for event in seen {
        assert!(!format!("{event:?}").contains("tok-"));
    }
}

#[test]
fn no_secret_in_debug_or_logs() {
    let clock = FakeClock::new();
    let captured = Captured::default();
    let source = TestSource::new(&clock);
    source.then(Err(permanent()));
    let builder = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .with_quota_project("qp")
        .without_retries()
        .with_initial_token(AccessToken::new("seed-secret").with_lifetime(clock.now(), HOUR));
    assert!(!format!("{builder:?}").contains("seed-secret"));
    let credentials = builder.build().unwrap();

    // Global, not scoped: tracing caches per call site whether anyone listens, and other tests
    // running on other threads without a subscriber would otherwise switch these events off.
    // Only this test sets it; the others' events only add more text to check for secrets.
    tracing::subscriber::set_global_default(captured.clone()).unwrap();
    assert!(block_on(credentials.refresh()).is_err());
    block_on(credentials.refresh()).unwrap();
    assert!(credentials.invalidate_if(&credentials.token().unwrap()));
    block_on(credentials.headers()).unwrap();
    let logs = captured.text();
    assert!(logs.contains("refreshing the access token"), "{logs}");
    assert!(logs.contains("access token refreshed"), "{logs}");
    assert!(
        logs.contains("refreshing the access token failed"),
        "{logs}"
    );
    for secret in ["seed-secret", "tok-"] {
        assert!(!logs.contains(secret), "{logs}");
    }

    let debug = format!("{credentials:?}");
    assert!(debug.contains("test source"), "{debug}");
    assert!(!debug.contains("tok-"), "{debug}");
    assert!(!format!("{:?}", credentials.token().unwrap()).contains("tok-"));
}

#[test]
fn clones_share_one_cache() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock)
        .build()
        .unwrap();
    let other = credentials.clone();
    block_on(credentials.headers()).unwrap();
    assert_eq!(bearer(&block_on(other.headers()).unwrap()), "tok-1");
    assert_eq!(source.fetches(), 1);
}

#[test]
fn futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let clock = FakeClock::new();
    let credentials = Credentials::builder(TestSource::new(&clock))
        .with_clock(clock)
        .build()
        .unwrap();
    let mut headers = HeaderMap::new();
    assert_send(&credentials.headers());
    assert_send(&credentials.before_request(&mut headers));
    assert_send(&credentials.refresh());
    assert_send(&credentials.access_token());
}

#[test]
fn an_empty_quota_project_sends_no_header() {
    let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
        .with_quota_project("")
        .build()
        .unwrap();
    let headers = block_on(credentials.headers()).unwrap();
    assert_eq!(headers.len(), 1);
    assert!(headers.get("x-goog-user-project").is_none());
    assert_eq!(credentials.quota_project(), None);
}
