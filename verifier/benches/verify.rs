//! Verifying ID tokens with warm keys (RS256, ES256; offline keys and a warm online cache), and
//! 10 000 concurrent verifications with a cold cache: the time until all are verified, and the
//! number of key fetches (the benchmark panics unless it is exactly one, and prints it).
//!
//! `cargo bench -p credkit-verifier --bench verify`
// Benchmark setup may fail loudly; these are not library paths. The fetch count is printed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use credkit_core::{Clock, SystemClock, Transport};
use credkit_testing::TestIdTokenIssuer;
use credkit_verifier::IdTokenVerifier;
use criterion::{Criterion, criterion_group, criterion_main};
use futures::executor::block_on;
use futures::future::join_all;

const AUD: &str = "https://bench.example";
const CALLERS: usize = 10_000;

/// Serves a JWK set after a few turns of the executor (so callers overlap), counting requests.
#[derive(Debug)]
struct Keys {
    body: Bytes,
    fetches: AtomicUsize,
}

#[async_trait]
impl Transport for Keys {
    async fn send(
        &self,
        _request: http::Request<Bytes>,
    ) -> credkit_core::Result<http::Response<Bytes>> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        for _ in 0..4 {
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
        let mut response = http::Response::new(self.body.clone());
        response
            .headers_mut()
            .insert(http::header::CACHE_CONTROL, "max-age=3600".parse().unwrap());
        Ok(response)
    }
}

fn online(issuer: &TestIdTokenIssuer) -> (Arc<Keys>, IdTokenVerifier) {
    let keys = Arc::new(Keys {
        body: Bytes::from(issuer.jwk_set_json()),
        fetches: AtomicUsize::new(0),
    });
    let verifier = IdTokenVerifier::builder()
        .with_audience(AUD)
        .with_keys_url("https://keys.example/jwks")
        .with_transport(Arc::clone(&keys))
        .build()
        .unwrap();
    (keys, verifier)
}

fn warm(c: &mut Criterion) {
    let issuer = TestIdTokenIssuer::generate().unwrap();
    let claims = TestIdTokenIssuer::google_claims(AUD, SystemClock.now());
    let rs = issuer.mint(&claims);
    let es = issuer.mint_es256(&claims);
    let offline = IdTokenVerifier::builder()
        .with_audience(AUD)
        .with_jwk_set(issuer.jwk_set_json())
        .build()
        .unwrap();
    let (_, online) = online(&issuer);
    block_on(online.verify(&rs)).unwrap();
    let mut group = c.benchmark_group("verify, warm keys");
    for (name, verifier) in [("offline", &offline), ("online cache", &online)] {
        group.bench_function(format!("RS256, {name}"), |b| {
            b.iter(|| black_box(block_on(verifier.verify(black_box(&rs))).unwrap()));
        });
        group.bench_function(format!("ES256, {name}"), |b| {
            b.iter(|| black_box(block_on(verifier.verify(black_box(&es))).unwrap()));
        });
    }
    group.finish();
}

fn cold(c: &mut Criterion) {
    let issuer = TestIdTokenIssuer::generate().unwrap();
    let token = issuer.mint(&TestIdTokenIssuer::google_claims(AUD, SystemClock.now()));
    let mut group = c.benchmark_group("10000 concurrent verifications, cold cache");
    group.sample_size(10);
    let mut reported = false;
    group.bench_function("RS256, 1 thread", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (keys, verifier) = online(&issuer);
                let start = Instant::now();
                let all = join_all((0..CALLERS).map(|_| verifier.verify(&token)));
                for result in block_on(all) {
                    black_box(result.unwrap());
                }
                total += start.elapsed();
                let fetches = keys.fetches.load(Ordering::SeqCst);
                assert_eq!(fetches, 1, "one fetch for {CALLERS} callers");
                if !reported {
                    eprintln!("key fetches for {CALLERS} concurrent verifications: {fetches}");
                    reported = true;
                }
            }
            total
        });
    });
    group.finish();
}

criterion_group!(benches, warm, cold);
criterion_main!(benches);
