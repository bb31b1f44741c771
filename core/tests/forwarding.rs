//! The forwarding impls (`&T`, `Box<T>`, `Arc<T>`, from `forward_impls!`, and `Retrying<S>`)
//! pass every method through, provided ones included: a wrapper that answered with the trait's
//! default instead would silently drop a source's stored token, its name in errors, a store's
//! lease, or a test clock's timeouts.

// Setup helpers outside `#[test]` functions unwrap too: a broken setup should fail loudly.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use credkit_core::bytes::Bytes;
use credkit_core::time::OffsetDateTime;
use credkit_core::time::macros::datetime;
use credkit_core::{
    AccessToken, Clock, CredentialRecord, Credentials, LeaseOptions, MemoryStorage, Result,
    RetryPolicy, Retrying, Spawner, StaticSource, Storage, TokenSource, TokenState, Transport,
};
use credkit_testing::FakeClock;
use futures::executor::block_on;
use futures::future::{BoxFuture, FutureExt as _};
use secrecy::ExposeSecret;

/// A source whose every method answers something other than the trait's default.
#[derive(Debug, Default)]
struct Recording {
    adopted: Mutex<Vec<String>>,
}

#[async_trait]
impl TokenSource for Recording {
    async fn fetch_token(&self) -> Result<AccessToken> {
        Ok(AccessToken::new("fetched"))
    }

    fn name(&self) -> &'static str {
        "recording"
    }

    fn initial_token(&self) -> Option<AccessToken> {
        Some(AccessToken::new("stored").with_expiry(datetime!(2029-01-01 0:00 UTC)))
    }

    fn adopt_record(&self, record: &CredentialRecord) {
        let token = record.access_token().unwrap();
        self.adopted
            .lock()
            .unwrap()
            .push(token.secret().expose_secret().to_owned());
    }

    fn clock(&self) -> Option<Arc<dyn Clock>> {
        Some(Arc::new(FakeClock::at(datetime!(2030-01-01 0:00 UTC))))
    }

    fn retry_policy(&self) -> Option<RetryPolicy> {
        Some(RetryPolicy::default().with_max_attempts(7))
    }

    fn quota_project(&self) -> Option<&str> {
        Some("billing")
    }
}

fn check_source(wrapped: &dyn TokenSource, inner: &Recording, label: &str) {
    assert_eq!(wrapped.name(), "recording", "{label}");
    let stored = wrapped.initial_token().unwrap();
    assert_eq!(stored.secret().expose_secret(), "stored", "{label}");
    let fetched = block_on(wrapped.fetch_token()).unwrap();
    assert_eq!(fetched.secret().expose_secret(), "fetched", "{label}");
    let record = CredentialRecord::new().with_access_token(&AccessToken::new(label.to_owned()));
    wrapped.adopt_record(&record);
    assert_eq!(inner.adopted.lock().unwrap().last().unwrap(), label);
    let clock = wrapped.clock().unwrap();
    assert_eq!(clock.now(), datetime!(2030-01-01 0:00 UTC), "{label}");
    let policy = wrapped.retry_policy().unwrap();
    assert_eq!(policy.max_attempts(), 7, "{label}");
    assert_eq!(wrapped.quota_project(), Some("billing"), "{label}");
}

#[test]
fn credentials_bill_the_sources_quota_project_unless_given_one() {
    let clock = FakeClock::at(datetime!(2028-01-01 0:00 UTC));
    let credentials = Credentials::builder(Recording::default())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(credentials.quota_project(), Some("billing"));
    let headers = block_on(credentials.headers()).unwrap();
    assert_eq!(headers["x-goog-user-project"], "billing");
    let credentials = Credentials::builder(Recording::default())
        .with_quota_project("mine")
        .build()
        .unwrap();
    assert_eq!(credentials.quota_project(), Some("mine"));
    // `new` takes the same defaults from the source, its held token included.
    let credentials = Credentials::new(Recording::default());
    assert_eq!(credentials.quota_project(), Some("billing"));
    assert_eq!(credentials.token_state(), TokenState::Invalid); // by the source's 2030 clock
}

