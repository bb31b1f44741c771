//! `Credentials` over a long life: cancelled callers, hung sources and storage, failing storage,
//! panicking plug-ins, a source that hands out expired tokens. One regression test per defect,
//! through the public API, on a `FakeClock`.

// Setup helpers outside `#[test]` functions unwrap too: a broken setup should fail loudly.
// Test doubles panic on purpose.
#![allow(clippy::unwrap_used, clippy::panic)]

mod credentials_support;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Context;
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::http::HeaderMap;
use credkit_core::{
    AccessToken, Clock, CredentialRecord, Credentials, Error, ErrorKind, FLIGHT_DEADLINE,
    MIN_RETRY_INTERVAL, MemoryStorage, RefreshEvent, Result, Storage, TokenSource, TokenState,
};
use credkit_testing::FakeClock;
use futures::FutureExt;
use futures::executor::block_on;
use futures::task::noop_waker_ref;
use secrecy::{ExposeSecret, SecretString};

use credentials_support::{Events, HOUR, QueueSpawner, TestSource, bearer, permanent};

/// Polls `future` once; true if it is still pending.
fn pending<F: Future + Unpin>(future: &mut F) -> bool {
    future
        .poll_unpin(&mut Context::from_waker(noop_waker_ref()))
        .is_pending()
}

/// A source that counts its lifetime from when the request was sent (as every credkit provider
/// does), then waits `delay` on the clock for the reply; or hangs for ever.
#[derive(Debug)]
struct SlowSource {
    clock: FakeClock,
    delay: Option<Duration>,
    fetches: AtomicUsize,
}

impl SlowSource {
    fn replying_after(clock: &FakeClock, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            clock: clock.clone(),
            delay: Some(delay),
            fetches: AtomicUsize::new(0),
        })
    }

    fn hanging(clock: &FakeClock) -> Arc<Self> {
        Arc::new(Self {
            clock: clock.clone(),
            delay: None,
            fetches: AtomicUsize::new(0),
        })
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenSource for SlowSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        let sent_at = self.clock.now();
        match self.delay {
            Some(delay) => self.clock.sleep(delay).await,
            None => futures::future::pending::<()>().await,
        }
        Ok(AccessToken::new(format!("slow-{n}")).with_lifetime(sent_at, HOUR))
    }
}

fn builder(
    clock: &FakeClock,
    source: impl TokenSource + 'static,
) -> credkit_core::CredentialsBuilder {
    Credentials::builder(source)
        .with_clock(clock.clone())
        .without_retries()
}

// ===== 1. An abandoned refresh is not resumed much later =====

#[test]
fn an_abandoned_refresh_is_not_resumed_hours_later() {
    let clock = FakeClock::new();
    let source = SlowSource::replying_after(&clock, Duration::from_secs(1));
    let credentials = builder(&clock, Arc::clone(&source)).build().unwrap();

    // Every caller gives up while the reply is on its way.
    let mut abandoned = Box::pin(credentials.headers());
    assert!(pending(&mut abandoned));
    drop(abandoned);
    assert_eq!(source.fetches(), 1);

    // Hours later, a new caller: the old flight is past its deadline, so a new request goes out
    // and its token is fresh by the clock now.
    clock.advance(5 * HOUR);
    let mut later = Box::pin(credentials.headers());
    assert!(pending(&mut later), "a new request, waiting for its reply");
    clock.advance(Duration::from_secs(1));
    let headers = block_on(later).unwrap();
    assert_eq!(bearer(&headers), "slow-2");
    assert_eq!(source.fetches(), 2);
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    assert!(credentials.expiry().unwrap() > clock.now() + Duration::from_secs(3000));
}

