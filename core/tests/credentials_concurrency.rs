//! `Credentials` under concurrency: single flight, refresh ahead, failures, dropped callers.
//! Deterministic: time is a `FakeClock`, sources wait on it, and no test sleeps.

// Setup helpers outside `#[test]` functions unwrap too: a broken setup should fail loudly.
#![allow(clippy::unwrap_used)]

mod credentials_support;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Barrier};
use std::task::Context;
use std::time::Duration;

use credkit_core::http::HeaderMap;
use credkit_core::{AccessToken, Clock, Credentials, ErrorKind, RefreshEvent, TokenState};
use credkit_testing::{FakeClock, MockSpawner};
use futures::FutureExt;
use futures::executor::block_on;
use futures::future::join_all;
use futures::task::noop_waker_ref;

use credentials_support::{Events, HOUR, QueueSpawner, TestSource, bearer, permanent};

const FETCH_TIME: Duration = Duration::from_millis(1);

/// Polls `future` once; true if it is still pending.
fn pending<F: Future + Unpin>(future: &mut F) -> bool {
    future
        .poll_unpin(&mut Context::from_waker(noop_waker_ref()))
        .is_pending()
}

fn boxed<'a, T>(
    future: impl Future<Output = T> + Send + 'a,
) -> Pin<Box<dyn Future<Output = T> + Send + 'a>> {
    Box::pin(future)
}

/// A source that takes `FETCH_TIME` by the fake clock, behind credentials seeded with `seed`.
fn setup(
    clock: &FakeClock,
    seed: Option<AccessToken>,
    spawner: Option<&QueueSpawner>,
) -> (Arc<TestSource>, Credentials) {
    let source = TestSource::with_delay(clock, FETCH_TIME);
    let mut builder = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .without_retries();
    if let Some(seed) = seed {
        builder = builder.with_initial_token(seed);
    }
    if let Some(spawner) = spawner {
        builder = builder.with_spawner(spawner.spawner());
    }
    (source, builder.build().unwrap())
}

/// A token that turns stale after `HOUR - 225 s`.
fn hour_token(clock: &FakeClock, name: &str) -> AccessToken {
    AccessToken::new(name).with_lifetime(clock.now(), HOUR)
}

fn make_stale(clock: &FakeClock) {
    clock.advance(Duration::from_secs(3400));
}

#[test]
fn ten_thousand_callers_on_an_invalid_token_share_one_fetch() {
    let clock = FakeClock::new();
    let (source, credentials) = setup(&clock, None, None);
    let mut all = join_all((0..10_000).map(|_| boxed(credentials.headers())));
    assert!(pending(&mut all), "every caller waits for the fetch");
    assert_eq!(source.fetches(), 1);
    assert_eq!(clock.pending_sleeps(), 1);
    clock.advance(FETCH_TIME);
    let results = block_on(all);
    assert_eq!(results.len(), 10_000);
    for headers in results {
        assert_eq!(bearer(&headers.unwrap()), "tok-1");
    }
    assert_eq!(source.fetches(), 1);
}

#[test]
fn callers_on_many_threads_share_one_fetch() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 1_250;
    let clock = FakeClock::new();
    let (source, credentials) = setup(&clock, None, None);
    let joined = Barrier::new(THREADS + 1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    let mut all = join_all((0..PER_THREAD).map(|_| boxed(credentials.headers())));
                    assert!(pending(&mut all));
                    joined.wait();
                    block_on(all)
                })
            })
            .collect();
        // Every caller has joined the refresh; only now can it finish.
        joined.wait();
        assert_eq!(source.fetches(), 1);
        clock.advance(FETCH_TIME);
        for worker in workers {
            for headers in worker.join().unwrap() {
                assert_eq!(bearer(&headers.unwrap()), "tok-1");
            }
        }
    });
    assert_eq!(source.fetches(), 1);
}

