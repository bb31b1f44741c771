//! The rotation promise: once a grant is sent, its answer is never thrown away, and a rotated
//! refresh token stays pending until a store confirms it. Every test runs against a token
//! endpoint in strict-rotation mode ([`StrictEndpoint`]): a grant that presents a rotated-away
//! refresh token is refused with `invalid_grant`, which would log the user out.

// Setup helpers outside `#[test]` functions unwrap too: a broken setup should fail loudly.
#![allow(clippy::unwrap_used, clippy::panic)]

mod credentials_support;

use credkit_core::LeasePolicy;
use std::future::Future;
use std::sync::Arc;
use std::task::Context;
use std::time::Duration;

use credkit_core::{
    AccessToken, Clock, CredentialRecord, Credentials, CredentialsBuilder, ErrorKind, Storage,
};
use credkit_testing::FakeClock;
use futures::FutureExt;
use futures::executor::block_on;
use futures::task::noop_waker_ref;
use secrecy::SecretString;

use credentials_support::{FaultStore, HOUR, StoreFault, StrictEndpoint, StrictSource, bearer};

const KEY: &str = "user@example.com";
const LATENCY: Duration = Duration::from_secs(1);
/// The flight deadline without retries.
const DEADLINE: Duration = Duration::from_secs(60);

/// Polls `future` once; true while it is still pending.
fn pending<F: Future + Unpin>(future: &mut F) -> bool {
    future
        .poll_unpin(&mut Context::from_waker(noop_waker_ref()))
        .is_pending()
}

/// A token that turns stale at once (a minute left of an hour).
fn stale_seed(clock: &FakeClock) -> AccessToken {
    let issued = clock.now() - time::Duration::seconds(3540);
    AccessToken::new("at-seed").with_lifetime(issued, HOUR)
}

/// The record a login left: refresh token `rt-0`, no access token.
fn seed_store(store: &FaultStore) {
    let record = CredentialRecord::new().with_refresh_token(SecretString::from("rt-0"));
    block_on(store.inner.store(KEY, &record)).unwrap();
}

/// What every scenario starts from: the fake clock, and no retries (a grant is one request).
fn builder(
    clock: &(impl Clock + Clone + 'static),
    source: &Arc<StrictSource>,
) -> CredentialsBuilder {
    Credentials::builder(Arc::clone(source))
        .with_clock(clock.clone())
        .without_retries()
}

fn with_store(clock: &FakeClock, source: &Arc<StrictSource>, store: &FaultStore) -> Credentials {
    builder(clock, source)
        .with_storage(store.clone(), KEY)
        .build()
        .unwrap()
}

/// A refresh ahead driven beside a request holds the lease when the request's response comes
/// first and its future is dropped: the grant is out, so the refresh is kept and finished.
#[test]
fn a_leased_refresh_ahead_dropped_mid_grant_is_finished_by_the_next_caller() {
    let clock = FakeClock::new();
    let endpoint = StrictEndpoint::new();
    let source = StrictSource::new(&clock, &endpoint, LATENCY);
    let store = FaultStore::new(&clock);
    seed_store(&store);
    let credentials = builder(&clock, &source)
        .with_storage(store.clone(), KEY)
        .with_initial_token(stale_seed(&clock))
        .build()
        .unwrap();

    let mut request = Box::pin(credentials.headers());
    // The stale token is served at once; this caller drives the refresh ahead...
    assert!(pending(&mut request));
    assert_eq!(endpoint.presented(), ["rt-0"], "the grant is out");
    // ...and gives up as the API answered first.
    drop(request);

    // Past the seed's expiry and the flight's deadline (the answer arrived meanwhile, with
    // nobody reading it), a request must wait for a token: it finishes the kept flight.
    clock.advance(DEADLINE + Duration::from_secs(5));
    let headers = block_on(credentials.headers()).unwrap();
    assert_eq!(
        bearer(&headers),
        "at-1",
        "the first grant's answer was used"
    );
    assert_eq!(endpoint.grants(), 1);

    clock.set_auto_advance(true);
    block_on(credentials.refresh()).unwrap();
    assert_eq!(
        endpoint.refused(),
        0,
        "presented: {:?}",
        endpoint.presented()
    );
    assert_eq!(endpoint.presented(), ["rt-0", "rt-1"]);
    assert_eq!(store.refresh_token(KEY).as_deref(), Some("rt-2"));
}

/// Without storage, the flight abandoned mid-grant is resumed even past its deadline, never
/// replaced by a second grant presenting the same refresh token.
#[test]
fn an_abandoned_grant_is_resumed_past_its_deadline_not_replaced() {
    let clock = FakeClock::new();
    let endpoint = StrictEndpoint::new();
    let source = StrictSource::new(&clock, &endpoint, LATENCY);
    let credentials = builder(&clock, &source)
        .with_initial_token(stale_seed(&clock))
        .build()
        .unwrap();

    let mut request = Box::pin(credentials.headers());
    assert!(pending(&mut request));
    drop(request);
    clock.advance(DEADLINE + Duration::from_secs(5));

    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "at-1");
    assert_eq!(endpoint.grants(), 1);
    clock.set_auto_advance(true);
    block_on(credentials.refresh()).unwrap();
    assert_eq!(
        endpoint.refused(),
        0,
        "presented: {:?}",
        endpoint.presented()
    );
    assert_eq!(source.refresh_token(), endpoint.current());
}