#[test]
fn an_abandoned_refresh_is_resumed_within_its_deadline() {
    let clock = FakeClock::new();
    let source = SlowSource::replying_after(&clock, Duration::from_secs(1));
    let credentials = builder(&clock, Arc::clone(&source)).build().unwrap();
    let mut abandoned = Box::pin(credentials.headers());
    assert!(pending(&mut abandoned));
    drop(abandoned);

    clock.advance(Duration::from_secs(2));
    let headers = block_on(credentials.headers()).unwrap();
    assert_eq!(
        bearer(&headers),
        "slow-1",
        "the reply already on its way is used"
    );
    assert_eq!(source.fetches(), 1);
}

// ===== 2. A flight has a deadline =====

/// A source that hangs, behind credentials whose flights have a 20 s deadline.
fn hung_with_20s_deadline(clock: &FakeClock) -> (Arc<SlowSource>, Credentials) {
    let source = SlowSource::hanging(clock);
    let credentials = builder(clock, Arc::clone(&source))
        .with_flight_deadline(Duration::from_secs(20))
        .build()
        .unwrap();
    (source, credentials)
}

#[test]
fn a_hung_source_fails_waiting_callers_at_the_deadline_and_the_next_call_starts_afresh() {
    let clock = FakeClock::new();
    let (source, credentials) = hung_with_20s_deadline(&clock);
    let mut first = Box::pin(credentials.headers());
    let mut second = Box::pin(credentials.refresh());
    assert!(pending(&mut first) && pending(&mut second));
    assert_eq!(
        clock.pending_timeouts(),
        2,
        "each waiting caller has its own deadline"
    );

    clock.advance(Duration::from_secs(19));
    assert!(pending(&mut first) && pending(&mut second), "not yet");
    clock.advance(Duration::from_secs(1));
    for error in [block_on(first).unwrap_err(), block_on(second).unwrap_err()] {
        assert_eq!(error.kind(), ErrorKind::Timeout);
        assert!(error.is_transient());
        assert!(error.to_string().contains("within 20 s"), "{error}");
    }
    assert_eq!(source.fetches(), 1);

    // A day later the next caller is not stuck behind the hung request: it starts its own.
    clock.advance(24 * HOUR);
    let mut next = Box::pin(credentials.headers());
    assert!(pending(&mut next));
    assert_eq!(source.fetches(), 2);
}

#[test]
fn the_default_deadline_bounds_a_hung_source() {
    let clock = FakeClock::new();
    let source = SlowSource::hanging(&clock);
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let mut waiting = Box::pin(credentials.headers());
    assert!(pending(&mut waiting));
    clock.advance(FLIGHT_DEADLINE);
    assert_eq!(block_on(waiting).unwrap_err().kind(), ErrorKind::Timeout);
}

/// A storage whose every call hangs.
#[derive(Debug)]
struct HungStorage;

#[async_trait]
impl Storage for HungStorage {
    async fn load(&self, _key: &str) -> Result<Option<CredentialRecord>> {
        futures::future::pending().await
    }
    async fn store(&self, _key: &str, _record: &CredentialRecord) -> Result<()> {
        futures::future::pending().await
    }
    async fn remove(&self, _key: &str) -> Result<()> {
        futures::future::pending().await
    }
}

#[test]
fn a_hung_storage_is_bounded_by_the_deadline_too() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    let credentials = builder(&clock, Arc::clone(&source))
        .with_storage(HungStorage, "me")
        .with_flight_deadline(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut waiting = Box::pin(credentials.headers());
    assert!(pending(&mut waiting));
    clock.advance(Duration::from_secs(30));
    assert_eq!(block_on(waiting).unwrap_err().kind(), ErrorKind::Timeout);
    assert_eq!(credentials.token_state(), TokenState::Invalid);
}

// ===== 4. A panicking spawner never panics apply() =====

