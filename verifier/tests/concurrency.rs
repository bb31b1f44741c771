//! One key fetch serves every concurrent caller.
// Helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::sync::Arc;

use credkit_testing::FakeClock;
use credkit_verifier::IdTokenVerifier;
use support::{AUD, MemoryKeys, claims, issuer};
use tokio::sync::Barrier;

const CALLERS: usize = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_concurrent_verifications_with_a_cold_cache_make_one_fetch() {
    let clock = FakeClock::new();
    let transport = MemoryKeys::new(issuer().jwk_set_json(), Some("max-age=3600"));
    let verifier = IdTokenVerifier::builder()
        .with_audience(AUD)
        .with_keys_url("https://keys.example/jwks")
        .with_transport(Arc::clone(&transport))
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let rs = Arc::new(issuer().mint(&claims(&clock)));
    let es = Arc::new(issuer().mint_es256(&claims(&clock)));
    // Every caller starts at once: none begins before all are spawned.
    let barrier = Arc::new(Barrier::new(CALLERS));
    let tasks: Vec<_> = (0..CALLERS)
        .map(|i| {
            let verifier = verifier.clone();
            let barrier = Arc::clone(&barrier);
            let token = Arc::clone(if i % 2 == 0 { &rs } else { &es });
            tokio::spawn(async move {
                barrier.wait().await;
                verifier.verify(&token).await
            })
        })
        .collect();
    let mut successes = 0;
    for task in tasks {
        task.await.unwrap().unwrap();
        successes += 1;
    }
    assert_eq!(successes, CALLERS);
    assert_eq!(transport.count(), 1, "one fetch for {CALLERS} callers");
}