/// A store that hangs while its refresh's caller goes (its deadline passes, or it is dropped):
/// the rotation stays pending (never replaced by the older stored record) until a store
/// confirms it, and the next grant presents it.
fn a_rotation_outlives_a_hung_store(deadline_passes: bool) {
    let clock = FakeClock::new();
    let endpoint = StrictEndpoint::new();
    let source = StrictSource::new(&clock, &endpoint, LATENCY);
    let store = FaultStore::new(&clock);
    seed_store(&store);
    let credentials = with_store(&clock, &source, &store);
    store.set_store(StoreFault::Hangs);

    let mut caller = Box::pin(credentials.refresh());
    assert!(pending(&mut caller));
    clock.advance(LATENCY);
    assert!(pending(&mut caller), "the store hangs");
    if deadline_passes {
        clock.advance(DEADLINE);
        let error = block_on(caller).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Timeout, "on time");
    } else {
        drop(caller);
    }

    store.set_store(StoreFault::Works);
    // A caller that needs a token (not a forced refresh) loads the stored record under the
    // lease: it must not take the older refresh token back.
    let mut next = Box::pin(credentials.headers());
    assert!(pending(&mut next));
    clock.advance(LATENCY);
    block_on(next).unwrap();
    assert_eq!(
        endpoint.refused(),
        0,
        "presented: {:?}",
        endpoint.presented()
    );
    assert_eq!(endpoint.presented(), ["rt-0", "rt-1"]);
    assert_eq!(store.refresh_token(KEY), Some(endpoint.current()));
}

#[test]
fn a_rotation_outlives_a_store_that_hangs_past_the_deadline() {
    a_rotation_outlives_a_hung_store(true);
}

#[test]
fn a_rotation_outlives_a_caller_dropped_while_storing() {
    a_rotation_outlives_a_hung_store(false);
}

/// A caller dropped while the lease is being taken (its result waiting to be polled, as a lock
/// taken on a blocking pool) leaves no lease behind: no grant was sent, so the flight goes.
#[test]
fn a_flight_dropped_before_its_grant_releases_the_lease_at_once() {
    let clock = FakeClock::new();
    let endpoint = StrictEndpoint::new();
    let source = StrictSource::new(&clock, &endpoint, LATENCY);
    let store = FaultStore::new(&clock);
    let credentials = with_store(&clock, &source, &store);
    store.set_slow_lease(Duration::from_secs(1));

    let mut caller = Box::pin(credentials.headers());
    assert!(pending(&mut caller));
    assert!(!store.lease_is_free(KEY), "the lease is taken");
    drop(caller);
    assert!(
        store.lease_is_free(KEY),
        "nobody drives the flight: the lease is back"
    );
    assert_eq!(endpoint.grants(), 0);
}

fn failures(events: &credentials_support::Events) -> usize {
    events
        .take()
        .iter()
        .filter(|e| matches!(e, credkit_core::RefreshEvent::Failed { .. }))
        .count()
}