#[test]
fn a_panicking_spawner_is_caught_reported_and_the_refresh_falls_back_to_callers() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    let events = Events::default();
    let seed = AccessToken::new("seed").with_lifetime(clock.now(), HOUR);
    let credentials = builder(&clock, Arc::clone(&source))
        .with_initial_token(seed)
        .with_spawner(|_future| panic!("must be called from the context of a Tokio runtime"))
        .on_refresh(events.observer())
        .build()
        .unwrap();
    clock.advance(Duration::from_secs(3400)); // stale

    let mut headers = HeaderMap::new();
    assert_eq!(credentials.apply(&mut headers).unwrap(), TokenState::Stale);
    assert_eq!(bearer(&headers), "seed");
    assert!(
        events
            .take()
            .iter()
            .any(|e| matches!(e, RefreshEvent::SpawnerPanicked))
    );

    // A caller that can wait drives the refresh instead.
    let fresh = block_on(credentials.headers()).unwrap();
    assert_eq!(bearer(&fresh), "tok-1");
    assert_eq!(source.fetches(), 1);
    assert_eq!(credentials.token_state(), TokenState::Fresh);

    // And so on for every later flight.
    clock.advance(Duration::from_secs(3400)); // stale again
    let fresh = block_on(credentials.headers()).unwrap();
    assert_eq!(bearer(&fresh), "tok-2");
    assert_eq!(source.fetches(), 2);
}

#[test]
fn a_hung_grant_is_resumed_until_its_grant_limit_then_replaced() {
    let clock = FakeClock::new();
    let (source, credentials) = hung_with_20s_deadline(&clock);
    let mut abandoned = Box::pin(credentials.headers());
    assert!(pending(&mut abandoned));
    drop(abandoned);
    // Past its deadline the grant is still out: its answer may yet come (and rotate the
    // refresh token), so the next caller resumes it rather than send a second grant.
    clock.advance(Duration::from_secs(20));
    let mut next = Box::pin(credentials.headers());
    assert!(pending(&mut next));
    assert_eq!(source.fetches(), 1, "the flight is resumed, not replaced");
    // Its caller waits until the grant limit (twice the deadline), where the answer is
    // presumed lost: the next caller starts a new flight.
    clock.advance(Duration::from_secs(19));
    assert!(pending(&mut next), "not yet");
    clock.advance(Duration::from_secs(1));
    assert_eq!(block_on(next).unwrap_err().kind(), ErrorKind::Timeout);
    let mut last = Box::pin(credentials.headers());
    assert!(pending(&mut last));
    assert_eq!(
        source.fetches(),
        2,
        "past the grant limit a new flight starts"
    );
}

#[test]
fn a_panicking_spawner_on_an_invalid_token_leaves_apply_an_error_not_a_panic() {
    let clock = FakeClock::new();
    let credentials = builder(&clock, TestSource::new(&clock))
        .with_spawner(|_future| panic!("no runtime"))
        .build()
        .unwrap();
    let error = credentials.apply(&mut HeaderMap::new()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Configuration);
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "tok-1");
}

// ===== 5. refresh() always fetches =====

/// A storage that takes `delay` by the clock to load.
#[derive(Debug)]
struct SlowStorage {
    clock: FakeClock,
    delay: Duration,
    inner: MemoryStorage,
}

#[async_trait]
impl Storage for SlowStorage {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        self.clock.sleep(self.delay).await;
        self.inner.load(key).await
    }
    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        self.inner.store(key, record).await
    }
    async fn remove(&self, key: &str) -> Result<()> {
        self.inner.remove(key).await
    }
}

#[test]
fn refresh_never_returns_the_stored_token_of_the_start_up_load_it_joined() {
    let clock = FakeClock::new();
    let inner = MemoryStorage::new();
    let stored = AccessToken::new("stored").with_lifetime(clock.now(), HOUR);
    block_on(inner.store("me", &CredentialRecord::new().with_access_token(&stored))).unwrap();
    let source = TestSource::new(&clock);
    let credentials = builder(&clock, Arc::clone(&source))
        .with_storage(
            SlowStorage {
                clock: clock.clone(),
                delay: Duration::from_secs(1),
                inner,
            },
            "me",
        )
        .build()
        .unwrap();

    let mut first = Box::pin(credentials.headers());
    assert!(pending(&mut first), "loading the stored record");
    let mut forced = Box::pin(credentials.refresh());
    assert!(pending(&mut forced), "joined the load");
    clock.advance(Duration::from_secs(1));
    assert_eq!(bearer(&block_on(first).unwrap()), "stored");
    let token = block_on(forced).unwrap();
    assert_eq!(token.secret().expose_secret(), "tok-1");
    assert_eq!(source.fetches(), 1);
}

