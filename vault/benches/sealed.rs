//! The sealed codec on a typical record (about 600 bytes of JSON): `encode` (seal), `decode`
//! (open), and both, beside `PlainJson` (a copy) measured in the same run.
//!
//! `cargo bench -p credkit-vault --bench sealed`
// Benchmark setup may fail loudly; these are not library paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use credkit_core::{AccessToken, CredentialRecord, PlainJson, RecordCodec};
use credkit_vault::{DataKey, Keyring, SealedCodec};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use secrecy::SecretString;
use time::macros::datetime;

/// A record as the vault keeps one: an access token with its expiry and scopes, a refresh
/// token, the OAuth client.
fn typical_record() -> Vec<u8> {
    let token = AccessToken::new(
        "ya29.a0AfB_byC-benchmark-access-token-ZXhhbXBsZS1hY2Nlc3MtdG9rZW4tdGhhdC1pcy1sb25nLWVub3VnaC10by1sb29rLXJlYWwtYW5kLXNvLW9u",
    )
    .with_issued_at(datetime!(2026-12-07 08:00 UTC))
    .with_expiry(datetime!(2026-12-07 09:00 UTC))
    .with_granted_scopes([
        "openid",
        "https://www.googleapis.com/auth/userinfo.email",
        "https://www.googleapis.com/auth/cloud-platform",
    ]);
    let mut provider = serde_json::Map::new();
    provider.insert(
        "client_id".into(),
        "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com".into(),
    );
    provider.insert("account".into(), "alice@example.com".into());
    provider.insert("universe_domain".into(), "googleapis.com".into());
    CredentialRecord::new()
        .with_access_token(&token)
        .with_refresh_token(SecretString::from(
            "1//0gbenchmark-refresh-token-Q0FCQUJBQkFCQUJBQkFCQUJBQkFCQUJBQkFCQUJBQkFCQUJBQkFC",
        ))
        .with_provider_fields(provider)
        .to_json()
        .unwrap()
        .to_vec()
}

fn sealed(c: &mut Criterion) {
    let json = typical_record();
    let keyring = Keyring::new(DataKey::generate("2026-12").unwrap())
        .with_retired(DataKey::generate("2026-11").unwrap())
        .unwrap();
    let codec = SealedCodec::new(keyring);
    let key = "user:alice@example.com";
    let stored = codec.encode(key, &json).unwrap();

    let mut group = c.benchmark_group(format!("sealed/{}-byte record", json.len()));
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("seal (encode)", |b| {
        b.iter(|| codec.encode(black_box(key), black_box(&json)).unwrap());
    });
    group.bench_function("open (decode)", |b| {
        b.iter(|| codec.decode(black_box(key), black_box(&stored)).unwrap());
    });
    group.bench_function("seal + open", |b| {
        b.iter(|| {
            let stored = codec.encode(black_box(key), black_box(&json)).unwrap();
            codec.decode(key, &stored).unwrap()
        });
    });
    group.bench_function("is_stale", |b| {
        b.iter(|| codec.is_stale(black_box(&stored)));
    });
    group.bench_function("PlainJson encode + decode (baseline)", |b| {
        b.iter(|| {
            let stored = PlainJson::default()
                .encode(black_box(key), black_box(&json))
                .unwrap();
            PlainJson::default().decode(key, &stored).unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, sealed);
criterion_main!(benches);