/// Credentials over `source` with a spawner the test polls and an observer, with `store` if
/// given.
fn spawning(
    clock: &FakeClock,
    source: &Arc<StrictSource>,
    store: Option<&FaultStore>,
) -> (
    Credentials,
    credentials_support::QueueSpawnerPolled,
    credentials_support::Events,
) {
    let queue = credentials_support::QueueSpawnerPolled::default();
    let events = credentials_support::Events::default();
    let mut spawned = builder(clock, source)
        .with_spawner(queue.spawner())
        .on_refresh(events.observer());
    if let Some(store) = store {
        spawned = spawned.with_storage(store.clone(), KEY);
    }
    (spawned.build().unwrap(), queue, events)
}

/// With a spawner, a flight its caller left mid-grant is finished there: renewed past its
/// deadline while the grant is out, published when the answer comes, with nobody waiting.
#[test]
fn a_spawner_finishes_a_grant_its_caller_left() {
    let clock = FakeClock::new();
    let endpoint = StrictEndpoint::new();
    // The answer takes longer than the flight deadline.
    let source = StrictSource::new(&clock, &endpoint, Duration::from_secs(90));
    let (credentials, queue, events) = spawning(&clock, &source, None);

    let mut caller = Box::pin(credentials.headers());
    assert!(pending(&mut caller));
    assert_eq!(queue.len(), 0, "the caller drives its own refresh");
    drop(caller);
    assert_eq!(
        queue.len(),
        1,
        "the flight went to the spawner as a finisher"
    );
    queue.poll_all();
    clock.advance(DEADLINE);
    queue.poll_all();
    assert_eq!(
        queue.len(),
        1,
        "past the deadline, the grant still out: it keeps going"
    );
    clock.advance(Duration::from_secs(30));
    queue.poll_all();
    assert_eq!(queue.len(), 0, "the answer came and was published");
    assert!(
        credentials.valid(),
        "nobody waited, yet the token is cached"
    );
    assert_eq!(failures(&events), 0, "nothing failed");
    assert_eq!(source.refresh_token(), endpoint.current());
}

/// A finisher gives up at the grant limit, reporting it once; the next caller starts anew.
#[test]
fn a_finisher_gives_up_at_the_grant_limit() {
    let clock = FakeClock::new();
    let endpoint = StrictEndpoint::new();
    let source = StrictSource::new(&clock, &endpoint, Duration::from_secs(100_000));
    let (credentials, queue, events) = spawning(&clock, &source, None);
    let mut caller = Box::pin(credentials.headers());
    assert!(pending(&mut caller));
    drop(caller);
    queue.poll_all();
    clock.advance(2 * DEADLINE);
    queue.poll_all();
    assert_eq!(queue.len(), 0, "the finisher gave up at the grant limit");
    assert_eq!(failures(&events), 1, "and reported it once");
}

/// Every flight that passes its callers' deadline is reported, each once.
#[test]
fn each_overdue_flight_is_reported_once() {
    let clock = FakeClock::new();
    let endpoint = StrictEndpoint::new();
    let source = StrictSource::new(&clock, &endpoint, LATENCY);
    let store = FaultStore::new(&clock);
    let events = credentials_support::Events::default();
    let credentials = builder(&clock, &source)
        .with_storage(store.clone(), KEY)
        .on_refresh(events.observer())
        .build()
        .unwrap();
    // Each flight waits for a lease that comes only after its deadline.
    store.set_slow_lease(DEADLINE * 10);
    for round in 1..=2 {
        let mut first = Box::pin(credentials.headers());
        let mut second = Box::pin(credentials.headers());
        assert!(pending(&mut first) && pending(&mut second));
        clock.advance(DEADLINE);
        assert_eq!(block_on(first).unwrap_err().kind(), ErrorKind::Timeout);
        assert_eq!(block_on(second).unwrap_err().kind(), ErrorKind::Timeout);
        assert_eq!(
            failures(&events),
            1,
            "round {round}: one report for two callers"
        );
    }
    assert_eq!(endpoint.grants(), 0);
}