#[test]
fn when_the_refresh_fails_every_waiter_gets_the_error_and_a_later_call_retries() {
    let clock = FakeClock::new();
    let (source, credentials) = setup(&clock, None, None);
    source.then(Err(permanent()));
    let mut all = join_all((0..100).map(|_| boxed(credentials.headers())));
    assert!(pending(&mut all));
    clock.advance(FETCH_TIME);
    for result in block_on(all) {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::TokenEndpoint);
    }
    assert_eq!(source.fetches(), 1);

    let mut later = boxed(credentials.headers());
    assert!(pending(&mut later));
    clock.advance(FETCH_TIME);
    assert_eq!(bearer(&block_on(later).unwrap()), "tok-2");
}

#[test]
fn stale_with_a_spawner_no_caller_waits() {
    let clock = FakeClock::new();
    let spawner = QueueSpawner::default();
    let (source, credentials) = setup(&clock, Some(hour_token(&clock, "seed")), Some(&spawner));
    make_stale(&clock);
    for _ in 0..1_000 {
        let headers = credentials
            .headers()
            .now_or_never()
            .expect("a stale token is served at once")
            .unwrap();
        assert_eq!(bearer(&headers), "seed");
    }
    let mut map = HeaderMap::new();
    assert_eq!(credentials.apply(&mut map).unwrap(), TokenState::Stale);
    assert_eq!(spawner.len(), 1, "one background refresh for all of them");

    // The runtime runs it; the fetch waits on the clock.
    let runner = std::thread::spawn({
        let spawner = spawner.clone();
        move || spawner.run_all()
    });
    while clock.pending_sleeps() == 0 {
        std::thread::yield_now();
    }
    assert_eq!(source.fetches(), 1);
    // Still served at once while the refresh runs.
    assert_eq!(
        bearer(&credentials.headers().now_or_never().unwrap().unwrap()),
        "seed"
    );
    clock.advance(FETCH_TIME);
    runner.join().unwrap();
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    assert_eq!(
        bearer(&credentials.headers().now_or_never().unwrap().unwrap()),
        "tok-1"
    );
    assert_eq!(source.fetches(), 1);
}

#[test]
fn stale_with_a_mock_spawner_spawns_exactly_once() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    let mut spawner = MockSpawner::new();
    spawner.expect_spawn().times(1).returning(block_on);
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .with_spawner(spawner)
        .with_initial_token(hour_token(&clock, "seed"))
        .build()
        .unwrap();
    make_stale(&clock);
    // The mock runs the refresh inline, so the caller already sees the new token.
    let headers = credentials.headers().now_or_never().unwrap().unwrap();
    assert!(["seed", "tok-1"].contains(&bearer(&headers)));
    assert_eq!(
        bearer(&credentials.headers().now_or_never().unwrap().unwrap()),
        "tok-1"
    );
    assert_eq!(source.fetches(), 1);
}

#[test]
fn stale_without_a_spawner_only_the_driving_caller_waits() {
    let clock = FakeClock::new();
    let (source, credentials) = setup(&clock, Some(hour_token(&clock, "seed")), None);
    make_stale(&clock);
    let mut driver = boxed(credentials.headers());
    assert!(pending(&mut driver), "the first caller drives the refresh");
    assert_eq!(source.fetches(), 1);
    for _ in 0..1_000 {
        let headers = credentials
            .headers()
            .now_or_never()
            .expect("others do not wait");
        assert_eq!(bearer(&headers.unwrap()), "seed");
    }
    assert_eq!(source.fetches(), 1);
    clock.advance(FETCH_TIME);
    assert_eq!(bearer(&block_on(driver).unwrap()), "tok-1");
    assert_eq!(
        bearer(&credentials.headers().now_or_never().unwrap().unwrap()),
        "tok-1"
    );
    assert_eq!(source.fetches(), 1);
}

#[test]
fn a_dropped_driver_of_a_refresh_ahead_is_replaced_by_the_next_caller() {
    let clock = FakeClock::new();
    let (source, credentials) = setup(&clock, Some(hour_token(&clock, "seed")), None);
    make_stale(&clock);
    let mut driver = boxed(credentials.headers());
    assert!(pending(&mut driver));
    drop(driver);
    // The next stale caller takes over the same refresh (no second fetch).
    let mut next = boxed(credentials.headers());
    assert!(pending(&mut next));
    assert_eq!(source.fetches(), 1);
    clock.advance(FETCH_TIME);
    assert_eq!(bearer(&block_on(next).unwrap()), "tok-1");
    assert_eq!(source.fetches(), 1);
}

