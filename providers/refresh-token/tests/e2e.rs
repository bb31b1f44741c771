//! End to end: `UserCredentials` over `ReqwestTransport` against a real loopback
//! `FakeTokenServer`.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use credkit_core::{Clock, TokenSource, Transport};
use credkit_refresh_token::UserCredentials;
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{FakeClock, FakeTokenServer, Reply};
use secrecy::ExposeSecret;

fn credentials(server: &FakeTokenServer, clock: &FakeClock) -> UserCredentials {
    let transport: Arc<dyn Transport> = Arc::new(ReqwestTransport::new().unwrap());
    UserCredentials::builder()
        .with_refresh_token("1//refresh+token/=")
        .with_token_uri(server.token_url())
        .with_client_id("123.apps.googleusercontent.com")
        .with_client_secret("s3cret:&=")
        .with_scopes(["email", "https://www.googleapis.com/auth/cloud-platform"])
        .with_rapt_token("rapt")
        .with_transport(transport)
        .with_clock(Arc::new(clock.clone()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_exact_form_body_reaches_the_server() {
    let server = FakeTokenServer::start().await.unwrap();
    let clock = FakeClock::new();
    let creds = credentials(&server, &clock);
    let token = creds.fetch_token().await.unwrap();
    assert_eq!(token.expiry(), Some(clock.now() + time::Duration::hours(1)));

    let request = server.last_request().unwrap();
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(request.path(), "/token");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(request.header("authorization"), None);
    assert_eq!(
        std::str::from_utf8(request.body()).unwrap(),
        "grant_type=refresh_token&client_id=123.apps.googleusercontent.com&client_secret=s3cret%3A%26%3D&refresh_token=1%2F%2Frefresh%2Btoken%2F%3D&scope=email+https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform&rapt=rapt"
    );
    assert_eq!(
        request.form_keys(),
        [
            "grant_type",
            "client_id",
            "client_secret",
            "refresh_token",
            "scope",
            "rapt"
        ]
    );
    assert_eq!(
        request.form_value("refresh_token"),
        Some("1//refresh+token/=")
    );
}

#[tokio::test]
async fn rotation_carries_across_two_refreshes() {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_replies([
        Reply::rotation("at-1", "rt-2"),
        Reply::rotation("at-2", "rt-3"),
    ]);
    let clock = FakeClock::new();
    let creds = credentials(&server, &clock);

    let first = creds.fetch_token().await.unwrap();
    assert_eq!(first.secret().expose_secret(), "at-1");
    assert_eq!(
        first.rotated_refresh_token().unwrap().expose_secret(),
        "rt-2"
    );
    let second = creds.fetch_token().await.unwrap();
    assert_eq!(second.secret().expose_secret(), "at-2");

    let sent: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.form_value("refresh_token").unwrap().to_owned())
        .collect();
    assert_eq!(sent, ["1//refresh+token/=", "rt-2"]);
    assert_eq!(creds.refresh_token().unwrap().expose_secret(), "rt-3");
}

#[tokio::test]
async fn an_endpoint_error_keeps_its_fields() {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::oauth_error(
        400,
        "invalid_grant",
        Some("Token has been expired or revoked."),
    ));
    let clock = FakeClock::new();
    let err = credentials(&server, &clock)
        .fetch_token()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid_grant: Token has been expired or revoked."
    );
    assert_eq!(err.http_status(), Some(400));
    assert!(!err.is_transient());
}

#[tokio::test]
async fn an_html_503_is_a_clean_transient_error() {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::html(
        503,
        "<html><body>Service Unavailable</body></html>",
    ));
    let clock = FakeClock::new();
    let err = credentials(&server, &clock)
        .fetch_token()
        .await
        .unwrap_err();
    assert!(err.is_transient());
    assert_eq!(err.http_status(), Some(503));
    assert!(err.to_string().contains("text/html"));
    assert!(!err.to_string().contains("Service Unavailable"));
}
