//! `Credentials` over a storage with a cross-process lease: several caches sharing one storage
//! (standing for processes) make one refresh per expiry, adopt a rotation another one stored,
//! and handle a lease they cannot get as the builder says. `MemoryStorage` offers the lease.

// Setup helpers outside `#[test]` functions unwrap too: a broken setup should fail loudly.
#![allow(clippy::unwrap_used, clippy::panic)]

mod credentials_support;

use credkit_core::LeasePolicy;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Context;
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{
    AccessToken, Clock, CredentialRecord, Credentials, Error, ErrorKind, Lease, LeaseOptions,
    MemoryStorage, RefreshEvent, Result, Storage, TokenSource,
};
use credkit_testing::FakeClock;
use futures::FutureExt;
use futures::executor::block_on;
use futures::task::noop_waker_ref;
use secrecy::{ExposeSecret, SecretString};

use credentials_support::{Events, HOUR, bearer};

const KEY: &str = "user@example.com";

fn pending<F: Future + Unpin>(future: &mut F) -> bool {
    future
        .poll_unpin(&mut Context::from_waker(noop_waker_ref()))
        .is_pending()
}

/// One process's source: fetches take a second on the clock; each fetch rotates the refresh
/// token it was given (as adopted from storage, or its own last one) into the next.
#[derive(Debug)]
struct Rotating {
    name: &'static str,
    clock: FakeClock,
    refresh_token: Mutex<String>,
    /// The refresh token each fetch was made with.
    used: Mutex<Vec<String>>,
    fetches: Arc<AtomicUsize>,
}

impl Rotating {
    fn new(name: &'static str, clock: &FakeClock, fetches: &Arc<AtomicUsize>) -> Arc<Self> {
        Arc::new(Self {
            name,
            clock: clock.clone(),
            refresh_token: Mutex::new("rt-0".to_owned()),
            used: Mutex::new(Vec::new()),
            fetches: Arc::clone(fetches),
        })
    }
}

#[async_trait]
impl TokenSource for Rotating {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        let sent_at = self.clock.now();
        let used = self.refresh_token.lock().unwrap().clone();
        self.used.lock().unwrap().push(used);
        self.clock.sleep(Duration::from_secs(1)).await;
        let next = format!("rt-{n}");
        self.refresh_token.lock().unwrap().clone_from(&next);
        Ok(AccessToken::new(format!("{}-{n}", self.name))
            .with_lifetime(sent_at, HOUR)
            .with_rotated_refresh_token(SecretString::from(next)))
    }

    fn adopt_record(&self, record: &CredentialRecord) {
        if let Some(stored) = record.refresh_token() {
            stored
                .expose_secret()
                .clone_into(&mut self.refresh_token.lock().unwrap());
        }
    }
}

