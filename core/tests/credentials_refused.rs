//! A token the API refuses right after the refresh that replaced a rejected one is kept for
//! the minimum retry interval: a persistent 401 costs at most one refresh per interval.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod credentials_support;

use std::sync::Arc;
use std::time::Duration;

use credkit_core::{AccessToken, Clock, Credentials, RefreshEvent, TokenState};
use credkit_testing::{FakeClock, capture_logs};
use futures::executor::block_on;

use credentials_support::{Events, HOUR, TestSource, bearer};

const INTERVAL: Duration = Duration::from_secs(30);

fn credentials(clock: &FakeClock, events: &Events) -> (Arc<TestSource>, Credentials) {
    let source = TestSource::new(clock);
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .with_min_retry_interval(INTERVAL)
        .on_refresh(events.observer())
        .build()
        .unwrap();
    (source, credentials)
}

fn refusals(events: &Events) -> Vec<time::OffsetDateTime> {
    events
        .take()
        .into_iter()
        .filter_map(|event| match event {
            RefreshEvent::FreshTokenRejected { kept_until, .. } => Some(kept_until),
            _ => None,
        })
        .collect()
}

#[test]
fn a_replacement_refused_within_the_interval_is_kept_and_reported_once() {
    let clock = FakeClock::new();
    let events = Events::default();
    let (source, credentials) = credentials(&clock, &events);
    let first = block_on(credentials.headers()).unwrap();
    assert!(credentials.invalidate_if(&first)); // tok-1: believed
    let second = block_on(credentials.headers()).unwrap();
    assert_eq!(bearer(&second), "tok-2");
    let refreshed_at = clock.now();
    events.take();

    clock.advance(Duration::from_secs(1));
    let (kept, lines) = capture_logs(|| {
        (0..50)
            .map(|_| credentials.invalidate_if(&second))
            .collect::<Vec<_>>()
    });
    assert!(kept.iter().all(|dropped| !dropped));
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "tok-2");
    assert_eq!(refusals(&events), [refreshed_at + INTERVAL]);
    let warnings: Vec<_> = lines
        .iter()
        .filter(|line| line.level == tracing::Level::WARN)
        .collect();
    assert_eq!(warnings.len(), 1, "{lines:?}");
    assert!(
        warnings[0]
            .text
            .contains("the API rejects fresh tokens: check the audience and scopes"),
        "{}",
        warnings[0]
    );
    assert_eq!(source.fetches(), 2);

    // Past the interval the next rejection is believed: one more refresh, and its token is
    // kept through the next interval in turn.
    clock.advance(INTERVAL);
    assert!(credentials.invalidate_if(&second));
    let third = block_on(credentials.headers()).unwrap();
    assert_eq!(bearer(&third), "tok-3");
    assert!(!credentials.invalidate_if(&third));
    assert_eq!(refusals(&events).len(), 1);
    assert_eq!(source.fetches(), 3);
}

#[test]
fn a_token_that_replaced_no_rejected_one_is_dropped_at_once() {
    // A token loaded on start (from storage, or given) may have been revoked: its first
    // rejection is believed, however new it is to this process.
    let clock = FakeClock::new();
    let events = Events::default();
    let source = TestSource::new(&clock);
    let given = AccessToken::new("given").with_lifetime(clock.now(), HOUR);
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .with_initial_token(given)
        .on_refresh(events.observer())
        .build()
        .unwrap();
    let headers = block_on(credentials.headers()).unwrap();
    assert!(credentials.invalidate_if(&headers));
    // The refresh after the drop fetches the replacement, which is kept when refused at once.
    block_on(credentials.refresh()).unwrap();
    let fetched = block_on(credentials.headers()).unwrap();
    assert!(
        !credentials.invalidate_if(&fetched),
        "tok-1 replaced the rejected token"
    );
    // A refresh because the token expired replaces no rejected token: believed at once.
    clock.advance(HOUR * 2);
    let later = block_on(credentials.headers()).unwrap();
    assert_eq!(bearer(&later), "tok-2");
    assert!(credentials.invalidate_if(&later));
    assert_eq!(refusals(&events).len(), 1);
}