/// `refresh_ahead` hands a caller without a spawner the refresh of a stale token; it says when
/// it must be finished, and resolves once the new token is cached.
#[test]
fn a_refresh_ahead_says_when_it_must_be_finished() {
    let clock = FakeClock::new();
    let endpoint = StrictEndpoint::new();
    let source = StrictSource::new(&clock, &endpoint, LATENCY);
    let credentials = builder(&clock, &source)
        .with_initial_token(stale_seed(&clock))
        .build()
        .unwrap();
    let mut ahead = credentials.refresh_ahead().expect("a stale token");
    assert!(!ahead.must_finish(), "nothing sent before its first poll");
    assert!(pending(&mut ahead));
    assert!(ahead.must_finish(), "the grant is out");
    assert!(format!("{ahead:?}").contains("must_finish: true"));
    assert!(
        credentials.refresh_ahead().is_none(),
        "one driver at a time"
    );
    clock.advance(LATENCY);
    block_on(ahead);
    assert!(credentials.valid());
    assert!(
        credentials.refresh_ahead().is_none(),
        "a fresh token has nothing ahead"
    );
    assert_eq!(endpoint.presented(), ["rt-0"]);
}

/// A clock whose calendar (`now`) and timers (`sleep`, `timeout`) are two fake clocks, so a
/// test can set the wall clock forward while the timers stand still, as when NTP steps it.
#[derive(Clone, Debug)]
struct SteppedClock {
    wall: FakeClock,
    timers: FakeClock,
}

impl Clock for SteppedClock {
    fn now(&self) -> time::OffsetDateTime {
        self.wall.now()
    }
    fn sleep(&self, duration: Duration) -> futures::future::BoxFuture<'static, ()> {
        self.timers.sleep(duration)
    }
    fn timeout(&self, duration: Duration) -> futures::future::BoxFuture<'static, ()> {
        self.timers.timeout(duration)
    }
}

/// The wall clock set forward makes a flight look overdue while its callers still wait on their
/// timers: a newer flight replaces it, and the replaced one never sends a grant.
#[test]
fn a_flight_replaced_after_a_wall_clock_step_never_sends_its_grant() {
    let wall = FakeClock::new();
    let timers = FakeClock::new();
    let clock = SteppedClock {
        wall: wall.clone(),
        timers: timers.clone(),
    };
    let endpoint = StrictEndpoint::new();
    let source = StrictSource::new(&timers, &endpoint, Duration::ZERO);
    // The lease arrives after 10 s on the timers.
    let store = FaultStore::new(&timers);
    store.set_slow_lease(Duration::from_secs(10));
    let credentials = builder(&clock, &source)
        .with_storage(store.clone(), KEY)
        .build()
        .unwrap();

    let mut first = Box::pin(credentials.headers());
    assert!(pending(&mut first), "waiting for the lease");
    wall.advance(DEADLINE + Duration::from_secs(1));
    store.set_slow_lease(Duration::ZERO);
    let mut second = Box::pin(credentials.headers());
    assert!(
        pending(&mut second),
        "a newer flight, waiting for the lease the old one holds"
    );

    // The old flight gets its lease: it must not send a grant, and gives the lease back.
    timers.advance(Duration::from_secs(10));
    let old = block_on(first).unwrap_err();
    assert_eq!(old.kind(), ErrorKind::Timeout, "{old}");
    assert_eq!(endpoint.grants(), 0, "the replaced flight sent no grant");
    let headers = block_on(second).unwrap();
    assert_eq!(bearer(&headers), "at-1");
    assert_eq!(endpoint.presented(), ["rt-0"]);
}

