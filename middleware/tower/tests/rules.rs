//! Which requests get the credentials, and which errors come back.

mod support;

use std::sync::atomic::Ordering;

use bytes::Bytes;
use credkit_core::{Credentials, ErrorKind};
use credkit_tower::AuthLayer;
use http::header::AUTHORIZATION;
use http::{Request, StatusCode};
use http_body_util::Full;
use tower::{ServiceBuilder, ServiceExt};

use support::{ApiServer, client, credentials};

#[allow(clippy::unwrap_used)] // test setup
fn get(url: &str) -> Request<Full<Bytes>> {
    Request::get(url).body(Full::default()).unwrap()
}

#[tokio::test]
async fn plain_http_off_loopback_gets_no_token() {
    let server = ApiServer::start().await;
    let (credentials, source) = credentials();
    // The client resolves every name to the loopback server, so `api.example` reaches it.
    let api = ServiceBuilder::new()
        .layer(AuthLayer::new(credentials))
        .service(client::<Full<Bytes>>(server.addr()));
    let port = server.addr().port();

    let response = api
        .clone()
        .oneshot(get(&format!("http://api.example:{port}/v1")))
        .await
        .unwrap();
    // Sent without a token (so rejected), and not replayed.
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // `localhost` is loopback: it gets the token.
    let response = api
        .oneshot(get(&format!("http://localhost:{port}/v1")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let seen = server.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[0].authorization, None);
    assert_eq!(seen[1].authorization.as_deref(), Some("Bearer old"));
    assert_eq!(seen[2].authorization.as_deref(), Some("Bearer new"));
    assert_eq!(source.0.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn plain_http_off_loopback_gets_the_token_when_allowed() {
    let server = ApiServer::start().await;
    let (credentials, _) = credentials();
    let api = ServiceBuilder::new()
        .layer(AuthLayer::new(credentials).dangerous_allow_http(true))
        .service(client::<Full<Bytes>>(server.addr()));
    let port = server.addr().port();

    let response = api
        .oneshot(get(&format!("http://api.example:{port}/v1")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        server.seen()[0].authorization.as_deref(),
        Some("Bearer old")
    );
}

#[tokio::test]
async fn the_callers_authorization_is_kept() {
    let server = ApiServer::start().await;
    let (credentials, source) = credentials();
    let api = ServiceBuilder::new()
        .layer(AuthLayer::new(credentials.clone()))
        .service(client::<Full<Bytes>>(server.addr()));

    let mut request = get(&server.url("/v1"));
    request
        .headers_mut()
        .insert(AUTHORIZATION, "Basic mine".parse().unwrap());
    let response = api.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Even when it is rejected: no token of ours was sent, so none is dropped or replayed.
    let mut request = get(&server.url("/v1"));
    request
        .headers_mut()
        .insert(AUTHORIZATION, "Basic wrong".parse().unwrap());
    let response = api.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].authorization.as_deref(), Some("Basic mine"));
    assert_eq!(seen[1].authorization.as_deref(), Some("Basic wrong"));
    assert!(credentials.token().is_some());
    assert_eq!(source.0.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_callers_authorization_is_replaced_when_told() {
    let server = ApiServer::start().await;
    let (credentials, _) = credentials();
    let api = ServiceBuilder::new()
        .layer(AuthLayer::new(credentials).with_overwrite_authorization(true))
        .service(client::<Full<Bytes>>(server.addr()));

    let mut request = get(&server.url("/v1"));
    request
        .headers_mut()
        .insert(AUTHORIZATION, "Basic mine".parse().unwrap());
    let response = api.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        server.seen()[0].authorization.as_deref(),
        Some("Bearer old")
    );
}

#[tokio::test]
async fn the_header_is_sensitive() {
    let (credentials, _) = credentials();
    let api = ServiceBuilder::new()
        .layer(AuthLayer::new(credentials))
        .service_fn(|request: Request<Full<Bytes>>| async move {
            assert!(request.headers()[AUTHORIZATION].is_sensitive());
            Ok::<_, std::convert::Infallible>(http::Response::new(()))
        });
    api.oneshot(get("https://api.example/v1")).await.unwrap();
}

#[tokio::test]
async fn no_token_is_a_credkit_error() {
    #[derive(Debug)]
    struct Failing;
    #[async_trait::async_trait]
    impl credkit_core::TokenSource for Failing {
        async fn fetch_token(&self) -> credkit_core::Result<credkit_core::AccessToken> {
            Err(credkit_core::Error::new(
                ErrorKind::TokenEndpoint,
                "invalid_grant",
            ))
        }
    }
    let failing = Failing;
    let credentials = Credentials::builder(failing)
        .with_retry_policy(credkit_core::RetryPolicy::none())
        .build()
        .unwrap();
    let api = ServiceBuilder::new()
        .layer(AuthLayer::new(credentials))
        .service_fn(|_: Request<Full<Bytes>>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(()))
        });

    let err = api
        .oneshot(get("https://api.example/v1"))
        .await
        .unwrap_err();
    let err = err.downcast_ref::<credkit_core::Error>().unwrap();
    assert_eq!(err.kind(), ErrorKind::TokenEndpoint);
}

#[tokio::test]
async fn the_inner_error_is_kept() {
    let (credentials, _) = credentials();
    let api = ServiceBuilder::new()
        .layer(AuthLayer::new(credentials))
        .service_fn(|_: Request<Full<Bytes>>| async {
            Err::<http::Response<()>, _>(std::io::Error::other("connection refused"))
        });
    let err = api
        .oneshot(get("https://api.example/v1"))
        .await
        .unwrap_err();
    assert!(err.downcast_ref::<std::io::Error>().is_some());
}
