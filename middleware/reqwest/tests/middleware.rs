//! `AuthMiddleware` against a loopback API server that rejects the old token with 401.
// Test setup may unwrap.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use credkit_core::{AccessToken, Credentials, ErrorKind, TokenSource};
use credkit_reqwest_middleware::AuthMiddleware;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokio::net::TcpListener;
use tokio::sync::Barrier;

/// Hands out `new` and counts.
#[derive(Debug, Default)]
struct Counting(AtomicUsize);

#[async_trait::async_trait]
impl TokenSource for Counting {
    async fn fetch_token(&self) -> credkit_core::Result<AccessToken> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(AccessToken::new("new"))
    }
}

type Seen = Arc<Mutex<Vec<(Option<String>, Bytes, StatusCode)>>>;

/// Accepts `Bearer new` and `Basic mine`; `Bearer old` waits at the gate, then gets a 401.
async fn api(gate: usize) -> (SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Seen::default();
    let gate = Arc::new(Barrier::new(gate));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (seen, gate) = (Arc::clone(&record), Arc::clone(&gate));
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let (seen, gate) = (Arc::clone(&seen), Arc::clone(&gate));
                async move {
                    let auth = request
                        .headers()
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_owned());
                    let body = request.into_body().collect().await.unwrap().to_bytes();
                    let status = match auth.as_deref() {
                        Some("Bearer new" | "Basic mine") => StatusCode::OK,
                        Some("Bearer old") => {
                            gate.wait().await;
                            StatusCode::UNAUTHORIZED
                        }
                        _ => StatusCode::UNAUTHORIZED,
                    };
                    seen.lock().unwrap().push((auth, body.clone(), status));
                    let mut response = Response::new(Full::new(body));
                    *response.status_mut() = status;
                    Ok::<_, Infallible>(response)
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (addr, seen)
}

fn setup(
    middleware: impl FnOnce(AuthMiddleware) -> AuthMiddleware,
) -> (ClientWithMiddleware, Credentials, Arc<Counting>) {
    let source = Arc::new(Counting::default());
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_initial_token(AccessToken::new("old"))
        .build()
        .unwrap();
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(middleware(AuthMiddleware::new(credentials.clone())))
        .build();
    (client, credentials, source)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_401s_costs_one_refresh_and_every_request_succeeds_on_replay() {
    const BURST: usize = 100;
    let (addr, seen) = api(BURST).await;
    let (client, _, source) = setup(|m| m);
    let requests = (0..BURST).map(|i| {
        let client = client.clone();
        tokio::spawn(async move {
            let response = client
                .post(format!("http://{addr}/v1/items"))
                .body(format!("item {i}"))
                .send()
                .await
                .unwrap();
            (response.status(), response.text().await.unwrap(), i)
        })
    });
    for result in futures::future::join_all(requests).await {
        let (status, body, i) = result.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, format!("item {i}"));
    }
    assert_eq!(source.0.load(Ordering::SeqCst), 1);
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.iter()
            .filter(|s| s.2 == StatusCode::UNAUTHORIZED)
            .count(),
        BURST
    );
    assert_eq!(seen.iter().filter(|s| s.2 == StatusCode::OK).count(), BURST);
}

#[tokio::test]
async fn a_streaming_body_is_not_replayed() {
    let (addr, seen) = api(1).await;
    let (client, credentials, _) = setup(|m| m);
    let chunks: Vec<Result<Bytes, Infallible>> = vec![Ok(Bytes::from_static(b"streamed"))];
    let response = client
        .post(format!("http://{addr}/v1/upload"))
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(
        credentials.token().is_none(),
        "the rejected token is dropped"
    );
}