/// A finisher whose flight got its answer but then hangs storing it gives up at its next
/// renewal (the rotation is kept in the slot, and its lease with it), not at the grant limit.
#[test]
fn a_finisher_gives_up_on_a_hung_store_at_its_next_renewal() {
    let clock = FakeClock::new();
    let endpoint = StrictEndpoint::new();
    let source = StrictSource::new(&clock, &endpoint, Duration::from_secs(50));
    let store = FaultStore::new(&clock);
    seed_store(&store);
    store.set_store(StoreFault::Hangs);
    let (credentials, queue, events) = spawning(&clock, &source, Some(&store));
    let mut caller = Box::pin(credentials.headers());
    assert!(pending(&mut caller));
    clock.advance(Duration::from_secs(30));
    drop(caller);
    queue.poll_all();
    assert_eq!(queue.len(), 1, "a finisher drives the grant");
    clock.advance(Duration::from_secs(20));
    queue.poll_all();
    assert_eq!(queue.len(), 1, "the answer came; the store hangs");
    clock.advance(Duration::from_secs(40));
    queue.poll_all();
    assert_eq!(queue.len(), 0, "given up at the renewal after the answer");
    assert_eq!(failures(&events), 1);
    assert!(
        !store.lease_is_free(KEY),
        "the rotation waits for a store: the lease is kept"
    );
    store.set_store(StoreFault::Works);
    clock.set_auto_advance(true);
    block_on(credentials.refresh()).unwrap();
    assert_eq!(
        endpoint.refused(),
        0,
        "presented: {:?}",
        endpoint.presented()
    );
    assert_eq!(store.refresh_token(KEY), Some(endpoint.current()));
    assert!(store.lease_is_free(KEY));
}

/// A record that cannot be read for good is replaced by the next store, rotation included;
/// the observer hears that the refresh rotated the refresh token.
#[test]
fn an_unreadable_record_is_replaced_and_the_rotation_reported() {
    let clock = FakeClock::new().with_auto_advance(true);
    let endpoint = StrictEndpoint::new();
    let source = StrictSource::new(&clock, &endpoint, LATENCY);
    let store = FaultStore::new(&clock);
    seed_store(&store);
    store.set_corrupt(true);
    let events = credentials_support::Events::default();
    let credentials = builder(&clock, &source)
        .with_storage(store.clone(), KEY)
        .with_lease_policy(LeasePolicy::available())
        .on_refresh(events.observer())
        .build()
        .unwrap();
    block_on(credentials.refresh()).unwrap();
    assert_eq!(store.stores(), 1, "the unreadable record was replaced");
    store.set_corrupt(false);
    assert_eq!(store.refresh_token(KEY), Some(endpoint.current()));
    let rotated = events.take().iter().any(|e| {
        matches!(
            e,
            credkit_core::RefreshEvent::Refreshed {
                rotated_refresh_token: true,
                from_storage: false,
                ..
            }
        )
    });
    assert!(rotated, "the refresh reported its rotation");
}

/// Runs the background store's first try (1 s after the refresh), which ends its task.
fn first_background_store(clock: &FakeClock, queue: &credentials_support::QueueSpawnerPolled) {
    queue.poll_all();
    clock.advance(Duration::from_secs(1));
    queue.poll_all();
    assert_eq!(queue.len(), 0, "stored: the task is over");
}

/// Two grants, no `invalid_grant`: the second rotation (`rt-2`) stored, the lease free.
fn assert_second_rotation_stored(endpoint: &StrictEndpoint, store: &FaultStore) {
    assert_eq!(
        endpoint.refused(),
        0,
        "presented: {:?}",
        endpoint.presented()
    );
    assert_eq!(store.refresh_token(KEY).as_deref(), Some("rt-2"));
    assert!(store.lease_is_free(KEY));
}

/// A scenario's start: spawner-backed `Credentials` over a store whose stores fail, after a
/// refresh that left its rotation unstored, with the lease kept for it.
type Unstored = (
    FakeClock,
    Arc<StrictEndpoint>,
    FaultStore,
    Credentials,
    credentials_support::QueueSpawnerPolled,
);

fn unstored_rotation() -> Unstored {
    let clock = FakeClock::new();
    let endpoint = StrictEndpoint::new();
    let store = FaultStore::new(&clock);
    let source = StrictSource::new(&clock, &endpoint, Duration::ZERO);
    seed_store(&store);
    store.set_store(StoreFault::Fails);
    let (credentials, queue, _events) = spawning(&clock, &source, Some(&store));
    let headers = block_on(credentials.headers()).unwrap();
    assert_eq!(bearer(&headers), "at-1", "the token is served");
    assert_eq!(
        store.refresh_token(KEY).as_deref(),
        Some("rt-0"),
        "not stored"
    );
    assert!(
        !store.lease_is_free(KEY),
        "the lease is kept for the rotation"
    );
    assert_eq!(queue.len(), 1, "a task stores it again later");
    (clock, endpoint, store, credentials, queue)
}

