//! The layer in a `tower::ServiceBuilder` stack, beside timeout and retry layers.

mod support;

use std::future::{Ready, ready};
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use credkit_tower::{AuthLayer, BoxError};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tower::retry::Policy;
use tower::{ServiceBuilder, ServiceExt};

use support::{ApiServer, client, credentials};

/// Retries a 503 once.
#[derive(Clone, Debug)]
struct RetryUnavailable {
    left: usize,
}

impl Policy<Request<Full<Bytes>>, Response<Incoming>, BoxError> for RetryUnavailable {
    type Future = Ready<()>;

    fn retry(
        &mut self,
        _: &mut Request<Full<Bytes>>,
        result: &mut Result<Response<Incoming>, BoxError>,
    ) -> Option<Self::Future> {
        let unavailable = matches!(result, Ok(r) if r.status() == StatusCode::SERVICE_UNAVAILABLE);
        (unavailable && self.left > 0).then(|| {
            self.left -= 1;
            ready(())
        })
    }

    fn clone_request(&mut self, request: &Request<Full<Bytes>>) -> Option<Request<Full<Bytes>>> {
        let mut copy = Request::new(request.body().clone());
        *copy.method_mut() = request.method().clone();
        *copy.uri_mut() = request.uri().clone();
        *copy.headers_mut() = request.headers().clone();
        Some(copy)
    }
}

#[tokio::test]
async fn with_timeout_and_retry_every_try_carries_the_current_token() {
    let server = ApiServer::start().await;
    // A 503 first (retried by the retry layer), then the old token's 401 (replayed by ours).
    server.script([StatusCode::SERVICE_UNAVAILABLE]);
    let (credentials, source) = credentials();
    let api = ServiceBuilder::new()
        .timeout(Duration::from_secs(60))
        .retry(RetryUnavailable { left: 1 })
        .layer(AuthLayer::new(credentials))
        .service(client::<Full<Bytes>>(server.addr()));

    let request = Request::post(server.url("/v1/items"))
        .body(Full::new(Bytes::from_static(b"payload")))
        .unwrap();
    let response = api.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let seen = server.seen();
    let tokens: Vec<_> = seen.iter().map(|s| s.authorization.as_deref()).collect();
    assert_eq!(
        tokens,
        [Some("Bearer old"), Some("Bearer old"), Some("Bearer new")]
    );
    assert!(seen.iter().all(|s| s.body == "payload"));
    assert_eq!(source.0.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_outside_the_layer_is_a_tower_error() {
    let (credentials, _) = credentials();
    let api = ServiceBuilder::new()
        .timeout(Duration::from_secs(60))
        .layer(AuthLayer::new(credentials))
        .service_fn(|_: Request<Full<Bytes>>| {
            std::future::pending::<Result<Response<()>, BoxError>>()
        });
    let request = Request::get("https://api.example/v1")
        .body(Full::default())
        .unwrap();
    let err = api.oneshot(request).await.unwrap_err();
    assert!(err.is::<tower::timeout::error::Elapsed>());
}
