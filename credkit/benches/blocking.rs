//! The blocking API beside the async one: cached `headers()` and `access_token()` on a fresh
//! token; a refresh from an in-memory source (the hand-over to the blocking runtime and back);
//! and a cold refresh over loopback HTTP against `FakeTokenServer` (the reqwest transport, a
//! refresh-token grant).
//!
//! The async calls are polled with `futures::executor::block_on` (the cheapest way a caller
//! without a runtime can await) and, for the cached path, with `now_or_never` (the bare cost
//! of the call). The async refresh runs on a multi-thread tokio runtime of the benchmark's,
//! where its reqwest connections live.
//!
//! `cargo bench -p credkit --bench blocking`
// Benchmark setup may fail loudly; these are not library paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use credkit::blocking;
use credkit::core::http::HeaderMap;
use credkit::core::{AccessToken, Clock, Credentials, StaticSource, SystemClock};
use credkit::refresh_token::UserCredentials;
use credkit::reqwest::ReqwestTransport;
use credkit_testing::FakeTokenServer;
use criterion::{Criterion, criterion_group, criterion_main};
use futures::FutureExt;

const TOKEN: &str =
    "ya29.a0AfB_byC-benchmark-token-of-a-realistic-length-0123456789abcdefghijklmnopqrstuvwxyz";

/// Fresh credentials on the system clock, writing both headers.
fn fresh() -> Credentials {
    let token = AccessToken::new(TOKEN).with_lifetime(SystemClock.now(), Duration::from_secs(3600));
    Credentials::builder(StaticSource::new(token.clone()))
        .with_initial_token(token)
        .with_quota_project("bench-project")
        .build()
        .unwrap()
}

fn cached(c: &mut Criterion) {
    let credentials = fresh();
    let sync = blocking::Credentials::from(credentials.clone());
    let mut group = c.benchmark_group("cached");
    group.bench_function("headers/blocking", |b| {
        b.iter(|| black_box(sync.headers().unwrap()));
    });
    group.bench_function("headers/async_block_on", |b| {
        b.iter(|| black_box(futures::executor::block_on(credentials.headers()).unwrap()));
    });
    group.bench_function("headers/async_now_or_never", |b| {
        b.iter(|| black_box(credentials.headers().now_or_never().unwrap().unwrap()));
    });
    let mut map = HeaderMap::with_capacity(2);
    group.bench_function("before_request/blocking", |b| {
        b.iter(|| sync.before_request(black_box(&mut map)).unwrap());
    });
    group.bench_function("apply/async_sync_member", |b| {
        b.iter(|| credentials.apply(black_box(&mut map)).unwrap());
    });
    group.bench_function("access_token/blocking", |b| {
        b.iter(|| black_box(sync.access_token().unwrap()));
    });
    group.bench_function("access_token/async_block_on", |b| {
        b.iter(|| black_box(futures::executor::block_on(credentials.access_token()).unwrap()));
    });
    group.bench_function("access_token/async_now_or_never", |b| {
        b.iter(|| black_box(credentials.access_token().now_or_never().unwrap().unwrap()));
    });
    group.finish();
}

/// Credentials over a refresh token, refreshed at `server` through reqwest.
fn over_loopback(server: &FakeTokenServer) -> Credentials {
    let user = UserCredentials::builder()
        .with_client_id("bench.apps.googleusercontent.com")
        .with_client_secret("bench-secret")
        .with_refresh_token("1//bench-refresh-token")
        .with_token_uri(server.token_url())
        .with_transport(ReqwestTransport::new().unwrap())
        .build()
        .unwrap();
    Credentials::new(user)
}

fn refresh(c: &mut Criterion) {
    // The server on a runtime of its own, so that neither client's waiting stalls it.
    let server_runtime = tokio::runtime::Runtime::new().unwrap();
    let server = server_runtime.block_on(FakeTokenServer::start()).unwrap();
    let client_runtime = tokio::runtime::Runtime::new().unwrap();

    let mut group = c.benchmark_group("refresh");
    group.sample_size(50);
    let sync = blocking::Credentials::from(over_loopback(&server));
    group.bench_function("blocking", |b| {
        b.iter(|| black_box(sync.refresh().unwrap()));
    });
    let credentials = over_loopback(&server);
    group.bench_function("async_on_a_runtime", |b| {
        b.iter(|| black_box(client_runtime.block_on(credentials.refresh()).unwrap()));
    });
    group.finish();
    drop(server);
}

/// A refresh with nothing to wait for (an in-memory source): the hand-over to the blocking
/// runtime and back, beside the same refresh polled on the caller's thread.
fn hand_over(c: &mut Criterion) {
    let credentials = fresh();
    let sync = blocking::Credentials::from(credentials.clone());
    let mut group = c.benchmark_group("refresh_in_memory");
    group.bench_function("blocking", |b| {
        b.iter(|| black_box(sync.refresh().unwrap()));
    });
    group.bench_function("async_block_on", |b| {
        b.iter(|| black_box(futures::executor::block_on(credentials.refresh()).unwrap()));
    });
    group.finish();
}

criterion_group!(benches, cached, hand_over, refresh);
criterion_main!(benches);