/// With a spawner, a rotation whose store failed is stored again in the background, waiting
/// 1 s, then 2 s, 4 s... (at most a minute) between tries, and the lease is released once a
/// store confirms it: other processes do not wait for this one's next refresh.
#[test]
fn an_unstored_rotation_is_stored_in_the_background_and_its_lease_released() {
    let (clock, endpoint, store, credentials, queue) = unstored_rotation();
    let stores = store.stores();

    queue.poll_all();
    assert_eq!(store.stores(), stores, "nothing before the first wait");
    clock.advance(Duration::from_secs(1));
    queue.poll_all();
    assert_eq!(
        store.stores(),
        stores + 1,
        "tried after 1 s: it fails again"
    );
    assert!(!store.lease_is_free(KEY));
    clock.advance(Duration::from_millis(1999));
    queue.poll_all();
    assert_eq!(store.stores(), stores + 1, "the next wait is 2 s");
    clock.advance(Duration::from_millis(1));
    queue.poll_all();
    assert_eq!(store.stores(), stores + 2);

    store.set_store(StoreFault::Works);
    clock.advance(Duration::from_secs(4));
    queue.poll_all();
    assert_eq!(store.stores(), stores + 3);
    assert_eq!(queue.len(), 0, "stored: the task is over");
    assert_eq!(store.refresh_token(KEY).as_deref(), Some("rt-1"));
    assert!(store.lease_is_free(KEY), "released once stored");

    // The cache goes on as before: the next refresh presents the stored token.
    clock.set_auto_advance(true);
    block_on(credentials.refresh()).unwrap();
    assert_second_rotation_stored(&endpoint, &store);
    assert_eq!(endpoint.presented(), ["rt-0", "rt-1"]);
}

/// The waits between tries double up to a minute, and the task ends with the last handle of
/// the `Credentials` (the rotation goes with it; nothing else holds it).
#[test]
fn the_background_store_backs_off_to_a_minute_and_ends_with_the_credentials() {
    let (clock, endpoint, store, credentials, queue) = unstored_rotation();
    let stores = store.stores();
    queue.poll_all();
    let mut tries = Vec::new();
    for second in 1..=300 {
        clock.advance(Duration::from_secs(1));
        let before = store.stores();
        queue.poll_all();
        if store.stores() > before {
            tries.push(second);
        }
    }
    assert_eq!(tries, [1, 3, 7, 15, 31, 63, 123, 183, 243]);
    assert_eq!(store.stores(), stores + tries.len());
    drop(credentials);
    clock.advance(Duration::from_secs(60));
    queue.poll_all();
    assert_eq!(queue.len(), 0, "no handle left: the task is over");
    assert_eq!(store.stores(), stores + tries.len());
    assert_eq!(endpoint.grants(), 1, "the background stores sent no grant");
}

/// A refresh that comes while the background store waits takes the kept lease itself and
/// stores the rotation with its own token; the background task then finds nothing to do.
#[test]
fn a_refresh_before_the_background_store_stores_the_rotation_itself() {
    let (clock, endpoint, store, credentials, queue) = unstored_rotation();
    queue.poll_all();
    store.set_store(StoreFault::Works);
    block_on(credentials.refresh()).unwrap();
    assert_eq!(
        endpoint.refused(),
        0,
        "presented: {:?}",
        endpoint.presented()
    );
    assert_eq!(store.refresh_token(KEY).as_deref(), Some("rt-2"));
    assert!(store.lease_is_free(KEY));
    let stores = store.stores();
    clock.advance(Duration::from_secs(1));
    queue.poll_all();
    assert_eq!(queue.len(), 0, "nothing left to store: the task is over");
    assert_eq!(store.stores(), stores);
}

/// Without a spawner nothing runs in the background: the next refresh stores the rotation
/// (the lease waits until then).
#[test]
fn without_a_spawner_the_next_refresh_stores_the_rotation() {
    let clock = FakeClock::new();
    let endpoint = StrictEndpoint::new();
    let source = StrictSource::new(&clock, &endpoint, Duration::ZERO);
    let store = FaultStore::new(&clock);
    seed_store(&store);
    store.set_store(StoreFault::Fails);
    let credentials = with_store(&clock, &source, &store);
    block_on(credentials.headers()).unwrap();
    clock.advance(Duration::from_secs(120));
    assert!(!store.lease_is_free(KEY), "kept until the next refresh");
    store.set_store(StoreFault::Works);
    block_on(credentials.refresh()).unwrap();
    assert_second_rotation_stored(&endpoint, &store);
}

