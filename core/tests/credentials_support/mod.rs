//! Helpers shared by the `credentials*` integration tests.
// Test helpers: each test binary uses a different subset, and a broken helper should fail loudly.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::panic)]

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::http::HeaderMap;
use credkit_core::{
    AccessToken, Clock, Error, ErrorKind, RefreshEvent, Result, Storage as _, TokenSource,
};
use credkit_testing::FakeClock;
use futures::future::BoxFuture;

pub const HOUR: Duration = Duration::from_secs(3600);

/// A source with a script: each fetch waits `delay` on the fake clock, then answers the next
/// scripted result, or `tok-N` (the N-th fetch) valid for an hour when the script is empty.
#[derive(Debug)]
pub struct TestSource {
    clock: FakeClock,
    delay: Duration,
    fetches: AtomicUsize,
    script: Mutex<VecDeque<Result<AccessToken>>>,
}

impl TestSource {
    pub fn new(clock: &FakeClock) -> Arc<Self> {
        Self::with_delay(clock, Duration::ZERO)
    }

    pub fn with_delay(clock: &FakeClock, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            clock: clock.clone(),
            delay,
            fetches: AtomicUsize::new(0),
            script: Mutex::new(VecDeque::new()),
        })
    }

    /// Queues the answer to a coming fetch.
    pub fn then(&self, result: Result<AccessToken>) -> &Self {
        self.script.lock().unwrap().push_back(result);
        self
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenSource for TestSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        if !self.delay.is_zero() {
            self.clock.sleep(self.delay).await;
        }
        let scripted = self.script.lock().unwrap().pop_front();
        scripted.unwrap_or_else(|| {
            Ok(AccessToken::new(format!("tok-{n}")).with_lifetime(self.clock.now(), HOUR))
        })
    }

    fn name(&self) -> &'static str {
        "test source"
    }
}

/// A permanent token-endpoint style failure.
pub fn permanent() -> Error {
    Error::new(ErrorKind::TokenEndpoint, "invalid_grant")
}

/// A transient failure.
pub fn transient() -> Error {
    Error::new(ErrorKind::Transport, "connection reset").with_transient(true)
}

/// The token in an `authorization` header, without `Bearer `.
pub fn bearer(headers: &HeaderMap) -> &str {
    headers["authorization"]
        .to_str()
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap()
}

/// A spawner that queues futures for the test to run when it chooses.
#[derive(Clone, Default)]
pub struct QueueSpawner {
    queue: Arc<Mutex<Vec<BoxFuture<'static, ()>>>>,
}

impl QueueSpawner {
    pub fn spawner(&self) -> impl credkit_core::Spawner + 'static {
        let queue = Arc::clone(&self.queue);
        credkit_core::spawn_fn(move |future| queue.lock().unwrap().push(future))
    }

    pub fn len(&self) -> usize {
        self.queue.lock().unwrap().len()
    }

    /// Runs every queued future to completion, in order.
    pub fn run_all(&self) {
        let futures: Vec<_> = self.queue.lock().unwrap().drain(..).collect();
        for future in futures {
            futures::executor::block_on(future);
        }
    }

    /// Drops every queued future unrun (a runtime shutting down).
    pub fn drop_all(&self) {
        self.queue.lock().unwrap().clear();
    }
}

/// Records observer events.
#[derive(Clone, Default)]
pub struct Events(Arc<Mutex<Vec<RefreshEvent>>>);

impl Events {
    pub fn observer(&self) -> impl Fn(&RefreshEvent) + Send + Sync + 'static {
        let events = Arc::clone(&self.0);
        move |event: &RefreshEvent| events.lock().unwrap().push(event.clone())
    }

    pub fn take(&self) -> Vec<RefreshEvent> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A `tracing` subscriber that writes every event's fields into one string.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<String>>);

