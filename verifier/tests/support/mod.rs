//! Shared helpers of the verifier's integration tests.
// Test helpers: each binary uses some of them, and a failed setup is a failed test.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use bytes::Bytes;
use credkit_core::{Clock, Transport};
use credkit_testing::{FakeClock, TestIdTokenIssuer};
use credkit_verifier::{IdTokenVerifier, IdTokenVerifierBuilder, VerifyError};
use serde_json::Value;

pub const AUD: &str = "https://svc.example";

/// One issuer per test binary: RSA-2048 generation is slow, and every test may share it.
pub fn issuer() -> &'static TestIdTokenIssuer {
    static ISSUER: OnceLock<TestIdTokenIssuer> = OnceLock::new();
    ISSUER.get_or_init(|| TestIdTokenIssuer::generate().unwrap())
}

/// A second issuer, for keys the verifier does not know.
pub fn stranger() -> &'static TestIdTokenIssuer {
    static ISSUER: OnceLock<TestIdTokenIssuer> = OnceLock::new();
    ISSUER.get_or_init(|| TestIdTokenIssuer::generate().unwrap())
}

pub fn claims(clock: &FakeClock) -> Value {
    TestIdTokenIssuer::google_claims(AUD, clock.now())
}

pub fn offline_builder(clock: &FakeClock) -> IdTokenVerifierBuilder {
    IdTokenVerifier::builder()
        .with_audience(AUD)
        .with_jwk_set(issuer().jwk_set_json())
        .with_clock(clock.clone())
}

pub fn offline(clock: &FakeClock) -> IdTokenVerifier {
    offline_builder(clock).build().unwrap()
}

/// Asserts the error's message and `Debug` repeat neither the token nor any segment of it.
pub fn assert_clean(err: &VerifyError, token: &str) {
    let shown = format!("{err} {err:?} {}", credkit_core::Error::from(err.clone()));
    assert!(!token.is_empty() && !shown.contains(token), "{shown}");
    for segment in token.split('.').filter(|s| s.len() > 16) {
        assert!(!shown.contains(segment), "a segment leaked: {shown}");
    }
    assert!(!shown.contains('\n'), "{shown}");
}

/// A transport answering every request with one keys document, counting the requests. When
/// `hang_first` is set, the first request never completes.
#[derive(Debug)]
pub struct MemoryKeys {
    body: std::sync::Mutex<String>,
    cache_control: Option<&'static str>,
    status: AtomicU16,
    pub requests: AtomicUsize,
    hang_first: bool,
}

impl MemoryKeys {
    pub fn new(body: String, cache_control: Option<&'static str>) -> Arc<Self> {
        Arc::new(Self {
            body: std::sync::Mutex::new(body),
            cache_control,
            status: AtomicU16::new(200),
            requests: AtomicUsize::new(0),
            hang_first: false,
        })
    }

    pub fn hanging_first(body: String) -> Arc<Self> {
        Arc::new(Self {
            body: std::sync::Mutex::new(body),
            cache_control: None,
            status: AtomicU16::new(200),
            requests: AtomicUsize::new(0),
            hang_first: true,
        })
    }

    pub fn failing(status: u16) -> Arc<Self> {
        Arc::new(Self {
            body: std::sync::Mutex::new("oops".into()),
            cache_control: None,
            status: AtomicU16::new(status),
            requests: AtomicUsize::new(0),
            hang_first: false,
        })
    }

    pub fn set_body(&self, body: String) {
        *self.body.lock().unwrap() = body;
    }

    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    pub fn count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Transport for MemoryKeys {
    async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> credkit_core::Result<http::Response<Bytes>> {
        assert_eq!(request.method(), http::Method::GET);
        let n = self.requests.fetch_add(1, Ordering::SeqCst);
        if self.hang_first && n == 0 {
            std::future::pending::<()>().await;
        }
        // Take a few turns of the scheduler, so that concurrent callers really overlap.
        for _ in 0..4 {
            yield_once().await;
        }
        let body = self.body.lock().unwrap().clone();
        let mut response = http::Response::new(Bytes::from(body));
        *response.status_mut() =
            http::StatusCode::from_u16(self.status.load(Ordering::SeqCst)).unwrap();
        if let Some(value) = self.cache_control {
            response
                .headers_mut()
                .insert(http::header::CACHE_CONTROL, value.parse().unwrap());
        }
        Ok(response)
    }
}

/// A future pending on its first poll (waking itself), ready on the second: a yield without a
/// runtime.
pub async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}