/// The background store's task dropped mid-store (a hung store, a runtime shutting down)
/// keeps the lease for the rotation, and a later failure starts a new task.
#[test]
fn a_background_store_dropped_mid_store_keeps_the_lease_for_the_rotation() {
    let (clock, endpoint, store, credentials, queue) = unstored_rotation();
    queue.poll_all();
    store.set_store(StoreFault::Hangs);
    clock.advance(Duration::from_secs(1));
    queue.poll_all();
    assert_eq!(queue.len(), 1, "the store hangs");
    queue.drop_all();
    assert!(!store.lease_is_free(KEY), "still kept for the rotation");

    // The next refresh fails to store as well: a new background task takes over.
    store.set_store(StoreFault::Fails);
    block_on(credentials.refresh()).unwrap();
    assert_eq!(queue.len(), 1, "a new task");
    store.set_store(StoreFault::Works);
    first_background_store(&clock, &queue);
    assert_second_rotation_stored(&endpoint, &store);
}

/// A spawner that drops the background store's task before running it (a runtime shutting
/// down) leaves the rotation for the next refresh, and a later failure starts a new task.
#[test]
fn a_background_store_dropped_before_it_ran_leaves_room_for_the_next() {
    let (clock, endpoint, store, credentials, queue) = unstored_rotation();
    queue.drop_all();
    block_on(credentials.refresh()).unwrap();
    assert_eq!(queue.len(), 1, "a new task for the next unstored rotation");
    store.set_store(StoreFault::Works);
    first_background_store(&clock, &queue);
    assert_second_rotation_stored(&endpoint, &store);
}

/// A background store whose kept lease lapsed (its time to live ran out while the store was
/// down) stores nothing and ends: the next refresh judges the record again, as after any
/// lapse, and no grant presents a rotated-away token.
#[test]
fn a_background_store_gives_up_when_the_kept_lease_lapsed() {
    let (clock, endpoint, store, credentials, queue) = unstored_rotation();
    let stores = store.stores();
    store.set_store(StoreFault::Works);
    store.set_lapsed(true);
    first_background_store(&clock, &queue);
    assert_eq!(store.stores(), stores, "no store under a lapsed lease");
    assert_eq!(store.refresh_token(KEY).as_deref(), Some("rt-0"));
    assert!(credentials.has_unstored_rotation());

    // The next refresh (its own lease held) stores the rotation with its own token.
    store.set_lapsed(false);
    block_on(credentials.refresh()).unwrap();
    assert_second_rotation_stored(&endpoint, &store);
}

/// One background store at a time: a refresh that fails to store again while the task waits
/// starts no second one, and the task stores the newest rotation.
#[test]
fn one_background_store_at_a_time() {
    let (clock, endpoint, store, credentials, queue) = unstored_rotation();
    queue.poll_all();
    block_on(credentials.refresh()).unwrap();
    assert_eq!(
        queue.len(),
        1,
        "the waiting task takes the new rotation too"
    );
    store.set_store(StoreFault::Works);
    first_background_store(&clock, &queue);
    assert_second_rotation_stored(&endpoint, &store);
}

/// A refresh whose lease lapsed keeps no lease, and so starts no background store: the
/// rotation waits for the next refresh, which judges the record first.
#[test]
fn no_background_store_without_a_kept_lease() {
    let clock = FakeClock::new();
    let endpoint = StrictEndpoint::new();
    let source = StrictSource::new(&clock, &endpoint, Duration::ZERO);
    let store = FaultStore::new(&clock);
    seed_store(&store);
    store.set_store(StoreFault::Fails);
    store.set_lapsed(true);
    let (credentials, queue, _events) = spawning(&clock, &source, Some(&store));
    block_on(credentials.headers()).unwrap();
    assert!(credentials.has_unstored_rotation());
    assert!(store.lease_is_free(KEY), "a lapsed lease is not kept");
    assert_eq!(queue.len(), 0, "no background store");
}
