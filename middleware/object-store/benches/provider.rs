//! `get_credential()` with a fresh cached token: this crate's provider, `object_store`'s own
//! static provider (the floor of the trait: a boxed future and an `Arc` clone), and a naive
//! provider making a new credential per call. Single-threaded, and 4 threads at once.
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

    // Four threads calling the one provider at once: the time per call on each thread.
    let shared = Arc::new(GcsCredentialProvider::new(credentials()));
    group.bench_function("GcsCredentialProvider, 4 threads at once", |b| {
        b.iter_custom(|iters| {
            let start = Arc::new(Barrier::new(4));
            let threads: Vec<_> = (0..4)
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
            total / 4
        });
    });
    group.finish();
}

criterion_group!(benches, provider);
criterion_main!(benches);
