//! `get_credential()` with a fresh cached token: this crate's provider, `object_store`'s own
//! static provider (the floor of the trait: a boxed future and an `Arc` clone), and a naive
//! provider making a new credential per call; what the provider's time is made of (core's
//! `Credentials::access_token()` alone, and `apply()` for comparison); single-threaded, and 2
//! threads at once.
//!
//! `cargo bench -p credkit-object-store --bench provider`
// Benchmark setup may fail loudly; these are not library paths.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use credkit_object_store::GcsCredentialProvider;
use criterion::{Criterion, criterion_group, criterion_main};
use futures::FutureExt;
use object_store::StaticCredentialProvider;
use object_store::gcp::GcpCredential;

use support::{Naive, TOKEN, credentials, one};

fn provider(c: &mut Criterion) {
    let mut group = c.benchmark_group("get_credential, fresh token");
    let floor = StaticCredentialProvider::new(GcpCredential {
        bearer: TOKEN.to_owned(),
    });
    group.bench_function("object_store's StaticCredentialProvider (floor)", |b| {
        b.iter(|| black_box(one(&floor)));
    });
    let ours = GcsCredentialProvider::new(credentials());
    group.bench_function("GcsCredentialProvider", |b| {
        b.iter(|| black_box(one(&ours)));
    });
    let naive = Naive(credentials());
    group.bench_function("a new Arc<GcpCredential> per call (naive)", |b| {
        b.iter(|| black_box(one(&naive)));
    });

    // What the provider's time is made of: core's `access_token()` alone, and for comparison
    // `apply()`, whose fresh-token path reads the coarse clock and clones no `Arc`.
    let alone = credentials();
    group.bench_function("Credentials::access_token() alone", |b| {
        b.iter(|| black_box(alone.access_token().now_or_never().unwrap().unwrap()));
    });
    let mut headers = http::HeaderMap::with_capacity(2);
    group.bench_function("Credentials::apply() alone (core's fast path)", |b| {
        b.iter(|| black_box(alone.apply(&mut headers).unwrap()));
    });

    // Two threads (one per core here) calling the one provider at once: the time per call on each
    // thread.
    let shared = Arc::new(GcsCredentialProvider::new(credentials()));
    group.bench_function("GcsCredentialProvider, 2 threads at once", |b| {
        b.iter_custom(|iters| {
            let start = Arc::new(Barrier::new(2));
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let shared = Arc::clone(&shared);
                    let start = Arc::clone(&start);
                    std::thread::spawn(move || {
                        start.wait();
                        let began = Instant::now();
                        for _ in 0..iters {
                            black_box(one(&*shared));
                        }
                        began.elapsed()
                    })
                })
                .collect();
            let total: Duration = threads.into_iter().map(|t| t.join().unwrap()).sum();
            total / 2
        });
    });
    group.finish();
}

criterion_group!(benches, provider);
criterion_main!(benches);