#[test]
fn a_refresh_ahead_dropped_by_the_spawner_is_spawned_again() {
    let clock = FakeClock::new();
    let spawner = QueueSpawner::default();
    let (source, credentials) = setup(&clock, Some(hour_token(&clock, "seed")), Some(&spawner));
    make_stale(&clock);
    credentials.headers().now_or_never().unwrap().unwrap();
    assert_eq!(spawner.len(), 1);
    spawner.drop_all(); // the runtime shut down before running it
    credentials.headers().now_or_never().unwrap().unwrap();
    assert_eq!(spawner.len(), 1, "the next caller spawns a new driver");
    let runner = std::thread::spawn({
        let spawner = spawner.clone();
        move || spawner.run_all()
    });
    while clock.pending_sleeps() == 0 {
        std::thread::yield_now();
    }
    clock.advance(FETCH_TIME);
    runner.join().unwrap();
    assert_eq!(
        bearer(&credentials.headers().now_or_never().unwrap().unwrap()),
        "tok-1"
    );
    assert_eq!(source.fetches(), 1);
}

#[test]
fn a_dropped_caller_mid_refresh_leaves_the_others_served() {
    let clock = FakeClock::new();
    let (source, credentials) = setup(&clock, None, None);
    let mut first = boxed(credentials.headers());
    let mut second = boxed(credentials.headers());
    assert!(pending(&mut first), "the first caller starts the fetch");
    assert!(pending(&mut second));
    drop(first);
    clock.advance(FETCH_TIME);
    assert_eq!(bearer(&block_on(second).unwrap()), "tok-1");
    assert_eq!(source.fetches(), 1);
}

#[test]
fn a_refresh_whose_only_caller_was_dropped_is_finished_by_the_next() {
    let clock = FakeClock::new();
    let (source, credentials) = setup(&clock, None, None);
    let mut only = boxed(credentials.headers());
    assert!(pending(&mut only));
    drop(only);
    clock.advance(FETCH_TIME); // the fetch's wait is over, but nobody polls it
    let later = credentials
        .headers()
        .now_or_never()
        .expect("resumes the same refresh");
    assert_eq!(bearer(&later.unwrap()), "tok-1");
    assert_eq!(source.fetches(), 1, "resumed, not restarted");
}

#[test]
fn a_failed_refresh_ahead_keeps_the_token_waits_then_errors_after_expiry() {
    let clock = FakeClock::new();
    let events = Events::default();
    let source = TestSource::new(&clock);
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .without_retries()
        .with_min_retry_interval(Duration::from_secs(30))
        .with_initial_token(hour_token(&clock, "seed"))
        .on_refresh(events.observer())
        .build()
        .unwrap();
    for _ in 0..3 {
        source.then(Err(permanent()));
    }
    make_stale(&clock); // 200 s left

    // The driving caller's refresh fails: it still gets the cached token, as do the others.
    for _ in 0..100 {
        let headers = credentials.headers().now_or_never().unwrap();
        assert_eq!(bearer(&headers.unwrap()), "seed");
    }
    assert_eq!(source.fetches(), 1, "no hammering after the failure");
    assert!(events.take().iter().any(|e| matches!(
        e,
        RefreshEvent::Failed {
            keeps_token: true,
            ..
        }
    )));

    // Within the minimum interval nothing new starts; after it, one new attempt.
    clock.advance(Duration::from_secs(29));
    credentials.headers().now_or_never().unwrap().unwrap();
    assert_eq!(source.fetches(), 1);
    clock.advance(Duration::from_secs(1));
    credentials.headers().now_or_never().unwrap().unwrap();
    assert_eq!(source.fetches(), 2);
    assert_eq!(
        bearer(&credentials.headers().now_or_never().unwrap().unwrap()),
        "seed"
    );

    // After expiry the token is unusable: callers get the refresh's error.
    clock.advance(Duration::from_secs(170));
    assert_eq!(credentials.token_state(), TokenState::Invalid);
    let err = credentials.headers().now_or_never().unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenEndpoint);
    assert_eq!(source.fetches(), 3);
    // And once the source recovers, the next call succeeds.
    assert_eq!(
        bearer(&credentials.headers().now_or_never().unwrap().unwrap()),
        "tok-4"
    );
}

