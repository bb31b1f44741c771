//! `apply()` on a fresh token through the README's route (`Credentials::builder(user)`, where
//! the cache takes the provider's clock, quota project and held token) beside a plain
//! `Credentials::builder(StaticSource)` seeded by hand, in the same run: the documented route
//! must be as fast.
//!
//! `cargo bench -p credkit-refresh-token --bench quickstart_route`
// Benchmark setup may fail loudly; these are not library paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use credkit_core::http::HeaderMap;
use credkit_core::{AccessToken, Clock, Credentials, StaticSource, SystemClock, TokenState};
use credkit_refresh_token::UserCredentials;
use credkit_testing::FakeTokenEndpoint;
use criterion::{Criterion, criterion_group, criterion_main};

const TOKEN: &str =
    "ya29.a0AfB_byC-benchmark-token-of-a-realistic-length-0123456789abcdefghijklmnopqrstuvwxyz";

fn readme_route(quota_project: Option<&str>) -> Credentials {
    let mut builder = UserCredentials::builder()
        .with_token(TOKEN)
        .with_expiry(SystemClock.now() + Duration::from_secs(3600))
        .with_refresh_token("1//refresh")
        .with_client_id("id")
        .with_client_secret("secret")
        .with_transport(FakeTokenEndpoint::new());
    if let Some(project) = quota_project {
        builder = builder.with_quota_project(project);
    }
    let credentials = Credentials::builder(builder.build().unwrap())
        .build()
        .unwrap();
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    credentials
}

fn plain_builder(quota_project: Option<&str>) -> Credentials {
    let token = AccessToken::new(TOKEN).with_lifetime(SystemClock.now(), Duration::from_secs(3600));
    let mut builder =
        Credentials::builder(StaticSource::new(token.clone())).with_initial_token(token);
    if let Some(project) = quota_project {
        builder = builder.with_quota_project(project);
    }
    builder.build().unwrap()
}

fn routes(c: &mut Criterion) {
    let mut group = c.benchmark_group("apply, fresh token");
    for (name, credentials) in [
        (
            "README route, quota project",
            readme_route(Some("bench-project")),
        ),
        (
            "plain builder, quota project",
            plain_builder(Some("bench-project")),
        ),
        ("README route, no quota project", readme_route(None)),
        ("plain builder, no quota project", plain_builder(None)),
    ] {
        let mut headers = HeaderMap::with_capacity(2);
        group.bench_function(name, |b| {
            b.iter(|| black_box(credentials.apply(black_box(&mut headers))).unwrap());
        });
    }
    group.finish();
}

criterion_group!(benches, routes);
criterion_main!(benches);