#[tokio::test]
async fn plain_http_off_loopback_gets_no_token_and_the_callers_header_is_kept() {
    let (addr, seen) = api(1).await;
    let (_, credentials, source) = setup(|m| m);
    // Resolve `api.example` to the loopback server.
    let client = ClientBuilder::new(
        reqwest::Client::builder()
            .resolve("api.example", addr)
            .build()
            .unwrap(),
    )
    .with(AuthMiddleware::new(credentials.clone()))
    .build();
    let response = client
        .get(format!("http://api.example:{}/v1", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = client
        .get(format!("http://{addr}/v1"))
        .header("authorization", "Basic mine")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].0, None);
    assert_eq!(seen[1].0.as_deref(), Some("Basic mine"));
    assert_eq!(source.0.load(Ordering::SeqCst), 0);
    assert!(credentials.token().is_some());
}

#[tokio::test]
async fn without_replay_the_401_is_returned() {
    let (addr, seen) = api(1).await;
    let (client, _, _) = setup(AuthMiddleware::without_replay);
    let response = client
        .get(format!("http://{addr}/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn no_token_is_a_credkit_error() {
    #[derive(Debug)]
    struct Failing;
    #[async_trait::async_trait]
    impl TokenSource for Failing {
        async fn fetch_token(&self) -> credkit_core::Result<AccessToken> {
            Err(credkit_core::Error::new(
                ErrorKind::TokenEndpoint,
                "invalid_grant",
            ))
        }
    }
    let credentials = Credentials::builder(Failing)
        .with_retry_policy(credkit_core::RetryPolicy::none())
        .build()
        .unwrap();
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(AuthMiddleware::new(credentials))
        .build();
    let err = client.get("https://127.0.0.1:9/").send().await.unwrap_err();
    let reqwest_middleware::Error::Middleware(err) = err else {
        panic!("a middleware error: {err:?}");
    };
    assert_eq!(
        err.downcast_ref::<credkit_core::Error>().unwrap().kind(),
        ErrorKind::TokenEndpoint
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_under_400_concurrent_requests_costs_one_refresh() {
    const BURST: usize = 400;
    let (addr, seen) = api(BURST).await;
    let (client, _, source) = setup(|m| m);
    let requests = (0..BURST).map(|i| {
        let client = client.clone();
        tokio::spawn(async move {
            let url = format!("http://{addr}/v1/items");
            client.post(url).body(format!("item {i}")).send().await
        })
    });
    for result in futures::future::join_all(requests).await {
        assert_eq!(result.unwrap().unwrap().status(), StatusCode::OK);
    }
    assert_eq!(source.0.load(Ordering::SeqCst), 1, "exactly one refresh");
    let seen = seen.lock().unwrap();
    let ok = seen.iter().filter(|s| s.2 == StatusCode::OK).count();
    assert_eq!((seen.len(), ok), (2 * BURST, BURST));
}

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

#[tokio::test]
async fn an_api_that_refuses_every_token_costs_at_most_one_refresh_per_interval() {
    const REQUESTS: usize = 300;
    let interval = std::time::Duration::from_secs(10);
    let (addr, seen) = api(1).await;
    let clock = credkit_testing::FakeClock::new();
    let source = Arc::new(Refused::default());
    let reported = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&reported);
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .with_min_retry_interval(interval)
        .on_refresh(move |event: &credkit_core::RefreshEvent| {
            if let credkit_core::RefreshEvent::FreshTokenRejected { .. } = event {
                count.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build()
        .unwrap();
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(AuthMiddleware::new(credentials))
        .build();
    let mut phases = Vec::new();
    for requests in [REQUESTS, 50] {
        for _ in 0..requests {
            let response = client.get(format!("http://{addr}/v1")).send().await;
            assert_eq!(response.unwrap().status(), StatusCode::UNAUTHORIZED);
        }
        let sent = seen.lock().unwrap().len();
        phases.push((source.0.load(Ordering::SeqCst), sent));
        // Past the interval a rejection is believed again.
        clock.advance(interval);
    }
    // (token requests, API requests): the first token dropped and replayed with the second,
    // which is refused too and kept; after the interval, one more of each.
    assert_eq!(phases, [(2, REQUESTS + 1), (3, REQUESTS + 1 + 50 + 1)]);
    assert_eq!(
        reported.load(Ordering::SeqCst),
        2,
        "reported once per token"
    );
}