impl Captured {
    pub fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
}

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for Captured {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = self.0.lock().unwrap();
        let _ = write!(text, "{} ", event.metadata().level());
        event.record(&mut Fields(&mut text));
        text.push('\n');
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// A token endpoint in strict-rotation mode, shared by every "process": each grant must present
/// the current refresh token, which it rotates; a rotated-away one gets `invalid_grant`.
#[derive(Debug, Default)]
pub struct StrictEndpoint {
    state: Mutex<EndpointState>,
}

#[derive(Debug, Default)]
struct EndpointState {
    /// The number of the current refresh token (`rt-N`).
    current: usize,
    /// Every refresh token a grant presented, in order.
    presented: Vec<String>,
    /// Grants that presented a rotated-away token.
    refused: usize,
}

impl StrictEndpoint {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The refresh token the endpoint accepts now.
    pub fn current(&self) -> String {
        format!("rt-{}", self.state.lock().unwrap().current)
    }

    pub fn presented(&self) -> Vec<String> {
        self.state.lock().unwrap().presented.clone()
    }

    pub fn grants(&self) -> usize {
        self.state.lock().unwrap().presented.len()
    }

    /// How many grants presented a rotated-away refresh token.
    pub fn refused(&self) -> usize {
        self.state.lock().unwrap().refused
    }

    /// Receives a grant: rotates and returns the new refresh token's number, or refuses.
    fn grant(&self, presented: &str) -> Option<usize> {
        let mut state = self.state.lock().unwrap();
        state.presented.push(presented.to_owned());
        if presented != format!("rt-{}", state.current) {
            state.refused += 1;
            return None;
        }
        state.current += 1;
        Some(state.current)
    }
}

/// One process's source for a [`StrictEndpoint`], holding its refresh token as a real provider
/// does: the grant is sent (and rotates at the endpoint) at once, its answer arrives `latency`
/// later on the fake clock, and only then does the source learn the new refresh token.
#[derive(Debug)]
pub struct StrictSource {
    clock: FakeClock,
    endpoint: Arc<StrictEndpoint>,
    latency: Duration,
    refresh_token: Mutex<String>,
}

impl StrictSource {
    pub fn new(clock: &FakeClock, endpoint: &Arc<StrictEndpoint>, latency: Duration) -> Arc<Self> {
        Arc::new(Self {
            clock: clock.clone(),
            endpoint: Arc::clone(endpoint),
            latency,
            refresh_token: Mutex::new("rt-0".to_owned()),
        })
    }

    /// The refresh token this source would present next.
    pub fn refresh_token(&self) -> String {
        self.refresh_token.lock().unwrap().clone()
    }
}

#[async_trait]
impl TokenSource for StrictSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let presented = self.refresh_token();
        let sent_at = self.clock.now();
        let granted = self.endpoint.grant(&presented);
        if !self.latency.is_zero() {
            self.clock.sleep(self.latency).await;
        }
        let Some(n) = granted else {
            return Err(permanent());
        };
        let rotated = format!("rt-{n}");
        rotated.clone_into(&mut self.refresh_token.lock().unwrap());
        Ok(AccessToken::new(format!("at-{n}"))
            .with_lifetime(sent_at, HOUR)
            .with_rotated_refresh_token(secrecy::SecretString::from(rotated)))
    }

    fn name(&self) -> &'static str {
        "strict rotation"
    }

    fn adopt_record(&self, record: &credkit_core::CredentialRecord) {
        use secrecy::ExposeSecret as _;
        if let Some(stored) = record.refresh_token() {
            stored
                .expose_secret()
                .clone_into(&mut self.refresh_token.lock().unwrap());
        }
    }
}

/// What [`FaultStore`] does with the next `store` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreFault {
    Works,
    Fails,
    Hangs,
    Panics,
}

/// A `MemoryStorage` (lease included) whose stores fail, hang or panic on demand, and whose
/// lease may take `slow_lease` on the clock after it was taken (as a lock taken on a blocking
/// pool whose result waits to be polled): dropping the lease's future then drops the lease.
#[derive(Clone, Debug)]
pub struct FaultStore {
    pub inner: credkit_core::MemoryStorage,
    clock: FakeClock,
    store: Arc<Mutex<StoreFault>>,
    slow_lease: Arc<Mutex<Duration>>,
    stores: Arc<AtomicUsize>,
    /// Every load fails for good (an unreadable record).
    corrupt: Arc<std::sync::atomic::AtomicBool>,
    /// Every lease taken reports itself lapsed (as one whose time to live ran out).
    lapsed: Arc<std::sync::atomic::AtomicBool>,
}

impl FaultStore {
    pub fn new(clock: &FakeClock) -> Self {
        Self {
            inner: credkit_core::MemoryStorage::new(),
            clock: clock.clone(),
            store: Arc::new(Mutex::new(StoreFault::Works)),
            slow_lease: Arc::new(Mutex::new(Duration::ZERO)),
            stores: Arc::new(AtomicUsize::new(0)),
            corrupt: Arc::default(),
            lapsed: Arc::default(),
        }
    }

    /// Every lease taken, held now or later, reports itself lapsed from now on (or no longer).
    pub fn set_lapsed(&self, lapsed: bool) {
        self.lapsed.store(lapsed, Ordering::SeqCst);
    }

