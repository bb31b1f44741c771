//! A 401 drops the token that was sent, once for a whole burst, and the request is replayed
//! once when its body can be sent again.

mod support;

use std::sync::atomic::Ordering;

use bytes::Bytes;
use credkit_tower::AuthLayer;
use futures::future::join_all;
use http::{Request, StatusCode};
use http_body_util::Full;
use tower::{ServiceBuilder, ServiceExt};

use support::{AnyBody, ApiServer, body_of, client, credentials};

const BURST: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_401s_costs_one_refresh_and_every_request_succeeds_on_replay() {
    // Each request with the old token is held until all of them have arrived: all are
    // rejected with that one token.
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
    let responses = join_all(requests).await;

    for (i, response) in responses.into_iter().enumerate() {
        let response = response.unwrap().unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body_of(response).await, format!("item {i}"));
    }
    assert_eq!(source.0.load(Ordering::SeqCst), 1, "exactly one refresh");
    assert_eq!(server.count(StatusCode::UNAUTHORIZED), BURST);
    assert_eq!(server.count(StatusCode::OK), BURST);
    assert!(
        server
            .seen()
            .iter()
            .all(|s| s.status != StatusCode::OK || s.authorization.as_deref() == Some("Bearer new"))
    );
}

#[tokio::test]
async fn a_streaming_body_is_not_replayed() {
    let server = ApiServer::start().await;
    let (credentials, source) = credentials();
    let api = ServiceBuilder::new()
        .layer(AuthLayer::new(credentials.clone()).with_buffered_replay(1024))
        .service(client::<AnyBody>(server.addr()));

    let request = Request::post(server.url("/v1/upload"))
        .body(AnyBody::stream(&[b"part 1, ", b"part 2"]))
        .unwrap();
    let response = api.clone().oneshot(request).await.unwrap();

    // The 401 comes back as it came; the stream went once, whole.
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body, "part 1, part 2");
    // The rejected token is gone: the next request refreshes and succeeds.
    assert!(credentials.token().is_none());
    let request = Request::post(server.url("/v1/upload"))
        .body(AnyBody::stream(&[b"again"]))
        .unwrap();
    assert_eq!(api.oneshot(request).await.unwrap().status(), StatusCode::OK);
    assert_eq!(source.0.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_body_of_known_size_within_the_limit_is_buffered_and_replayed() {
    let server = ApiServer::start().await;
    let (credentials, _) = credentials();
    let api = ServiceBuilder::new()
        .layer(AuthLayer::new(credentials).with_buffered_replay(1024))
        .service(client::<AnyBody>(server.addr()));

    let request = Request::post(server.url("/v1/items"))
        .body(AnyBody::from(Bytes::from_static(b"small")))
        .unwrap();
    let response = api.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_of(response).await, "small");
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body, "small");
}

#[tokio::test]
async fn a_body_over_the_limit_is_sent_once() {
    let server = ApiServer::start().await;
    let (credentials, _) = credentials();
    let api = ServiceBuilder::new()
        .layer(AuthLayer::new(credentials).with_buffered_replay(4))
        .service(client::<AnyBody>(server.addr()));

    let request = Request::post(server.url("/v1/items"))
        .body(AnyBody::from(Bytes::from_static(b"too big")))
        .unwrap();
    let response = api.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn without_replay_the_401_is_returned_and_the_token_dropped() {
    let server = ApiServer::start().await;
    let (credentials, source) = credentials();
    let api = ServiceBuilder::new()
        .layer(AuthLayer::new(credentials.clone()).without_replay())
        .service(client::<Full<Bytes>>(server.addr()));

    let request = Request::get(server.url("/v1/items"))
        .body(Full::default())
        .unwrap();
    let response = api.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.seen().len(), 1);
    assert!(credentials.token().is_none());
    assert_eq!(source.0.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_rejected_replay_is_the_answer() {
    let server = ApiServer::start().await;
    // Both the first try and the replay are refused.
    server.script([StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED]);
    let (credentials, source) = credentials();
    let api = ServiceBuilder::new()
        .layer(AuthLayer::new(credentials))
        .service(client::<Full<Bytes>>(server.addr()));

    let request = Request::get(server.url("/v1/items"))
        .body(Full::default())
        .unwrap();
    let response = api.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.seen().len(), 2);
    assert_eq!(source.0.load(Ordering::SeqCst), 1);
}
