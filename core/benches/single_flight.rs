//! Single flight under load: 10 000 concurrent callers find the token invalid at once; the
//! source takes 1 ms. Measures the total time until every caller has its headers, and checks
//! that exactly one fetch ran (the benchmark panics otherwise).
//!
//! `cargo bench -p credkit-core --bench single_flight`
// Benchmark setup may fail loudly; these are not library paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use credkit_core::{AccessToken, Clock, Credentials, Result, SystemClock, TokenSource};
use criterion::{Criterion, criterion_group, criterion_main};
use futures::future::join_all;

const CALLERS: usize = 10_000;

/// A source that takes 1 ms (a real timer, no runtime needed) and counts its fetches.
#[derive(Debug, Default)]
struct Slow {
    fetches: AtomicUsize,
}

#[async_trait]
impl TokenSource for Slow {
    async fn fetch_token(&self) -> Result<AccessToken> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        futures_timer::Delay::new(Duration::from_millis(1)).await;
        Ok(AccessToken::new("ya29.single-flight")
            .with_lifetime(SystemClock.now(), Duration::from_secs(3600)))
    }
}

fn fresh() -> (Arc<Slow>, Credentials) {
    let source = Arc::new(Slow::default());
    let credentials = Credentials::builder(Arc::clone(&source)).build().unwrap();
    (source, credentials)
}

/// Every caller of one thread's share as a future, all joined on that thread.
fn callers(credentials: &Credentials, count: usize) {
    let all = join_all((0..count).map(|_| credentials.headers()));
    for headers in futures::executor::block_on(all) {
        black_box(headers.unwrap());
    }
}

fn single_flight(c: &mut Criterion) {
    let mut group = c.benchmark_group("10000 callers, invalid token, 1 ms source");
    group.sample_size(20);
    group.bench_function("1 thread", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (source, credentials) = fresh();
                let start = Instant::now();
                callers(&credentials, CALLERS);
                total += start.elapsed();
                assert_eq!(source.fetches.load(Ordering::SeqCst), 1);
            }
            total
        });
    });
    group.bench_function("2 threads", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (source, credentials) = fresh();
                let barrier = Barrier::new(2);
                let start = Instant::now();
                std::thread::scope(|scope| {
                    for _ in 0..2 {
                        scope.spawn(|| {
                            barrier.wait();
                            callers(&credentials, CALLERS / 2);
                        });
                    }
                });
                total += start.elapsed();
                assert_eq!(source.fetches.load(Ordering::SeqCst), 1);
            }
            total
        });
    });
    group.finish();
}

criterion_group!(benches, single_flight);
criterion_main!(benches);
