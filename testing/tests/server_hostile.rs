//! `FakeTokenServer`'s hostile replies, seen from a plain HTTP client.

mod support;

use std::io;
use std::time::Duration;

use credkit_testing::{FakeTokenServer, Reply};
use http_body_util::BodyExt;
use support::{FORM, send};

#[tokio::test]
async fn stall_sends_headers_then_nothing() {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::stall());
    let response = send(server.addr(), "POST", "/token", Some(FORM), "")
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let mut body = response.into_body();
    // Nothing within a short bound (a stall has no end to wait for).
    let next = tokio::time::timeout(Duration::from_millis(100), body.frame()).await;
    assert!(next.is_err(), "the body should stall: {next:?}");
}

#[tokio::test]
async fn drip_keeps_sending_single_bytes() {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::drip(Duration::from_millis(5)));
    let response = send(server.addr(), "POST", "/token", Some(FORM), "")
        .await
        .unwrap();
    let mut body = response.into_body();
    let mut received = Vec::new();
    while received.len() < 4 {
        let frame = body.frame().await.unwrap().unwrap();
        if let Ok(data) = frame.into_data() {
            received.extend_from_slice(&data);
        }
    }
    assert_eq!(&received[..], b"{   ");
}

fn is_reset(err: &hyper::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = cause {
        if let Some(io) = current.downcast_ref::<io::Error>() {
            return io.kind() == io::ErrorKind::ConnectionReset;
        }
        cause = current.source();
    }
    err.is_incomplete_message()
}

#[tokio::test]
async fn reset_reads_the_request_then_resets_without_a_response() {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::reset());
    let err = send(
        server.addr(),
        "POST",
        "/token",
        Some(FORM),
        "grant_type=refresh_token",
    )
    .await
    .unwrap_err();
    assert!(is_reset(&err), "{err:?}");
    assert_eq!(server.request_count(), 1);
    assert_eq!(
        server.last_request().unwrap().form_value("grant_type"),
        Some("refresh_token")
    );
}

async fn count_body(response: http::Response<hyper::body::Incoming>) -> Result<u64, hyper::Error> {
    let mut body = response.into_body();
    let mut total = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            total += data.len() as u64;
        }
    }
    Ok(total)
}

#[tokio::test]
async fn oversize_streams_the_given_length_undeclared() {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::oversize(3 * 1024 * 1024 + 7));
    let response = send(server.addr(), "POST", "/token", Some(FORM), "")
        .await
        .unwrap();
    assert!(response.headers().get("content-length").is_none());
    assert_eq!(count_body(response).await.unwrap(), 3 * 1024 * 1024 + 7);
}

#[tokio::test]
async fn oversize_declared_announces_its_length() {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::oversize_declared(2 * 1024 * 1024));
    let response = send(server.addr(), "POST", "/token", Some(FORM), "")
        .await
        .unwrap();
    assert_eq!(response.headers()["content-length"], "2097152");
    assert_eq!(count_body(response).await.unwrap(), 2 * 1024 * 1024);
}

#[tokio::test]
async fn html_is_the_wrong_content_type() {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::html(200, "<html>Login</html>"));
    let response = send(server.addr(), "POST", "/token", Some(FORM), "")
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
}

#[tokio::test]
async fn redirect_points_back_at_the_same_server() {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_replies([Reply::redirect("/elsewhere"), Reply::token("after")]);
    let response = send(server.addr(), "POST", "/token", Some(FORM), "")
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("{}/elsewhere", server.url()));
    assert!(location.starts_with("http://127.0.0.1:"));
    // Following it by hand reaches this server again, and is recorded.
    let followed = send(server.addr(), "POST", "/elsewhere", Some(FORM), "")
        .await
        .unwrap();
    assert_eq!(followed.status(), 200);
    let paths: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    assert_eq!(paths, ["/token", "/elsewhere"]);
}
