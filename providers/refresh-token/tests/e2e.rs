//! End to end: `UserCredentials` over `ReqwestTransport` against a real loopback
//! `FakeTokenServer`.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use credkit_core::Credentials;
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
        .with_clock(clock.clone())
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

#[tokio::test]
async fn through_credentials_503_503_200_makes_three_requests() {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_replies([
        Reply::oauth_error(503, "backend_error", None),
        Reply::html(503, "<html>busy</html>"),
        Reply::token("at-after-retries"),
    ]);
    let clock = FakeClock::new().with_auto_advance(true);
    let credentials = Credentials::builder(credentials(&server, &clock))
        .build()
        .unwrap();

    let headers = credentials.headers().await.unwrap();
    assert_eq!(headers["authorization"], "Bearer at-after-retries");
    assert_eq!(server.request_count(), 3);
    // Two backoff waits, about 1 s and then 2 s, on the fake clock.
    let waits = clock.sleeps();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert!(
        waits[0] >= std::time::Duration::from_millis(900)
            && waits[0] <= std::time::Duration::from_millis(1100)
    );
    assert!(
        waits[1] >= std::time::Duration::from_millis(1800)
            && waits[1] <= std::time::Duration::from_millis(2200)
    );
}

#[tokio::test]
async fn through_credentials_invalid_grant_is_not_retried() {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::oauth_error(
        400,
        "invalid_grant",
        Some("Token has been expired or revoked."),
    ));
    let clock = FakeClock::new().with_auto_advance(true);
    let credentials = Credentials::builder(credentials(&server, &clock))
        .build()
        .unwrap();
    let err = credentials.headers().await.unwrap_err();
    assert_eq!(err.oauth_error(), Some("invalid_grant"));
    assert_eq!(server.request_count(), 1);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn a_rotated_refresh_token_is_stored_before_handout() {
    use credkit_core::{MemoryStorage, Storage};

    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::rotation("at-1", "rt-rotated"));
    let clock = FakeClock::new();
    let storage = MemoryStorage::new();
    let credentials = Credentials::builder(credentials(&server, &clock))
        .with_storage(storage.clone(), "user@example.com")
        .build()
        .unwrap();
    credentials.headers().await.unwrap();
    let record = storage.load("user@example.com").await.unwrap().unwrap();
    assert_eq!(
        record.refresh_token().unwrap().expose_secret(),
        "rt-rotated"
    );
    assert_eq!(
        record.access_token().unwrap().secret().expose_secret(),
        "at-1"
    );
}

#[tokio::test]
async fn a_restart_resumes_from_the_stored_rotation() {
    use credkit_core::{MemoryStorage, Storage};

    let server = FakeTokenServer::start().await.unwrap();
    server.push_replies([Reply::rotation("at-1", "rt-rotated"), Reply::token("at-2")]);
    let clock = FakeClock::new();
    let storage = MemoryStorage::new();

    // First process: one refresh, which rotates the refresh token into storage.
    let first = Credentials::builder(credentials(&server, &clock))
        .with_storage(storage.clone(), "me")
        .build()
        .unwrap();
    first.headers().await.unwrap();
    drop(first);

    // Second process: the configuration again (with the old refresh token), resumed from the
    // record; its token is expired by then, so it refreshes with the rotated refresh token.
    clock.advance(std::time::Duration::from_secs(2 * 3600));
    let record = storage.load("me").await.unwrap().unwrap();
    let resumed = credentials(&server, &clock).with_record(&record);
    let second = Credentials::builder(resumed.clone())
        .with_storage(storage.clone(), "me")
        .build()
        .unwrap();
    let headers = second.headers().await.unwrap();
    assert_eq!(headers["authorization"], "Bearer at-2");
    let sent: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.form_value("refresh_token").unwrap().to_owned())
        .collect();
    assert_eq!(sent, ["1//refresh+token/=", "rt-rotated"]);
}

#[test]
fn to_record_keeps_state_and_leaves_the_client_secret_out() {
    let creds = UserCredentials::builder()
        .with_token("at")
        .with_refresh_token("rt")
        .with_client_id("cid")
        .with_client_secret("credkit-secret-client")
        .with_scopes(["email"])
        .with_quota_project("q")
        .build()
        .unwrap();
    let record = creds.to_record();
    let json = String::from_utf8(record.to_json().unwrap().to_vec()).unwrap();
    assert!(!json.contains("credkit-secret-client"));
    assert_eq!(record.refresh_token().unwrap().expose_secret(), "rt");
    assert_eq!(record.provider_fields()["quota_project_id"], "q");
    let back = UserCredentials::builder()
        .build()
        .unwrap()
        .with_record(&record);
    assert_eq!(back.token().unwrap().expose_secret(), "at");
    assert_eq!(back.refresh_token().unwrap().expose_secret(), "rt");
}