#[test]
fn credentials_read_the_time_by_the_sources_clock() {
    // The seed expires in 2029: by the source's clock (2030) it is expired, by a builder's own
    // clock (2028) it is fresh.
    let credentials = Credentials::builder(Recording::default()).build().unwrap();
    assert_eq!(credentials.token_state(), TokenState::Invalid);
    let credentials = Credentials::builder(Recording::default())
        .with_clock(FakeClock::at(datetime!(2028-01-01 0:00 UTC)))
        .build()
        .unwrap();
    assert_eq!(credentials.token_state(), TokenState::Fresh);
}

#[test]
fn token_source_wrappers_forward_every_method() {
    let inner = Recording::default();
    check_source(&&inner, &inner, "&T");
    check_source(&Box::new(&inner), &inner, "Box<T>");
    check_source(&Arc::new(&inner), &inner, "Arc<T>");
    let clock = FakeClock::new();
    let retrying = Retrying::new(&inner, RetryPolicy::default(), Arc::new(clock));
    check_source(&retrying, &inner, "Retrying<S>");
    assert_eq!(inner.adopted.lock().unwrap().len(), 4);
}

#[test]
fn retrying_keeps_its_policy() {
    let policy = RetryPolicy::default().with_max_attempts(9);
    let retrying = Retrying::new(
        StaticSource::new(AccessToken::new("t")),
        policy,
        Arc::new(FakeClock::new()),
    );
    assert_eq!(retrying.policy().max_attempts(), 9);
}

#[test]
fn the_default_name_is_the_type_name() {
    #[derive(Debug)]
    struct Plain;

    #[async_trait]
    impl TokenSource for Plain {
        async fn fetch_token(&self) -> Result<AccessToken> {
            Ok(AccessToken::new("t"))
        }
    }

    assert!(Plain.name().ends_with("Plain"), "{}", Plain.name());
    assert!(Plain.initial_token().is_none());
    assert_eq!(
        StaticSource::new(AccessToken::new("t")).name(),
        "static token"
    );
}

fn check_storage(wrapped: &dyn Storage, inner: &MemoryStorage, label: &str) {
    let record = CredentialRecord::new().with_access_token(&AccessToken::new(label.to_owned()));
    block_on(wrapped.store("key", &record)).unwrap();
    let direct = block_on(inner.load("key")).unwrap().unwrap();
    let token = direct.access_token().unwrap();
    assert_eq!(token.secret().expose_secret(), label);

    let loaded = block_on(wrapped.load("key")).unwrap().unwrap();
    let token = loaded.access_token().unwrap();
    assert_eq!(token.secret().expose_secret(), label);

    let options = LeaseOptions::new(Duration::ZERO, FakeClock::new());
    let lease = block_on(wrapped.lease("key", &options)).unwrap();
    assert!(lease.is_some_and(|lease| lease.is_held()), "{label}");

    block_on(wrapped.remove("key")).unwrap();
    assert!(block_on(inner.load("key")).unwrap().is_none(), "{label}");
    assert!(block_on(wrapped.load("key")).unwrap().is_none(), "{label}");
}

#[test]
fn storage_wrappers_forward_every_method() {
    let inner = MemoryStorage::new();
    check_storage(&&inner, &inner, "&T");
    check_storage(&Box::new(&inner), &inner, "Box<T>");
    check_storage(&Arc::new(&inner), &inner, "Arc<T>");
}

/// A clock whose every method answers something of its own: `timeout` and `system_time`
/// differ from what their defaults would make of `sleep` and `now`.
#[derive(Debug, Default)]
struct Marked {
    sleeps: AtomicUsize,
    timeouts: AtomicUsize,
}

impl Clock for Marked {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH
    }

    fn sleep(&self, _duration: Duration) -> BoxFuture<'static, ()> {
        self.sleeps.fetch_add(1, Ordering::SeqCst);
        futures::future::ready(()).boxed()
    }

    fn timeout(&self, _duration: Duration) -> BoxFuture<'static, ()> {
        self.timeouts.fetch_add(1, Ordering::SeqCst);
        futures::future::ready(()).boxed()
    }

    fn system_time(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(7)
    }
}

