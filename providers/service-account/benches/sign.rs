//! Signing with a service-account key: one RS256 signature over 1 KiB, and one whole JWT-bearer
//! assertion (claims, base64url, signature), with the key in `CREDKIT_BENCH_KEY_FILE` (a
//! `service_account` key file, so that `.ci/bench-signing` times google-auth on the same key)
//! or one generated for the run.
//!
//! `cargo bench -p credkit-service-account --bench sign`
// Benchmark setup may fail loudly; these are not library paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use credkit_service_account::{ServiceAccountKey, encode_jwt};
use credkit_testing::TestKey;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

/// The message: 1 KiB, the same bytes `.ci/bench-signing`'s Python timer signs.
fn message() -> Vec<u8> {
    (0..1024u32)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect()
}

fn key() -> ServiceAccountKey {
    if let Some(path) = std::env::var_os("CREDKIT_BENCH_KEY_FILE") {
        return ServiceAccountKey::from_file(path).unwrap();
    }
    let key = TestKey::generate().unwrap();
    ServiceAccountKey::from_json_str(&key.service_account_json(
        "bench@credkit-test.iam.gserviceaccount.com",
        "https://oauth2.googleapis.com/token",
    ))
    .unwrap()
}

fn sign(c: &mut Criterion) {
    let key = key();
    let signer = key.signer();
    let message = message();
    c.bench_function("sign/1 KiB", |b| {
        b.iter(|| signer.sign_now(black_box(&message)).unwrap());
    });
    let claims = json!({
        "iat": 1_700_000_000,
        "exp": 1_700_003_600,
        "iss": key.client_email(),
        "aud": "https://oauth2.googleapis.com/token",
        "scope": "https://www.googleapis.com/auth/cloud-platform",
    });
    let claims = claims.as_object().unwrap();
    c.bench_function("sign/jwt assertion", |b| {
        b.iter(|| futures::executor::block_on(encode_jwt(&signer, black_box(claims))).unwrap());
    });
}

criterion_group!(benches, sign);
criterion_main!(benches);
