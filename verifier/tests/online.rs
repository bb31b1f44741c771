//! Verification with keys fetched from `FakeKeyServer` (real HTTP on loopback) or an in-memory
//! transport: formats, Cache-Control, the unknown-kid refresh limit, failures, cancellation.
// Helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use credkit_core::{Clock, ErrorKind};
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{FakeClock, FakeKeyServer, KeyServerFault, capture_logs};
use credkit_verifier::{FAILED_FETCH_RETRY, IdTokenVerifier, VerifyError};
use futures::FutureExt as _;
use futures::executor::block_on;
use support::{AUD, MemoryKeys, assert_clean, claims, issuer, stranger};

fn online(url: &str, clock: &FakeClock) -> IdTokenVerifier {
    IdTokenVerifier::builder()
        .with_audience(AUD)
        .with_keys_url(url)
        .with_transport(ReqwestTransport::new().unwrap())
        .with_clock(clock.clone())
        .build()
        .unwrap()
}

fn in_memory(transport: &Arc<MemoryKeys>, clock: &FakeClock) -> IdTokenVerifier {
    IdTokenVerifier::builder()
        .with_audience(AUD)
        .with_keys_url("https://keys.example/certs")
        .with_transport(Arc::clone(transport))
        .with_clock(clock.clone())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_verify_with_jwks_certificates_and_public_keys_fetched_online() {
    let server = FakeKeyServer::start(issuer()).await.unwrap();
    let clock = FakeClock::new();
    for (n, url) in [server.jwks_url(), server.certs_url(), server.pem_url()]
        .iter()
        .enumerate()
    {
        let verifier = online(url, &clock);
        let rs = verifier
            .verify(&issuer().mint(&claims(&clock)))
            .await
            .unwrap();
        assert_eq!(rs.aud, AUD);
        let es = verifier
            .verify(&issuer().mint_es256(&claims(&clock)))
            .await
            .unwrap();
        assert_eq!(es, rs);
        assert_eq!(server.fetches(), n + 1, "one fetch per verifier, {url}");
        let clone = verifier.clone();
        clone.verify(&issuer().mint(&claims(&clock))).await.unwrap();
        assert_eq!(server.fetches(), n + 1, "clones share the cache");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_kept_for_max_age_minus_age() {
    let server = FakeKeyServer::start(issuer()).await.unwrap();
    server.set_cache_control(Some("public, max-age=600, must-revalidate"));
    server.set_age(Some(Duration::from_secs(100)));
    let clock = FakeClock::new();
    let verifier = online(&server.jwks_url(), &clock);
    let token = issuer().mint(&claims(&clock));
    verifier.verify(&token).await.unwrap();
    assert_eq!(server.fetches(), 1);
    clock.advance(Duration::from_secs(499));
    verifier.verify(&token).await.unwrap();
    assert_eq!(server.fetches(), 1, "no refetch before max-age - age");
    clock.advance(Duration::from_secs(1));
    verifier.verify(&token).await.unwrap();
    assert_eq!(server.fetches(), 2, "one refetch at max-age - age");
    verifier.verify(&token).await.unwrap();
    assert_eq!(server.fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_store_refetches_every_time_and_no_header_means_the_default() {
    let server = FakeKeyServer::start(issuer()).await.unwrap();
    server.set_cache_control(Some("no-store"));
    let clock = FakeClock::new();
    let verifier = online(&server.jwks_url(), &clock);
    let token = issuer().mint(&claims(&clock));
    for n in 1..=3 {
        verifier.verify(&token).await.unwrap();
        assert_eq!(server.fetches(), n);
    }
    server.set_cache_control(None);
    let verifier = IdTokenVerifier::builder()
        .with_audience(AUD)
        .with_keys_url(server.jwks_url())
        .with_transport(ReqwestTransport::new().unwrap())
        .with_clock(clock.clone())
        .with_default_keys_max_age(Duration::from_secs(120))
        .build()
        .unwrap();
    verifier.verify(&token).await.unwrap();
    clock.advance(Duration::from_secs(119));
    verifier.verify(&token).await.unwrap();
    assert_eq!(server.fetches(), 4);
    clock.advance(Duration::from_secs(1));
    verifier.verify(&token).await.unwrap();
    assert_eq!(server.fetches(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kid_refreshes_at_most_once_per_interval() {
    let server = FakeKeyServer::start(issuer()).await.unwrap();
    let clock = FakeClock::new();
    let verifier = online(&server.jwks_url(), &clock); // interval: 60 s
    verifier
        .verify(&issuer().mint(&claims(&clock)))
        .await
        .unwrap();
    assert_eq!(server.fetches(), 1);
    let unknown = stranger().mint(&claims(&clock));
    let err = verifier.verify(&unknown).await.unwrap_err();
    assert!(matches!(&err, VerifyError::UnknownKey { kid } if kid == stranger().rsa_kid()));
    assert_clean(&err, &unknown);
    assert_eq!(server.fetches(), 1, "keys fetched just now: no refresh");
    clock.advance(Duration::from_secs(60));
    let unknown = stranger().mint(&claims(&clock));
    assert!(matches!(
        verifier.verify(&unknown).await,
        Err(VerifyError::UnknownKey { .. })
    ));
    assert_eq!(server.fetches(), 2, "one refresh once the interval passed");
    let other_unknown = stranger().mint_es256(&claims(&clock));
    assert!(matches!(
        verifier.verify(&other_unknown).await,
        Err(VerifyError::UnknownKey { .. })
    ));
    clock.advance(Duration::from_secs(59));
    assert!(matches!(
        verifier.verify(&unknown).await,
        Err(VerifyError::UnknownKey { .. })
    ));
    assert_eq!(
        server.fetches(),
        2,
        "a second unknown kid within the interval: no fetch"
    );
    // Google rotates its keys: the next refresh finds the new one.
    server.serve(&[issuer(), stranger()]);
    clock.advance(Duration::from_secs(1));
    let rotated = stranger().mint(&claims(&clock));
    assert!(verifier.verify(&rotated).await.is_ok());
    assert_eq!(server.fetches(), 3, "after the interval, one fetch");
    verifier
        .verify(&stranger().mint_es256(&claims(&clock)))
        .await
        .unwrap();
    assert_eq!(server.fetches(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn earlier_keys_stay_in_use_while_the_endpoint_fails() {
    let server = FakeKeyServer::start(issuer()).await.unwrap();
    server.set_cache_control(Some("max-age=60"));
    let clock = FakeClock::new();
    let verifier = online(&server.jwks_url(), &clock);
    verifier
        .verify(&issuer().mint(&claims(&clock)))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(60));
    for fault in [
        KeyServerFault::Status(500),
        KeyServerFault::Garbage,
        KeyServerFault::NoKeys,
    ] {
        server.push_fault(fault.clone());
        let fetches = server.fetches();
        let token = issuer().mint(&claims(&clock));
        assert!(
            verifier.verify(&token).await.is_ok(),
            "{fault:?}: stale keys serve"
        );
        assert_eq!(server.fetches(), fetches + 1);
        clock.advance(FAILED_FETCH_RETRY.saturating_sub(Duration::from_secs(1)));
        verifier.verify(&token).await.unwrap();
        assert_eq!(server.fetches(), fetches + 1, "{fault:?}: no hammering");
        clock.advance(Duration::from_secs(1));
    }
    let token = issuer().mint(&claims(&clock));
    verifier.verify(&token).await.unwrap();
    let fetches = server.fetches();
    clock.advance(Duration::from_secs(59));
    verifier.verify(&token).await.unwrap();
    assert_eq!(
        server.fetches(),
        fetches,
        "a successful fetch is fresh again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_earlier_keys_a_failed_fetch_is_a_key_fetch_error() {
    let server = FakeKeyServer::start(issuer()).await.unwrap();
    let clock = FakeClock::new();
    let token = issuer().mint(&claims(&clock));
    let cases = [
        (KeyServerFault::Status(503), "answered HTTP 503", true),
        (KeyServerFault::Status(404), "answered HTTP 404", false),
        (KeyServerFault::Garbage, "not a JSON object", false),
        (KeyServerFault::NoKeys, "no usable RSA or P-256 key", false),
    ];
    for (fault, message, transient) in cases {
        let verifier = online(&server.jwks_url(), &clock);
        server.push_fault(fault.clone());
        let err = verifier.verify(&token).await.unwrap_err();
        assert_clean(&err, &token);
        let VerifyError::KeyFetch(inner) = &err else {
            panic!("{fault:?}: {err}")
        };
        assert!(inner.message().contains(message), "{fault:?}: {inner}");
        assert!(inner.message().contains(&server.jwks_url()), "{inner}");
        assert!(
            !inner.message().contains("fake key server failure"),
            "no body: {inner}"
        );
        assert_eq!(inner.is_transient(), transient, "{fault:?}");
        let core = credkit_core::Error::from(err);
        assert_eq!(core.kind(), ErrorKind::InvalidResponse);
        // Within the retry delay the error is remembered; after it, a new fetch succeeds.
        let fetches = server.fetches();
        assert!(verifier.verify(&token).await.is_err());
        assert_eq!(server.fetches(), fetches);
        clock.advance(FAILED_FETCH_RETRY);
        assert!(verifier.verify(&token).await.is_ok());
        assert_eq!(server.fetches(), fetches + 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_key_server_times_out_on_the_clock() {
    let server = FakeKeyServer::start(issuer()).await.unwrap();
    server.push_fault(KeyServerFault::Hang);
    let clock = FakeClock::new();
    let verifier = IdTokenVerifier::builder()
        .with_audience(AUD)
        .with_keys_url(server.jwks_url())
        .with_transport(ReqwestTransport::new().unwrap())
        .with_clock(clock.clone())
        .with_fetch_timeout(Duration::from_secs(7))
        .build()
        .unwrap();
    let token = issuer().mint(&claims(&clock));
    let pending = tokio::spawn({
        let verifier = verifier.clone();
        let token = token.clone();
        async move { verifier.verify(&token).await }
    });
    // The request reached the server (and took the fault), and the deadline is armed.
    while server.fetches() == 0 || clock.pending_timeouts() == 0 {
        tokio::task::yield_now().await;
    }
    clock.advance(Duration::from_secs(7));
    let err = pending.await.unwrap().unwrap_err();
    let VerifyError::KeyFetch(inner) = &err else {
        panic!("{err}")
    };
    assert_eq!(inner.kind(), ErrorKind::Timeout);
    assert!(inner.message().contains("longer than 7 s"), "{inner}");
    clock.advance(FAILED_FETCH_RETRY);
    assert!(
        verifier.verify(&token).await.is_ok(),
        "the next fetch is answered"
    );
}

#[test]
fn a_cancelled_fetch_does_not_wedge_other_callers() {
    let clock = FakeClock::new();
    let transport = MemoryKeys::hanging_first(issuer().jwk_set_json());
    let verifier = in_memory(&transport, &clock);
    let token = issuer().mint(&claims(&clock));
    let mut first = Box::pin(verifier.verify(&token));
    let mut waiter = Box::pin(verifier.verify(&token));
    assert!((&mut first).now_or_never().is_none());
    assert_eq!(
        transport.count(),
        1,
        "the first caller is fetching (and hangs)"
    );
    assert!(
        (&mut waiter).now_or_never().is_none(),
        "the second waits for that fetch"
    );
    assert_eq!(transport.count(), 1);
    drop(first);
    assert!(block_on(waiter).is_ok(), "the waiter fetches in its place");
    assert_eq!(transport.count(), 2);
    assert!(block_on(verifier.verify(&token)).is_ok());
    assert_eq!(transport.count(), 2);
}

#[test]
fn a_failed_refresh_is_logged_without_secrets_and_stale_keys_serve() {
    let clock = FakeClock::new();
    let transport = MemoryKeys::new(issuer().jwk_set_json(), Some("max-age=60"));
    let verifier = in_memory(&transport, &clock);
    let token = issuer().mint(&claims(&clock));
    block_on(verifier.verify(&token)).unwrap();
    clock.advance(Duration::from_secs(60));
    transport.set_status(502);
    let (result, logs) = capture_logs(|| block_on(verifier.verify(&token)));
    assert!(result.is_ok());
    assert_eq!(transport.count(), 2);
    let line = logs
        .iter()
        .find(|line| {
            line.to_string()
                .contains("fetching the ID token keys failed")
        })
        .unwrap_or_else(|| panic!("{logs:?}"));
    let text = line.to_string();
    assert!(
        text.contains("HTTP 502") && text.contains("stale_keys=2"),
        "{text}"
    );
    assert!(!text.contains(token.split('.').nth(2).unwrap()), "{text}");
}

#[test]
fn an_online_verifier_needs_a_transport() {
    let err = IdTokenVerifier::builder()
        .with_audience(AUD)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("needs a transport"), "{err}");
    let clock = FakeClock::new();
    let transport = MemoryKeys::new(issuer().jwk_set_json(), None);
    let shown = format!("{:?}", in_memory(&transport, &clock));
    assert!(shown.contains("https://keys.example/certs"), "{shown}");
    let _ = clock.now();
}

#[test]
fn keys_documents_are_capped_at_256_kib() {
    let clock = FakeClock::new();
    let token = issuer().mint(&claims(&clock));
    let jwks = issuer().jwk_set_json();
    let cap = 256 * 1024;
    let at_cap = format!("{jwks}{}", " ".repeat(cap - jwks.len()));
    let transport = MemoryKeys::new(at_cap, None);
    assert!(block_on(in_memory(&transport, &clock).verify(&token)).is_ok());
    let over = format!("{jwks}{}", " ".repeat(cap + 1 - jwks.len()));
    let transport = MemoryKeys::new(over, None);
    let err = block_on(in_memory(&transport, &clock).verify(&token)).unwrap_err();
    let VerifyError::KeyFetch(inner) = &err else {
        panic!("{err}")
    };
    assert!(
        inner.message().contains("larger than 262144 bytes"),
        "{inner}"
    );
}

#[test]
fn concurrent_callers_share_one_failed_fetch() {
    let clock = FakeClock::new();
    let transport = MemoryKeys::failing(500);
    let verifier = in_memory(&transport, &clock);
    let token = issuer().mint(&claims(&clock));
    let (first, second) = block_on(futures::future::join(
        verifier.verify(&token),
        verifier.verify(&token),
    ));
    for result in [first, second] {
        assert!(matches!(result, Err(VerifyError::KeyFetch(_))));
    }
    assert_eq!(transport.count(), 1, "the waiter takes the fetcher's error");
}
