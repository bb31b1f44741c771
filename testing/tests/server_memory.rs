//! `FakeTokenEndpoint`: the same script and record without sockets, on any executor.
// The helpers below unwrap, as tests do.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use credkit_core::{ErrorKind, Transport};
use credkit_testing::{FakeClock, FakeTokenEndpoint, FakeTokenServer, IN_MEMORY_TOKEN_URL, Reply};
use futures::executor::block_on;

fn post(body: &'static str) -> http::Request<Bytes> {
    http::Request::post(IN_MEMORY_TOKEN_URL)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from_static(body.as_bytes()))
        .unwrap()
}

fn json(response: &http::Response<Bytes>) -> serde_json::Value {
    serde_json::from_slice(response.body()).unwrap()
}

#[test]
fn defaults_script_and_record_work_in_memory() {
    let endpoint = FakeTokenEndpoint::new();
    let transport: Arc<dyn Transport> = Arc::new(endpoint.clone());
    block_on(async {
        let first = transport.send(post("scope=openid")).await.unwrap();
        assert_eq!(json(&first)["access_token"], "fake-access-token-1");
        assert_eq!(json(&first)["scope"], "openid");
        assert_eq!(
            first.headers()["content-type"],
            "application/json; charset=utf-8"
        );

        endpoint.push_replies([
            Reply::oauth_error(500, "server_error", None),
            Reply::token("ya29.last"),
        ]);
        assert_eq!(transport.send(post("")).await.unwrap().status(), 500);
        for _ in 0..2 {
            let last = transport.send(post("")).await.unwrap();
            assert_eq!(json(&last)["access_token"], "ya29.last");
        }
    });
    assert_eq!(endpoint.request_count(), 4);
    assert_eq!(endpoint.requests()[0].form_value("scope"), Some("openid"));
    assert_eq!(endpoint.requests()[0].path(), "/token");
    endpoint.clear_requests();
    assert_eq!(endpoint.request_count(), 0);
    assert_eq!(endpoint.pending_replies(), 1);
}

#[test]
fn hostile_replies_become_the_transport_errors() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_replies([
        Reply::stall(),
        Reply::drip(Duration::from_millis(1)),
        Reply::reset(),
        Reply::oversize(2 * 1024 * 1024),
        Reply::oversize_declared(2 * 1024 * 1024),
        Reply::oversize(1024),
    ]);
    block_on(async {
        for _ in 0..2 {
            let err = endpoint.send(post("")).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
            assert!(err.is_transient());
        }
        let reset = endpoint.send(post("")).await.unwrap_err();
        assert_eq!(reset.kind(), ErrorKind::Transport);
        assert!(reset.is_transient());
        for _ in 0..2 {
            let too_large = endpoint.send(post("")).await.unwrap_err();
            assert_eq!(too_large.kind(), ErrorKind::Transport);
            assert!(!too_large.is_transient());
        }
        let small = endpoint.send(post("")).await.unwrap();
        assert_eq!(small.body().len(), 1024);
    });
    assert_eq!(endpoint.request_count(), 6);
}

#[test]
fn the_body_cap_applies_to_ordinary_bodies_too() {
    let endpoint = FakeTokenEndpoint::new().with_max_body_size(10);
    endpoint.push_reply(Reply::token("longer than ten bytes"));
    let err = block_on(endpoint.send(post(""))).unwrap_err();
    assert!(!err.is_transient());
    assert!(err.to_string().contains("larger than 10 bytes"), "{err}");
}

#[test]
fn redirects_are_returned_with_a_location_on_the_same_endpoint() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(Reply::redirect("/elsewhere"));
    let response = block_on(endpoint.send(post(""))).unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        "http://127.0.0.1:9/elsewhere"
    );
}

#[test]
fn delays_wait_on_the_endpoints_clock() {
    let clock = FakeClock::new().with_auto_advance(true);
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_reply(Reply::token("t").with_delay(Duration::from_secs(45)));
    let response = block_on(endpoint.send(post(""))).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(clock.sleeps(), [Duration::from_secs(45)]);
}

#[tokio::test]
async fn a_server_and_its_endpoint_share_script_and_record() {
    let server = FakeTokenServer::start().await.unwrap();
    let endpoint = server.endpoint().clone();
    endpoint.push_reply(Reply::oauth_error(503, "busy", None));
    endpoint.push_reply(Reply::default_token());

    // In memory first: it takes the 503.
    assert_eq!(endpoint.send(post("")).await.unwrap().status(), 503);
    // Then over the socket: the next reply, and the same token counter.
    let stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = http::Request::post("/token")
        .header("host", server.addr().to_string())
        .body(http_body_util::Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        json(&endpoint.send(post("")).await.unwrap())["access_token"],
        "fake-access-token-2"
    );
    assert_eq!(server.request_count(), 3);
}

#[test]
fn debug_output_hides_secrets() {
    let endpoint = FakeTokenEndpoint::new();
    block_on(endpoint.send(post(
        "refresh_token=rt-very-secret&client_secret=cs-very-secret",
    )))
    .unwrap();
    let shown = format!("{:?}", endpoint.requests());
    assert!(!shown.contains("very-secret"), "{shown}");
    assert!(shown.contains("refresh_token"), "{shown}");
}
