//! A 401 can never storm the token endpoint: a revoked token under a burst costs one refresh,
//! and an API that refuses every token costs at most one refresh per minimum retry interval,
//! through hyper-util's client against a loopback API.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use credkit_core::{AccessToken, Credentials, RefreshEvent, TokenSource};
use credkit_testing::{FakeClock, capture_logs};
use credkit_tower::AuthLayer;
use futures::future::join_all;
use http::{Request, StatusCode};
use http_body_util::Full;
use tower::{ServiceBuilder, ServiceExt};

use support::{ApiServer, client, credentials};

/// Hands out `fresh-1`, `fresh-2`, …: tokens the API refuses (the wrong audience, say).
#[derive(Debug, Default)]
struct Refused(AtomicUsize);

#[async_trait::async_trait]
impl TokenSource for Refused {
    async fn fetch_token(&self) -> credkit_core::Result<AccessToken> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(AccessToken::new(format!("fresh-{n}")))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_under_400_concurrent_requests_costs_one_refresh() {
    const BURST: usize = 400;
    let server = ApiServer::start_gated(BURST).await;
    let (credentials, source) = credentials();
    let api = ServiceBuilder::new()
        .layer(AuthLayer::new(credentials))
        .service(client::<Full<Bytes>>(server.addr()));
    let requests = (0..BURST).map(|i| {
        let request = Request::post(server.url("/v1/items"))
            .body(Full::new(Bytes::from(format!("item {i}"))))
            .unwrap();
        tokio::spawn(api.clone().oneshot(request))
    });
    for response in join_all(requests).await {
        assert_eq!(response.unwrap().unwrap().status(), StatusCode::OK);
    }
    assert_eq!(source.0.load(Ordering::SeqCst), 1, "exactly one refresh");
    assert_eq!(server.count(StatusCode::UNAUTHORIZED), BURST);
    assert_eq!(server.count(StatusCode::OK), BURST);
}

#[test]
fn an_api_that_refuses_every_token_costs_at_most_one_refresh_per_interval() {
    const REQUESTS: usize = 300;
    let interval = Duration::from_secs(10);
    let clock = FakeClock::new();
    let source = Arc::new(Refused::default());
    let events = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&events);
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .with_min_retry_interval(interval)
        .on_refresh(move |event: &RefreshEvent| {
            if let RefreshEvent::FreshTokenRejected { .. } = event {
                log.lock().unwrap().push(event.clone());
            }
        })
        .build()
        .unwrap();
    // One thread runs the server, the client and the test, so the log capture sees it all.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (phases, lines) = capture_logs(|| {
        runtime.block_on(async {
            let server = ApiServer::start().await;
            let api = ServiceBuilder::new()
                .layer(AuthLayer::new(credentials))
                .service(client::<Full<Bytes>>(server.addr()));
            let mut phases = Vec::new();
            for requests in [REQUESTS, 50] {
                let mut statuses = Vec::new();
                for _ in 0..requests {
                    let request = Request::get(server.url("/v1/items"))
                        .body(Full::default())
                        .unwrap();
                    statuses.push(api.clone().oneshot(request).await.unwrap().status());
                }
                assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED));
                phases.push((source.0.load(Ordering::SeqCst), server.seen().len()));
                // Past the interval a rejection is believed again.
                clock.advance(interval);
            }
            phases
        })
    });
    // The first token is dropped and its replay fetches the second, which is refused too:
    // kept from then on, and not replayed.
    assert_eq!(
        phases[0],
        (2, REQUESTS + 1),
        "(token requests, API requests)"
    );
    // After the interval: one more drop, one more refresh and replay, kept again.
    assert_eq!(phases[1], (3, REQUESTS + 1 + 50 + 1));
    assert_eq!(events.lock().unwrap().len(), 2, "reported once per token");
    let warnings = lines
        .iter()
        .filter(|l| {
            l.text
                .contains("the API rejects fresh tokens: check the audience and scopes")
        })
        .count();
    assert_eq!(warnings, 2, "{lines:?}");
}