    /// Every load fails for good from now on (or no longer).
    pub fn set_corrupt(&self, corrupt: bool) {
        self.corrupt.store(corrupt, Ordering::SeqCst);
    }

    pub fn set_store(&self, fault: StoreFault) {
        *self.store.lock().unwrap() = fault;
    }

    pub fn set_slow_lease(&self, delay: Duration) {
        *self.slow_lease.lock().unwrap() = delay;
    }

    /// How many `store` calls were made (whatever they did).
    pub fn stores(&self) -> usize {
        self.stores.load(Ordering::SeqCst)
    }

    /// The refresh token stored under `key`.
    pub fn refresh_token(&self, key: &str) -> Option<String> {
        use secrecy::ExposeSecret as _;
        let record = futures::executor::block_on(self.inner.load(key)).unwrap()?;
        record
            .refresh_token()
            .map(|rt| rt.expose_secret().to_owned())
    }

    /// Whether the lease on `key` is free: taken and given back at once.
    pub fn lease_is_free(&self, key: &str) -> bool {
        use futures::FutureExt as _;
        let options = credkit_core::LeaseOptions::new(Duration::ZERO, self.clock.clone());
        match self.inner.lease(key, &options).now_or_never() {
            Some(Ok(Some(lease))) => {
                drop(lease);
                true
            }
            _ => false,
        }
    }
}

#[async_trait]
impl credkit_core::Storage for FaultStore {
    async fn load(&self, key: &str) -> Result<Option<credkit_core::CredentialRecord>> {
        if self.corrupt.load(Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::Storage, "not a credential record"));
        }
        self.inner.load(key).await
    }

    async fn store(&self, key: &str, record: &credkit_core::CredentialRecord) -> Result<()> {
        self.stores.fetch_add(1, Ordering::SeqCst);
        let fault = *self.store.lock().unwrap();
        match fault {
            StoreFault::Works => self.inner.store(key, record).await,
            StoreFault::Fails => {
                Err(Error::new(ErrorKind::Storage, "disk full").with_transient(true))
            }
            StoreFault::Hangs => futures::future::pending().await,
            StoreFault::Panics => panic!("store bug"),
        }
    }

    async fn remove(&self, key: &str) -> Result<()> {
        self.inner.remove(key).await
    }

    async fn lease(
        &self,
        key: &str,
        options: &credkit_core::LeaseOptions,
    ) -> Result<Option<credkit_core::Lease>> {
        let lease = self.inner.lease(key, options).await?;
        let delay = *self.slow_lease.lock().unwrap();
        if !delay.is_zero() {
            self.clock.sleep(delay).await;
        }
        Ok(lease.map(|lease| {
            credkit_core::Lease::new(Lapsable {
                lease,
                lapsed: Arc::clone(&self.lapsed),
            })
        }))
    }
}

/// A lease that reports itself lapsed when its store says so (`FaultStore::set_lapsed`).
#[derive(Debug)]
struct Lapsable {
    lease: credkit_core::Lease,
    lapsed: Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait]
impl credkit_core::LeaseHandle for Lapsable {
    async fn release(self: Box<Self>) -> Result<()> {
        self.lease.release().await
    }

    fn is_held(&self) -> bool {
        self.lease.is_held() && !self.lapsed.load(Ordering::SeqCst)
    }
}

/// A spawner whose tasks the test polls once at a time, as a runtime would when woken.
#[derive(Clone, Default)]
pub struct QueueSpawnerPolled {
    queue: Arc<Mutex<Vec<BoxFuture<'static, ()>>>>,
}

impl QueueSpawnerPolled {
    pub fn spawner(&self) -> impl credkit_core::Spawner + 'static {
        let queue = Arc::clone(&self.queue);
        credkit_core::spawn_fn(move |future| queue.lock().unwrap().push(future))
    }

    pub fn len(&self) -> usize {
        self.queue.lock().unwrap().len()
    }

    /// Drops every task, as a runtime shutting down does.
    pub fn drop_all(&self) {
        let tasks: Vec<_> = self.queue.lock().unwrap().drain(..).collect();
        drop(tasks);
    }

    /// Polls every task once; keeps those still pending.
    pub fn poll_all(&self) {
        use futures::FutureExt as _;
        let tasks: Vec<_> = self.queue.lock().unwrap().drain(..).collect();
        let mut still = Vec::new();
        for mut task in tasks {
            let waker = futures::task::noop_waker_ref();
            if task
                .poll_unpin(&mut std::task::Context::from_waker(waker))
                .is_pending()
            {
                still.push(task);
            }
        }
        self.queue.lock().unwrap().extend(still);
    }
}