#[test]
fn a_failed_background_refresh_ahead_does_not_fail_callers() {
    let clock = FakeClock::new();
    let spawner = QueueSpawner::default();
    let source = TestSource::new(&clock);
    source.then(Err(permanent()));
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .without_retries()
        .with_spawner(spawner.spawner())
        .with_initial_token(hour_token(&clock, "seed"))
        .build()
        .unwrap();
    make_stale(&clock);
    credentials.headers().now_or_never().unwrap().unwrap();
    spawner.run_all();
    assert_eq!(source.fetches(), 1);
    for _ in 0..10 {
        assert_eq!(
            bearer(&credentials.headers().now_or_never().unwrap().unwrap()),
            "seed"
        );
    }
    assert_eq!(spawner.len(), 0, "the retry waits for the minimum interval");
    clock.advance(credkit_core::MIN_RETRY_INTERVAL);
    credentials.headers().now_or_never().unwrap().unwrap();
    assert_eq!(spawner.len(), 1);
    spawner.run_all();
    assert_eq!(
        bearer(&credentials.headers().now_or_never().unwrap().unwrap()),
        "tok-2"
    );
}

#[test]
fn apply_with_a_spawner_refreshes_in_the_background() {
    let clock = FakeClock::new();
    let spawner = QueueSpawner::default();
    let (source, credentials) = setup(&clock, None, Some(&spawner));
    let mut headers = HeaderMap::new();
    assert!(credentials.apply(&mut headers).is_err());
    assert!(credentials.apply(&mut headers).is_err());
    assert_eq!(spawner.len(), 1, "one background refresh, not one per call");
    let runner = std::thread::spawn({
        let spawner = spawner.clone();
        move || spawner.run_all()
    });
    while clock.pending_sleeps() == 0 {
        std::thread::yield_now();
    }
    clock.advance(FETCH_TIME);
    runner.join().unwrap();
    assert_eq!(credentials.apply(&mut headers).unwrap(), TokenState::Fresh);
    assert_eq!(bearer(&headers), "tok-1");
    assert_eq!(source.fetches(), 1);
}

#[test]
fn refresh_joins_the_refresh_in_flight() {
    let clock = FakeClock::new();
    let (source, credentials) = setup(&clock, None, None);
    let mut waiting = boxed(credentials.headers());
    assert!(pending(&mut waiting));
    let mut forced = boxed(credentials.refresh());
    assert!(pending(&mut forced));
    clock.advance(FETCH_TIME);
    let token = block_on(forced).unwrap();
    assert!(Arc::ptr_eq(&token, &credentials.token().unwrap()));
    block_on(waiting).unwrap();
    assert_eq!(source.fetches(), 1);
}

#[test]
fn a_panicking_source_fails_the_refresh_without_wedging_the_cache() {
    #[derive(Debug)]
    struct Panics(std::sync::atomic::AtomicBool);

    #[async_trait::async_trait]
    impl credkit_core::TokenSource for Panics {
        async fn fetch_token(&self) -> credkit_core::Result<AccessToken> {
            assert!(
                self.0.swap(true, std::sync::atomic::Ordering::SeqCst),
                "source bug"
            );
            Ok(AccessToken::new("after-panic"))
        }
    }

    let credentials = Credentials::builder(Panics(false.into()))
        .without_retries()
        .build()
        .unwrap();
    let err = block_on(credentials.headers()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Provider);
    assert_eq!(
        bearer(&block_on(credentials.headers()).unwrap()),
        "after-panic"
    );
}

#[test]
fn dropping_every_handle_mid_refresh_frees_the_cache() {
    let clock = FakeClock::new();
    let (source, credentials) = setup(&clock, None, None);
    let mut pending_call = boxed(credentials.headers());
    assert!(pending(&mut pending_call));
    drop(pending_call);
    drop(credentials);
    // The abandoned refresh held no strong reference to the cache: only ours remain.
    assert_eq!(Arc::strong_count(&source), 1);
}