fn check_clock(wrapped: &dyn Clock, inner: &Marked, label: &str) {
    let (sleeps, timeouts) = (
        inner.sleeps.load(Ordering::SeqCst),
        inner.timeouts.load(Ordering::SeqCst),
    );
    assert_eq!(wrapped.now(), OffsetDateTime::UNIX_EPOCH, "{label}");
    assert_eq!(
        wrapped.system_time(),
        SystemTime::UNIX_EPOCH + Duration::from_secs(7),
        "{label}"
    );
    block_on(wrapped.sleep(Duration::ZERO));
    block_on(wrapped.timeout(Duration::ZERO));
    assert_eq!(inner.sleeps.load(Ordering::SeqCst), sleeps + 1, "{label}");
    assert_eq!(
        inner.timeouts.load(Ordering::SeqCst),
        timeouts + 1,
        "{label}"
    );
}

#[test]
fn clock_wrappers_forward_every_method() {
    let inner = Marked::default();
    check_clock(&&inner, &inner, "&T");
    check_clock(&Box::new(&inner), &inner, "Box<T>");
    check_clock(&Arc::new(&inner), &inner, "Arc<T>");
    let shared: Arc<dyn Clock> = Arc::new(Marked::default());
    assert_eq!(
        Arc::new(shared).system_time(),
        SystemTime::UNIX_EPOCH + Duration::from_secs(7)
    );
}

/// A transport that answers with the path it was sent to.
#[derive(Debug)]
struct Echo;

#[async_trait]
impl Transport for Echo {
    async fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>> {
        Ok(http::Response::new(Bytes::from(
            request.uri().path().to_owned(),
        )))
    }
}

#[test]
fn transport_wrappers_forward() {
    let check = |wrapped: &dyn Transport, label: &str| {
        let request = http::Request::get(format!("https://example.test/{label}"))
            .body(Bytes::new())
            .unwrap();
        let response = block_on(wrapped.send(request)).unwrap();
        assert_eq!(response.body(), &format!("/{label}"));
    };
    check(&&Echo, "ref");
    check(&Box::new(Echo), "box");
    check(&Arc::new(Echo), "arc");
    let shared: Arc<dyn Transport> = Arc::new(Echo);
    check(&Box::new(shared), "box-of-arc-dyn");
}

/// A spawner that counts what it is given and runs it at once.
#[derive(Debug, Default)]
struct Counting(AtomicUsize);

impl Spawner for Counting {
    fn spawn(&self, future: BoxFuture<'static, ()>) {
        self.0.fetch_add(1, Ordering::SeqCst);
        block_on(future);
    }
}

#[test]
fn spawner_wrappers_forward() {
    let inner = Counting::default();
    let check = |wrapped: &dyn Spawner| {
        let ran = Arc::new(AtomicUsize::new(0));
        let flag = Arc::clone(&ran);
        wrapped.spawn(Box::pin(async move {
            flag.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    };
    check(&&inner);
    check(&Box::new(&inner));
    check(&Arc::new(&inner));
    assert_eq!(inner.0.load(Ordering::SeqCst), 3);
}

/// Refuses every fetch with a transient error, counting the calls, and names a retry policy.
#[derive(Debug)]
struct Refusing {
    calls: AtomicUsize,
    attempts: u32,
}

#[async_trait]
impl TokenSource for Refusing {
    async fn fetch_token(&self) -> Result<AccessToken> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(credkit_core::Error::transport(
            credkit_core::TransportFailure::Connect,
            "connection refused",
        ))
    }

    fn retry_policy(&self) -> Option<RetryPolicy> {
        Some(
            RetryPolicy::default()
                .with_max_attempts(self.attempts)
                .with_initial_wait(Duration::ZERO),
        )
    }
}

#[test]
fn credentials_retry_by_the_sources_policy_unless_given_one() {
    let attempts_with = |builder: fn(Arc<Refusing>) -> credkit_core::CredentialsBuilder| {
        let source = Arc::new(Refusing {
            calls: AtomicUsize::new(0),
            attempts: 5,
        });
        let credentials = builder(Arc::clone(&source)).build().unwrap();
        assert!(block_on(credentials.refresh()).is_err());
        source.calls.load(Ordering::SeqCst)
    };
    assert_eq!(attempts_with(Credentials::builder), 5);
    assert_eq!(
        attempts_with(|s| Credentials::builder(s).without_retries()),
        1
    );
    assert_eq!(
        attempts_with(|s| Credentials::builder(s).with_retry_policy(
            RetryPolicy::default()
                .with_max_attempts(2)
                .with_initial_wait(Duration::ZERO)
        )),
        2
    );
}
