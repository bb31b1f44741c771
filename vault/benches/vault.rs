//! The vault's hot path: `headers(user)` for a cached user with a fresh token, beside
//! `Credentials::headers()` of one user measured in the same run (the goal: within 2×), over a
//! cache of 1, 10 000 and 100 000 users (the lookup's cost as the cache grows).
//!
//! `cargo bench -p credkit-vault --bench vault`
// Benchmark setup may fail loudly; these are not library paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use credkit_core::{AccessToken, Clock, MemoryStorage, SystemClock};
use credkit_login::OAuthClient;
use credkit_testing::FakeTokenEndpoint;
use credkit_vault::{Grant, Vault};
use criterion::{Criterion, criterion_group, criterion_main};
use futures::executor::block_on;

const TOKEN: &str =
    "ya29.a0AfB_byC-benchmark-token-of-a-realistic-length-0123456789abcdefghijklmnopqrstuvwxyz";

/// A vault holding `users` users, every one cached with a fresh token.
fn vault(users: usize) -> Vault {
    let endpoint = FakeTokenEndpoint::new();
    let client = OAuthClient::new("client-id", Some("client-secret".into()))
        .with_token_uri(endpoint.token_url());
    let vault = Vault::builder(client, MemoryStorage::new())
        .with_transport(endpoint)
        .with_capacity(users as u64 + 16)
        .build()
        .unwrap();
    let now = SystemClock.now();
    for i in 0..users {
        let user = format!("user-{i}");
        let token = AccessToken::new(TOKEN).with_lifetime(now, Duration::from_secs(3600));
        block_on(vault.insert(
            &user,
            Grant::new(format!("1//rt-{i}")).with_access_token(token),
        ))
        .unwrap();
        block_on(vault.headers(&user)).unwrap();
    }
    vault
}

fn hot_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("vault");
    let single = block_on(vault(1).credentials("user-0")).unwrap();
    group.bench_function("Credentials::headers (one user)", |b| {
        b.iter(|| black_box(block_on(single.headers()).unwrap()));
    });
    for users in [1usize, 10_000, 100_000] {
        let vault = vault(users);
        let probe: Vec<String> = (0..users.min(1024)).map(|i| format!("user-{i}")).collect();
        let mut next = 0usize;
        group.bench_function(format!("Vault::headers ({users} users cached)"), |b| {
            b.iter(|| {
                next = (next + 1) % probe.len();
                black_box(block_on(vault.headers(&probe[next])).unwrap())
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = hot_path
}
criterion_main!(benches);
