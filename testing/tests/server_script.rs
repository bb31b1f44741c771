//! `FakeTokenServer` over real HTTP: the script, the default replies and the record.

mod support;

use std::time::Duration;

use credkit_testing::{FakeTokenServer, Reply};
use http_body_util::BodyExt;
use support::{FORM, json, post_form, send};

#[tokio::test]
async fn default_replies_are_new_tokens_that_echo_the_scope() {
    let server = FakeTokenServer::start().await.unwrap();
    let (status, first) = post_form(&server, "grant_type=refresh_token&scope=email+profile").await;
    let (_, second) = post_form(&server, "grant_type=refresh_token").await;
    assert_eq!(status, 200);
    let (first, second) = (json(&first), json(&second));
    assert_eq!(first["access_token"], "fake-access-token-1");
    assert_eq!(first["expires_in"], 3600);
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["scope"], "email profile");
    assert_eq!(second["access_token"], "fake-access-token-2");
    assert!(second.get("scope").is_none());
}

#[tokio::test]
async fn the_script_plays_in_order_and_the_last_reply_repeats() {
    let server = FakeTokenServer::start().await.unwrap();
    server
        .push_reply(Reply::oauth_error(503, "temporarily_unavailable", None))
        .push_reply(Reply::oauth_error(
            400,
            "invalid_grant",
            Some("Token has been expired or revoked."),
        ))
        .push_reply(Reply::token("ya29.last"));
    let mut seen = Vec::new();
    for _ in 0..5 {
        let (status, body) = post_form(&server, "grant_type=refresh_token").await;
        seen.push((status, json(&body)));
    }
    assert_eq!(seen[0].0, 503);
    assert_eq!(seen[0].1["error"], "temporarily_unavailable");
    assert!(seen[0].1.get("error_description").is_none());
    assert_eq!(seen[1].0, 400);
    assert_eq!(
        seen[1].1["error_description"],
        "Token has been expired or revoked."
    );
    for (status, body) in &seen[2..] {
        assert_eq!(*status, 200);
        assert_eq!(body["access_token"], "ya29.last");
    }
    assert_eq!(server.request_count(), 5);
}

#[tokio::test]
async fn rotation_replies_carry_a_new_refresh_token() {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_replies([
        Reply::rotation("ya29.a", "1//rotated"),
        Reply::rotating_token(),
    ]);
    let (_, first) = post_form(&server, "").await;
    let (_, second) = post_form(&server, "").await;
    let (_, third) = post_form(&server, "").await;
    assert_eq!(json(&first)["refresh_token"], "1//rotated");
    assert_eq!(json(&second)["refresh_token"], "fake-refresh-token-1");
    assert_eq!(json(&third)["refresh_token"], "fake-refresh-token-2");
    assert_eq!(json(&third)["access_token"], "fake-access-token-2");
}

#[tokio::test]
async fn headers_status_and_delay_are_sent_as_scripted() {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(
        Reply::raw(429, "text/plain", "slow down")
            .with_header("retry-after", "7")
            .with_delay(Duration::from_millis(20)),
    );
    let response = send(server.addr(), "POST", "/token", Some(FORM), "")
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(response.headers()["content-type"], "text/plain");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"slow down");
}

#[tokio::test]
async fn an_invalid_scripted_header_fails_loudly() {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::token("t").with_header("bad header", "x"));
    let (status, body) = post_form(&server, "").await;
    assert_eq!(status, 500);
    assert!(String::from_utf8_lossy(&body).contains("invalid"));
}

#[tokio::test]
async fn every_request_is_recorded() {
    let server = FakeTokenServer::start().await.unwrap();
    post_form(
        &server,
        "grant_type=refresh_token&client_id=cid&client_secret=cs&refresh_token=rt&scope=a+b%2Fc",
    )
    .await;
    send(
        server.addr(),
        "GET",
        "/other?x=1",
        Some("application/json"),
        "{\"a\":1}",
    )
    .await
    .unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let token = &requests[0];
    assert_eq!(token.method(), "POST");
    assert_eq!(token.path(), "/token");
    assert_eq!(token.query(), None);
    assert_eq!(token.header("content-type"), Some(FORM));
    assert_eq!(
        token.form_keys(),
        [
            "grant_type",
            "client_id",
            "client_secret",
            "refresh_token",
            "scope"
        ]
    );
    assert_eq!(token.form_value("scope"), Some("a b/c"));
    assert!(token.body().starts_with(b"grant_type=refresh_token&"));
    let other = &requests[1];
    assert_eq!(other.method(), "GET");
    assert_eq!(other.path(), "/other");
    assert_eq!(other.query(), Some("x=1"));
    assert_eq!(other.body(), b"{\"a\":1}");
    assert!(other.form().is_empty());
    assert_eq!(server.last_request().unwrap().path(), "/other");
}

#[tokio::test]
async fn concurrent_requests_are_all_recorded_with_unique_tokens() {
    let server = FakeTokenServer::start().await.unwrap();
    let bodies =
        futures::future::join_all((0..8).map(|_| post_form(&server, "grant_type=refresh_token")))
            .await;
    let mut tokens: Vec<String> = bodies
        .iter()
        .map(|(_, body)| json(body)["access_token"].as_str().unwrap().to_owned())
        .collect();
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 8);
    assert_eq!(server.request_count(), 8);
}

#[tokio::test]
async fn an_oversize_request_body_gets_a_413() {
    let server = FakeTokenServer::start().await.unwrap();
    let response = send(
        server.addr(),
        "POST",
        "/token",
        Some(FORM),
        vec![b'a'; 2 << 20],
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn shutdown_closes_the_port_and_open_connections() {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::stall());
    let addr = server.addr();
    let stalled = send(addr, "POST", "/token", Some(FORM), "").await.unwrap();
    server.shutdown().await;
    // The stalled body ends (with an error) instead of hanging, and the port is closed.
    assert!(stalled.into_body().collect().await.is_err());
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