// ===== 6. Backoff after a failure, for background and apply()-driven refreshes =====

#[test]
fn apply_with_a_spawner_does_not_hammer_a_failing_source() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    for _ in 0..3 {
        source.then(Err(permanent()));
    }
    let spawner = QueueSpawner::default();
    let credentials = builder(&clock, Arc::clone(&source))
        .with_spawner(spawner.spawner())
        .build()
        .unwrap();
    for _ in 0..50 {
        assert!(credentials.apply(&mut HeaderMap::new()).is_err());
        spawner.run_all();
    }
    assert_eq!(source.fetches(), 1, "one failure is remembered");
    let error = credentials.apply(&mut HeaderMap::new()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid_grant",
        "the remembered failure is reported"
    );

    // Past the minimum retry interval, one more try.
    clock.advance(MIN_RETRY_INTERVAL);
    for _ in 0..50 {
        assert!(credentials.apply(&mut HeaderMap::new()).is_err());
        spawner.run_all();
    }
    assert_eq!(source.fetches(), 2);

    // An explicit refresh tries at once.
    assert!(block_on(credentials.refresh()).is_err());
    assert_eq!(source.fetches(), 3);
}

#[test]
fn a_stale_token_with_a_spawner_retries_ahead_only_after_the_interval() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    source.then(Err(permanent())).then(Err(permanent()));
    let spawner = QueueSpawner::default();
    let credentials = builder(&clock, Arc::clone(&source))
        .with_initial_token(AccessToken::new("seed").with_lifetime(clock.now(), HOUR))
        .with_spawner(spawner.spawner())
        .build()
        .unwrap();
    clock.advance(Duration::from_secs(3400));
    for _ in 0..20 {
        assert_eq!(
            credentials.apply(&mut HeaderMap::new()).unwrap(),
            TokenState::Stale
        );
        spawner.run_all();
    }
    assert_eq!(source.fetches(), 1);
    clock.advance(MIN_RETRY_INTERVAL);
    credentials.apply(&mut HeaderMap::new()).unwrap();
    spawner.run_all();
    assert_eq!(source.fetches(), 2);
}

// ===== 7. Panicking observers and tracing subscribers =====

#[test]
fn a_panicking_observer_never_reaches_a_caller() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    source.then(Err(permanent()));
    let credentials = builder(&clock, Arc::clone(&source))
        .on_refresh(|_event: &RefreshEvent| panic!("observer bug"))
        .build()
        .unwrap();
    assert_eq!(
        block_on(credentials.headers()).unwrap_err().to_string(),
        "invalid_grant"
    );
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "tok-2");
    let mut headers = HeaderMap::new();
    assert_eq!(credentials.apply(&mut headers).unwrap(), TokenState::Fresh);
    assert!(credentials.invalidate_if(&headers));
    assert_eq!(credentials.token_state(), TokenState::Invalid);
}

/// A subscriber that panics on every event.
struct Panicking;

impl tracing::Subscriber for Panicking {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {
        panic!("subscriber bug");
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn a_panicking_tracing_subscriber_never_reaches_a_caller() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    source.then(Err(permanent()));
    let credentials = builder(&clock, Arc::clone(&source)).build().unwrap();
    tracing::subscriber::with_default(Panicking, || {
        assert!(block_on(credentials.headers()).is_err());
        let headers = block_on(credentials.headers()).unwrap();
        assert_eq!(bearer(&headers), "tok-2");
        assert!(credentials.invalidate_if(&headers));
    });
}

// ===== 9. A token already expired when it arrives =====

#[test]
fn a_token_expired_on_arrival_is_the_same_typed_error_everywhere_and_never_cached() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    let expired =
        || Ok(AccessToken::new("late").with_expiry(clock.now() - Duration::from_secs(90)));
    for _ in 0..4 {
        source.then(expired());
    }
    let storage = MemoryStorage::new();
    let events = Events::default();
    let credentials = builder(&clock, Arc::clone(&source))
        .with_storage(storage.clone(), "me")
        .on_refresh(events.observer())
        .build()
        .unwrap();