fn process(
    clock: &FakeClock,
    source: &Arc<Rotating>,
    storage: &(impl Storage + Clone + 'static),
) -> Credentials {
    Credentials::builder(Arc::clone(source))
        .with_clock(clock.clone())
        .with_storage(storage.clone(), KEY)
        .without_retries()
        .build()
        .unwrap()
}

#[test]
fn processes_sharing_a_leased_storage_make_one_refresh_between_them() {
    let clock = FakeClock::new();
    let storage = MemoryStorage::new();
    let fetches = Arc::new(AtomicUsize::new(0));
    let sources: Vec<_> = ["a", "b", "c", "d"]
        .iter()
        .map(|name| Rotating::new(name, &clock, &fetches))
        .collect();
    let processes: Vec<_> = sources
        .iter()
        .map(|s| process(&clock, s, &storage))
        .collect();

    let mut waiting: Vec<_> = processes.iter().map(|p| Box::pin(p.headers())).collect();
    for caller in &mut waiting {
        assert!(pending(caller));
    }
    clock.advance(Duration::from_secs(1));
    let tokens: Vec<String> = waiting
        .into_iter()
        .map(|w| bearer(&block_on(w).unwrap()).to_owned())
        .collect();
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "one refresh for four processes"
    );
    assert!(tokens.iter().all(|t| t == &tokens[0]), "{tokens:?}");

    // An hour later, the next expiry: again one refresh, made by another process (the last),
    // with the refresh token the first one rotated and stored.
    clock.advance(HOUR);
    let mut waiting: Vec<_> = processes
        .iter()
        .rev()
        .map(|p| Box::pin(p.headers()))
        .collect();
    for caller in &mut waiting {
        assert!(pending(caller));
    }
    clock.advance(Duration::from_secs(1));
    for caller in waiting {
        block_on(caller).unwrap();
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    let used: Vec<String> = sources
        .iter()
        .flat_map(|s| s.used.lock().unwrap().clone())
        .collect();
    assert_eq!(
        used,
        ["rt-0", "rt-1"],
        "the second refresh used the stored rotation"
    );
    let record = block_on(storage.load(KEY)).unwrap().unwrap();
    assert_eq!(record.refresh_token().unwrap().expose_secret(), "rt-2");
}

#[test]
fn a_forced_refresh_under_the_lease_always_fetches() {
    let clock = FakeClock::new();
    let storage = MemoryStorage::new();
    let fetches = Arc::new(AtomicUsize::new(0));
    let a = process(&clock, &Rotating::new("a", &clock, &fetches), &storage);
    let b = process(&clock, &Rotating::new("b", &clock, &fetches), &storage);
    let mut first = Box::pin(a.refresh());
    assert!(pending(&mut first));
    clock.advance(Duration::from_secs(1));
    block_on(first).unwrap();
    let mut forced = Box::pin(b.refresh());
    assert!(pending(&mut forced));
    clock.advance(Duration::from_secs(1));
    assert_eq!(block_on(forced).unwrap().secret().expose_secret(), "b-2");
}

#[test]
fn a_token_rejected_here_is_never_taken_back_from_storage() {
    let clock = FakeClock::new();
    let storage = MemoryStorage::new();
    let fetches = Arc::new(AtomicUsize::new(0));
    let a = process(&clock, &Rotating::new("a", &clock, &fetches), &storage);
    let mut first = Box::pin(a.headers());
    assert!(pending(&mut first));
    clock.advance(Duration::from_secs(1));
    let sent = block_on(first).unwrap();
    assert!(a.invalidate_if(&sent));
    let mut again = Box::pin(a.headers());
    assert!(
        pending(&mut again),
        "fetching, not reusing the stored rejected token"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(bearer(&block_on(again).unwrap()), "a-2");
}

/// A storage whose lease is held by someone else for ever, or fails.
#[derive(Clone, Debug)]
struct Contested {
    inner: MemoryStorage,
    fail: bool,
    leases: Arc<AtomicUsize>,
}

#[async_trait]
impl Storage for Contested {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        self.inner.load(key).await
    }
    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        self.inner.store(key, record).await
    }
    async fn remove(&self, key: &str) -> Result<()> {
        self.inner.remove(key).await
    }
    async fn lease(&self, key: &str, options: &LeaseOptions) -> Result<Option<Lease>> {
        self.leases.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Err(Error::new(ErrorKind::Storage, "connection refused").with_transient(true));
        }
        self.inner.lease(key, options).await
    }
}

fn contested(fail: bool) -> Contested {
    Contested {
        inner: MemoryStorage::new(),
        fail,
        leases: Arc::default(),
    }
}

