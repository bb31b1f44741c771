//! The layer's added cost per request with a fresh token: the same stack (an inner service that
//! answers at once) with and without `AuthLayer`, the request built the same way in both; with
//! a quota project (two headers written) and without (one).
//!
//! `cargo bench -p credkit-tower --bench layer`
// Benchmark setup may fail loudly; these are not library paths.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;

use credkit_tower::AuthLayer;
use criterion::{Criterion, criterion_group, criterion_main};
use tower::ServiceBuilder;

use support::{Answer, credentials, credentials_with, one, request};

fn layer(c: &mut Criterion) {
    let uri: http::Uri = "https://api.example/v1/items".parse().unwrap();
    let mut group = c.benchmark_group("per request, fresh token");

    let mut bare = ServiceBuilder::new().service(Answer);
    group.bench_function("without the layer", |b| {
        b.iter(|| black_box(one(&mut bare, request(&uri))));
    });

    let mut no_replay = ServiceBuilder::new()
        .layer(AuthLayer::new(credentials()).without_replay())
        .service(Answer);
    group.bench_function("with the layer, replay off", |b| {
        b.iter(|| black_box(one(&mut no_replay, request(&uri))));
    });

    let mut replay = ServiceBuilder::new()
        .layer(AuthLayer::new(credentials()))
        .service(Answer);
    group.bench_function("with the layer, replay by clone (default)", |b| {
        b.iter(|| black_box(one(&mut replay, request(&uri))));
    });

    // The same two without a quota project: one header written instead of two.
    let mut lean = ServiceBuilder::new()
        .layer(AuthLayer::new(credentials_with(false)).without_replay())
        .service(Answer);
    group.bench_function("with the layer, replay off, no quota project", |b| {
        b.iter(|| black_box(one(&mut lean, request(&uri))));
    });

    let mut lean_replay = ServiceBuilder::new()
        .layer(AuthLayer::new(credentials_with(false)))
        .service(Answer);
    group.bench_function("with the layer, replay by clone, no quota project", |b| {
        b.iter(|| black_box(one(&mut lean_replay, request(&uri))));
    });
    group.finish();
}

criterion_group!(benches, layer);
criterion_main!(benches);
