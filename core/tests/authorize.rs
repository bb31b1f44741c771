//! The authorizer on the states of a token: a stale one is written at once with its refresh
//! ahead handed over (or started on the spawner), an invalid one waits for the one refresh, and
//! `RefreshAhead::beside` never drops a refresh with its grant out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod credentials_support;

use std::sync::Arc;
use std::time::Duration;

use credkit_core::authorize::{Authorization, Authorizer};
use credkit_core::http::HeaderMap;
use credkit_core::{AccessToken, Clock, Credentials, RefreshAhead, TokenState};
use credkit_testing::FakeClock;
use futures::executor::block_on;

use credentials_support::{QueueSpawner, TestSource, bearer};

const DELAY: Duration = Duration::from_secs(1);

/// Credentials over `source` holding `seed`, stale: 100 s before its expiry.
fn stale(
    clock: &FakeClock,
    source: &Arc<TestSource>,
    spawner: Option<&QueueSpawner>,
) -> Credentials {
    let seed = AccessToken::new("seed").with_expiry(clock.now() + Duration::from_secs(100));
    let mut builder = Credentials::builder(Arc::clone(source))
        .with_clock(clock.clone())
        .with_initial_token(seed);
    if let Some(spawner) = spawner {
        builder = builder.with_spawner(spawner.spawner());
    }
    let credentials = builder.build().unwrap();
    assert_eq!(credentials.token_state(), TokenState::Stale);
    credentials
}

fn authorize(authorizer: &Authorizer, headers: &mut HeaderMap) -> Authorization {
    authorizer.authorize_headers(Some("https"), Some("api.example"), headers)
}

#[test]
fn a_stale_token_is_written_at_once_with_its_refresh_ahead_handed_over() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    let authorizer = Authorizer::new(stale(&clock, &source, None));
    let mut headers = HeaderMap::new();
    let Authorization::Ready(ready) = authorize(&authorizer, &mut headers) else {
        panic!("a stale token is usable");
    };
    assert_eq!(bearer(&headers), "seed");
    let ahead = ready
        .ahead
        .expect("no spawner: the caller drives the refresh ahead");
    // Another request meanwhile is written with the same token and drives nothing.
    let mut other = HeaderMap::new();
    let Authorization::Ready(second) = authorize(&authorizer, &mut other) else {
        panic!("still usable");
    };
    assert!(second.ahead.is_none());
    assert_eq!(second.sent, ready.sent);
    block_on(RefreshAhead::beside(Some(ahead), async {}));
    assert_eq!(source.fetches(), 1);
    let credentials = authorizer.credentials();
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "tok-1");
}

#[test]
fn with_a_spawner_the_refresh_ahead_runs_there() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    let spawner = QueueSpawner::default();
    let authorizer = Authorizer::new(stale(&clock, &source, Some(&spawner)));
    let Authorization::Ready(ready) = authorize(&authorizer, &mut HeaderMap::new()) else {
        panic!("a stale token is usable");
    };
    assert!(ready.ahead.is_none());
    assert_eq!(spawner.len(), 1);
    spawner.run_all();
    assert_eq!(source.fetches(), 1);
    assert_eq!(authorizer.credentials().token_state(), TokenState::Fresh);
}

#[test]
fn an_expired_token_is_never_written_the_request_waits_for_a_new_one() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    let authorizer = Authorizer::new(stale(&clock, &source, None));
    // Past the seed's expiry: cached, but not usable.
    clock.advance(Duration::from_secs(100));
    assert_eq!(authorizer.credentials().token_state(), TokenState::Invalid);
    let mut headers = HeaderMap::new();
    let Authorization::Wait(wait) = authorize(&authorizer, &mut headers) else {
        panic!("an expired token is not usable: the request waits");
    };
    assert!(headers.is_empty(), "nothing written: {headers:?}");
    let _ = block_on(wait).unwrap().write(&mut headers);
    assert_eq!(bearer(&headers), "tok-1");
    assert_eq!(source.fetches(), 1);
}

#[test]
fn an_invalid_token_makes_every_request_wait_for_one_refresh() {
    let clock = FakeClock::new();
    let source = TestSource::with_delay(&clock, DELAY);
    let authorizer = Authorizer::new(
        Credentials::builder(Arc::clone(&source))
            .with_clock(clock.clone())
            .build()
            .unwrap(),
    );
    let waits: Vec<_> = (0..20)
        .map(|_| match authorize(&authorizer, &mut HeaderMap::new()) {
            Authorization::Wait(wait) => wait,
            other => panic!("nothing cached, yet {other:?}"),
        })
        .collect();
    let tokens = block_on(async {
        let mut all = std::pin::pin!(futures::future::join_all(waits));
        // Every wait joins the flight; then the source's delay ends.
        assert!(futures::poll!(&mut all).is_pending());
        clock.advance(DELAY);
        all.await
    });
    for token in tokens {
        let mut headers = HeaderMap::new();
        let _ = token.unwrap().write(&mut headers);
        assert_eq!(bearer(&headers), "tok-1");
    }
    assert_eq!(source.fetches(), 1);
}

#[test]
fn beside_finishes_a_refresh_whose_grant_is_out_before_returning() {
    let clock = FakeClock::new();
    // The grant takes DELAY on the clock: it is out when the request answers.
    let source = TestSource::with_delay(&clock, DELAY);
    let credentials = stale(&clock, &source, None);
    let authorizer = Authorizer::new(credentials.clone());
    let Authorization::Ready(ready) = authorize(&authorizer, &mut HeaderMap::new()) else {
        panic!("a stale token is usable");
    };
    let status = block_on(RefreshAhead::beside(ready.ahead, async {
        // The request answers while the grant is out; the answer comes later.
        clock.advance(DELAY);
        200
    }));
    assert_eq!(status, 200);
    // Not dropped half done: the new token is cached by the time the request returns.
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    assert_eq!(source.fetches(), 1);
}