#[test]
fn a_lease_held_too_long_is_a_transient_timeout_by_default() {
    let clock = FakeClock::new();
    let storage = contested(false);
    let options = LeaseOptions::new(Duration::ZERO, clock.clone());
    let _held_elsewhere = block_on(storage.inner.lease(KEY, &options))
        .unwrap()
        .unwrap();
    let fetches = Arc::new(AtomicUsize::new(0));
    let credentials = Credentials::builder(Rotating::new("a", &clock, &fetches))
        .with_clock(clock.clone())
        .with_storage(storage.clone(), KEY)
        .with_flight_deadline(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut waiting = Box::pin(credentials.headers());
    assert!(pending(&mut waiting));
    clock.advance(Duration::from_secs(30)); // half the deadline: the lease wait ends
    let error = block_on(waiting).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert!(error.is_transient());
    assert_eq!(fetches.load(Ordering::SeqCst), 0);
}

#[test]
fn a_lease_held_too_long_can_be_refreshed_around_when_allowed() {
    let clock = FakeClock::new();
    let storage = contested(false);
    let options = LeaseOptions::new(Duration::ZERO, clock.clone());
    let _held_elsewhere = block_on(storage.inner.lease(KEY, &options))
        .unwrap()
        .unwrap();
    let fetches = Arc::new(AtomicUsize::new(0));
    let events = Events::default();
    let credentials = Credentials::builder(Rotating::new("a", &clock, &fetches))
        .with_clock(clock.clone())
        .with_storage(storage.clone(), KEY)
        .with_flight_deadline(Duration::from_secs(60))
        .with_lease_policy(LeasePolicy::available())
        .on_refresh(events.observer())
        .build()
        .unwrap();
    let mut waiting = Box::pin(credentials.headers());
    assert!(pending(&mut waiting));
    clock.advance(Duration::from_secs(30));
    assert!(pending(&mut waiting), "fetching on its own");
    clock.advance(Duration::from_secs(1));
    assert_eq!(bearer(&block_on(waiting).unwrap()), "a-1");
    assert!(events.take().iter().any(|e| matches!(
        e,
        RefreshEvent::LeaseUnavailable {
            refreshed_locally: true,
            ..
        }
    )));
}

#[test]
fn a_failing_lease_refreshes_locally_by_default_and_fails_closed_when_asked() {
    let clock = FakeClock::new();
    let fetches = Arc::new(AtomicUsize::new(0));
    let events = Events::default();
    let open = Credentials::builder(Rotating::new("a", &clock, &fetches))
        .with_clock(clock.clone())
        .with_storage(contested(true), KEY)
        .on_refresh(events.observer())
        .build()
        .unwrap();
    let mut waiting = Box::pin(open.headers());
    assert!(pending(&mut waiting));
    clock.advance(Duration::from_secs(1));
    assert_eq!(bearer(&block_on(waiting).unwrap()), "a-1");
    assert!(events.take().iter().any(|e| matches!(
        e,
        RefreshEvent::LeaseUnavailable {
            refreshed_locally: true,
            ..
        }
    )));

    let closed = Credentials::builder(Rotating::new("b", &clock, &fetches))
        .with_clock(clock.clone())
        .with_storage(contested(true), KEY)
        .with_lease_policy(LeasePolicy::strict())
        .build()
        .unwrap();
    let error = block_on(closed.headers()).unwrap_err();
    assert_eq!(error.to_string(), "connection refused");
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "no fetch without the lease"
    );
}

/// A source that fails, or panics, or hangs.
#[derive(Debug)]
enum Bad {
    Fails,
    Panics,
    Hangs,
}

#[async_trait]
impl TokenSource for Bad {
    async fn fetch_token(&self) -> Result<AccessToken> {
        match self {
            Self::Fails => Err(Error::new(ErrorKind::TokenEndpoint, "invalid_grant")),
            Self::Panics => std::panic::panic_any("source bug"),
            Self::Hangs => futures::future::pending().await,
        }
    }
}

#[test]
fn the_lease_is_released_on_error_panic_and_cancellation() {
    for bad in [Bad::Fails, Bad::Panics, Bad::Hangs] {
        let clock = FakeClock::new();
        let storage = MemoryStorage::new();
        let hangs = matches!(bad, Bad::Hangs);
        let credentials = Credentials::builder(bad)
            .with_clock(clock.clone())
            .with_storage(storage.clone(), KEY)
            .without_retries()
            .build()
            .unwrap();
        let mut caller = Box::pin(credentials.headers());
        if hangs {
            assert!(pending(&mut caller));
            // The only caller gives up, but a grant is out: its answer may carry a rotation,
            // so the refresh keeps the lease for whoever finishes it.
            drop(caller);
            let options = LeaseOptions::new(Duration::ZERO, clock.clone());
            let taken = block_on(storage.lease(KEY, &options));
            assert!(taken.is_err(), "the lease is kept: {taken:?}");
            // With every handle gone nothing can finish it: the refresh and its lease go.
            drop(credentials);
        } else {
            assert!(block_on(caller).is_err());
        }
        let options = LeaseOptions::new(Duration::ZERO, clock.clone());
        let lease = block_on(storage.lease(KEY, &options));
        assert!(
            matches!(lease, Ok(Some(_))),
            "the lease is free again: {lease:?}"
        );
    }
}

