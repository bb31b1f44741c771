//! Helpers shared by the `credentials*` integration tests.
// Test helpers: each test binary uses a different subset, and a broken helper should fail loudly.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::http::HeaderMap;
use credkit_core::{AccessToken, Clock, Error, ErrorKind, RefreshEvent, Result, TokenSource};
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
        move |future| queue.lock().unwrap().push(future)
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