    let mut errors: Vec<Error> = vec![
        block_on(credentials.before_request(&mut HeaderMap::new())).unwrap_err(),
        block_on(credentials.headers()).unwrap_err(),
        block_on(credentials.access_token()).unwrap_err(),
        block_on(credentials.refresh()).unwrap_err(),
    ];
    errors.push(credentials.apply(&mut HeaderMap::new()).unwrap_err());
    for error in &errors {
        assert_eq!(error.kind(), ErrorKind::InvalidResponse);
        assert_eq!(
            error.to_string(),
            "the token expired 90 s before it was received: check the clocks of this machine and of the token's issuer"
        );
    }
    assert!(credentials.token().is_none());
    assert!(
        block_on(storage.load("me")).unwrap().is_none(),
        "nothing stored"
    );
    let failed = events
        .take()
        .into_iter()
        .filter(|e| matches!(e, RefreshEvent::Failed { .. }))
        .count();
    assert_eq!(failed, 4);
}

#[test]
fn a_rotation_that_came_with_an_expired_token_is_still_stored() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    source.then(Ok(AccessToken::new("late")
        .with_expiry(clock.now() - Duration::from_secs(1))
        .with_rotated_refresh_token(SecretString::from("rotated"))));
    let storage = MemoryStorage::new();
    let credentials = builder(&clock, Arc::clone(&source))
        .with_storage(storage.clone(), "me")
        .build()
        .unwrap();
    assert!(block_on(credentials.headers()).is_err());
    let record = block_on(storage.load("me")).unwrap().unwrap();
    assert_eq!(record.refresh_token().unwrap().expose_secret(), "rotated");
    assert!(record.access_token().is_none());
}

// ===== The fast path through a shared clock =====

#[test]
fn a_clock_shared_as_an_arc_reads_the_same_time_on_the_hot_path() {
    let clock = FakeClock::new();
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let credentials = Credentials::builder(TestSource::new(&clock))
        .with_clock(shared)
        .build()
        .unwrap();
    block_on(credentials.refresh()).unwrap();
    let mut headers = HeaderMap::new();
    assert_eq!(credentials.apply(&mut headers).unwrap(), TokenState::Fresh);
    clock.advance(HOUR);
    assert!(
        credentials.apply(&mut headers).is_err(),
        "expired by the shared clock"
    );
}

// ===== 3. Storage out of reach, then back =====

#[test]
fn a_rotation_made_while_the_record_was_out_of_reach_is_stored_by_the_next_store() {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    source.then(Ok(AccessToken::new("first")
        .with_lifetime(clock.now(), HOUR)
        .with_rotated_refresh_token(SecretString::from("rotated"))));
    let mut storage = credkit_testing::MockStorage::new();
    let mut loads = 0;
    storage.expect_load().returning(move |_| {
        loads += 1;
        if loads <= 2 {
            Err(Error::new(ErrorKind::Storage, "connection refused").with_transient(true))
        } else {
            Ok(None)
        }
    });
    let stored = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&stored);
    storage.expect_store().returning(move |_, record| {
        seen.lock()
            .unwrap()
            .push(record.refresh_token().map(|t| t.expose_secret().to_owned()));
        Ok(())
    });
    let credentials = builder(&clock, Arc::clone(&source))
        .with_storage(storage, "me")
        .build()
        .unwrap();
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "first");
    assert!(
        stored.lock().unwrap().is_empty(),
        "out of reach: nothing stored blind"
    );

    block_on(credentials.refresh()).unwrap();
    assert_eq!(*stored.lock().unwrap(), [Some("rotated".to_owned())]);
}