#[test]
fn a_waiter_wakes_when_the_holder_releases() {
    let clock = FakeClock::new();
    let storage = MemoryStorage::new();
    let options = LeaseOptions::new(Duration::from_secs(30), clock.clone());
    let held = block_on(storage.lease(KEY, &options)).unwrap().unwrap();
    let mut waiter = Box::pin(storage.lease(KEY, &options));
    assert!(pending(&mut waiter));
    block_on(held.release()).unwrap();
    assert!(matches!(block_on(waiter), Ok(Some(_))));
}

/// A storage whose lease counts explicit releases, and may fail them.
#[derive(Clone, Debug, Default)]
struct Releasing {
    inner: MemoryStorage,
    releases: Arc<AtomicUsize>,
    fail: bool,
}

#[derive(Debug)]
struct CountedLease {
    releases: Arc<AtomicUsize>,
    fail: bool,
}

#[async_trait]
impl credkit_core::LeaseHandle for CountedLease {
    async fn release(self: Box<Self>) -> Result<()> {
        self.releases.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Err(Error::new(ErrorKind::Storage, "connection reset").with_transient(true));
        }
        Ok(())
    }
}

#[async_trait]
impl Storage for Releasing {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        self.inner.load(key).await
    }
    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        self.inner.store(key, record).await
    }
    async fn remove(&self, key: &str) -> Result<()> {
        self.inner.remove(key).await
    }
    async fn lease(&self, _key: &str, _options: &LeaseOptions) -> Result<Option<Lease>> {
        Ok(Some(Lease::new(CountedLease {
            releases: Arc::clone(&self.releases),
            fail: self.fail,
        })))
    }
}

#[test]
fn a_refresh_releases_its_lease_and_reports_a_release_that_failed() {
    for fail in [false, true] {
        let clock = FakeClock::new();
        let storage = Releasing {
            fail,
            ..Releasing::default()
        };
        let events = Events::default();
        let token = AccessToken::new("tok").with_lifetime(clock.now(), HOUR);
        let credentials = Credentials::builder(credkit_core::StaticSource::new(token))
            .with_clock(clock.clone())
            .with_storage(storage.clone(), KEY)
            .on_refresh(events.observer())
            .build()
            .unwrap();
        assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "tok");
        assert_eq!(storage.releases.load(Ordering::SeqCst), 1, "released once");
        let failed = events
            .take()
            .iter()
            .any(|e| matches!(e, RefreshEvent::StorageFailed { .. }));
        assert_eq!(failed, fail, "a failed release is reported, and only then");
    }
}

#[test]
fn dropping_an_old_flight_leaves_the_flight_that_replaced_it() {
    let clock = FakeClock::new();
    let credentials = Credentials::builder(Bad::Hangs)
        .with_clock(clock.clone())
        .with_storage(MemoryStorage::new(), KEY)
        .with_flight_deadline(Duration::from_secs(20))
        .without_retries()
        .build()
        .unwrap();
    let mut old = Box::pin(credentials.headers());
    assert!(
        pending(&mut old),
        "the old flight holds the lease; its fetch hangs"
    );
    clock.advance(Duration::from_secs(20)); // past its deadline; its caller is not polled again
    let mut new = Box::pin(credentials.headers());
    assert!(
        pending(&mut new),
        "a new flight replaces it and waits for the lease"
    );
    drop(new); // the new flight holds no lease yet: it stays, to be resumed
    drop(old); // the old flight's last driver: it goes, with its lease
    let debug = format!("{credentials:?}");
    assert!(debug.contains("refreshing: true"), "{debug}");
}
