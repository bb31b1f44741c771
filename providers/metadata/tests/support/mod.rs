//! Helpers shared by the integration tests.
// Each test binary uses a different subset; helpers may unwrap, as tests do.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use credkit_core::{Clock, Error, Result, Transport, TransportFailure};
use credkit_metadata::{MetadataCredentials, MetadataServer};
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{FakeClock, FakeMetadataServer};
use time::OffsetDateTime;

/// The real transport: loopback only, as every test here talks to a loopback fake.
pub fn transport() -> ReqwestTransport {
    ReqwestTransport::new().unwrap()
}

/// A client of `fake` (through both variables) on `clock`.
pub fn server_on(fake: &FakeMetadataServer, clock: impl Clock + 'static) -> MetadataServer {
    MetadataServer::builder()
        .with_env(fake.env())
        .with_transport(transport())
        .with_clock(clock)
        .build()
        .unwrap()
}

/// Token credentials of `fake`'s default account on `clock`.
pub fn credentials_on(
    fake: &FakeMetadataServer,
    clock: impl Clock + 'static,
) -> MetadataCredentials {
    MetadataCredentials::builder()
        .with_env(fake.env())
        .with_transport(transport())
        .with_clock(clock)
        .build()
        .unwrap()
}

/// Waits (without sleeping) until `ready` holds, yielding to the runtime in between.
pub async fn until(mut ready: impl FnMut() -> bool) {
    for _ in 0..100_000 {
        if ready() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the condition never held");
}

/// A transport that refuses connections (as a server not yet listening does) until `until` on
/// `clock`, then hands requests to `inner`; it counts the refusals.
#[derive(Debug, Clone)]
pub struct RefusingUntil<T> {
    pub clock: FakeClock,
    pub until: OffsetDateTime,
    pub inner: T,
    pub refused: Arc<AtomicUsize>,
}

impl<T> RefusingUntil<T> {
    pub fn new(clock: &FakeClock, refuse_for: Duration, inner: T) -> Self {
        Self {
            clock: clock.clone(),
            until: clock.now() + refuse_for,
            inner,
            refused: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl<T: Transport> Transport for RefusingUntil<T> {
    async fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>> {
        if self.clock.now() < self.until {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(Error::transport(
                TransportFailure::Connect,
                "connection refused (the metadata server is starting)",
            ));
        }
        self.inner.send(request).await
    }
}

/// A transport that fails every request with `error`, counting them.
#[derive(Debug, Clone)]
pub struct Failing {
    pub error: Error,
    pub calls: Arc<AtomicUsize>,
}

impl Failing {
    pub fn new(error: Error) -> Self {
        Self {
            error,
            calls: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Transport for Failing {
    async fn send(&self, _request: http::Request<Bytes>) -> Result<http::Response<Bytes>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(self.error.clone())
    }
}
