//! Revocation (RFC 7009) against a scripted endpoint.
// Test helpers outside #[test] functions unwrap and panic as the tests do.
#![allow(clippy::unwrap_used, clippy::panic)]

use credkit_core::ErrorKind;
use credkit_login::{Revocation, Revoker, TokenKind};
use credkit_refresh_token::UserCredentials;
use credkit_testing::{FakeTokenEndpoint, Reply};
use secrecy::SecretString;

const REVOKE_URI: &str = "http://127.0.0.1:9/revoke";

fn revoker(endpoint: &FakeTokenEndpoint) -> Revoker {
    Revoker::new(endpoint.clone()).with_uri(REVOKE_URI)
}

#[tokio::test]
async fn a_refresh_token_is_revoked_with_the_rfcs_members() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(Reply::json(200, serde_json::json!({})));
    let token = SecretString::from("1//refresh+token/x");
    let outcome = revoker(&endpoint)
        .revoke(&token, TokenKind::RefreshToken)
        .await
        .unwrap();
    assert_eq!(outcome, Revocation::Revoked);
    let request = endpoint.last_request().unwrap();
    assert_eq!(request.method(), "POST");
    assert_eq!(request.path(), "/revoke");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(request.form_keys(), ["token", "token_type_hint"]);
    assert_eq!(request.form_value("token"), Some("1//refresh+token/x"));
    assert_eq!(request.form_value("token_type_hint"), Some("refresh_token"));
}

#[tokio::test]
async fn an_unknown_token_is_already_invalid_not_an_error() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(Reply::oauth_error(
        400,
        "invalid_token",
        Some("Token expired or revoked"),
    ));
    let outcome = revoker(&endpoint)
        .revoke(&SecretString::from("ya29.a"), TokenKind::AccessToken)
        .await
        .unwrap();
    assert_eq!(outcome, Revocation::AlreadyInvalid);
    assert_eq!(
        endpoint
            .last_request()
            .unwrap()
            .form_value("token_type_hint"),
        Some("access_token")
    );
}

#[tokio::test]
async fn other_failures_are_errors_that_never_repeat_the_token() {
    for (reply, transient) in [
        (
            Reply::oauth_error(503, "temporarily_unavailable", Some("try 1//secret later")),
            true,
        ),
        (Reply::oauth_error(400, "invalid_request", None), false),
        (Reply::html(502, "<html>gateway</html>"), false),
    ] {
        let endpoint = FakeTokenEndpoint::new();
        endpoint.push_reply(reply);
        let err = revoker(&endpoint)
            .revoke(&SecretString::from("1//secret"), TokenKind::RefreshToken)
            .await
            .unwrap_err();
        assert_eq!(err.is_transient(), transient, "{err}");
        assert!(!err.to_string().contains("1//secret"), "{err}");
    }
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(Reply::reset());
    let err = revoker(&endpoint)
        .revoke(&SecretString::from("t"), TokenKind::RefreshToken)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
}

#[tokio::test]
async fn credentials_revoke_their_refresh_token_else_their_access_token() {
    let endpoint = FakeTokenEndpoint::new();
    let both = UserCredentials::builder()
        .with_refresh_token("1//r")
        .with_token("ya29.t")
        .build()
        .unwrap();
    revoker(&endpoint).revoke_credentials(&both).await.unwrap();
    let request = endpoint.last_request().unwrap();
    assert_eq!(request.form_value("token"), Some("1//r"));
    assert_eq!(request.form_value("token_type_hint"), Some("refresh_token"));

    let access_only = UserCredentials::builder()
        .with_token("ya29.t")
        .build()
        .unwrap();
    revoker(&endpoint)
        .revoke_credentials(&access_only)
        .await
        .unwrap();
    let request = endpoint.last_request().unwrap();
    assert_eq!(request.form_value("token"), Some("ya29.t"));
    assert_eq!(request.form_value("token_type_hint"), Some("access_token"));

    let empty = UserCredentials::builder().build().unwrap();
    let err = revoker(&endpoint)
        .revoke_credentials(&empty)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(endpoint.request_count(), 2);
}

#[tokio::test]
async fn the_endpoint_must_be_https_or_loopback() {
    let endpoint = FakeTokenEndpoint::new();
    let err = Revoker::new(endpoint.clone())
        .with_uri("http://oauth2.example.com/revoke")
        .revoke(&SecretString::from("t"), TokenKind::RefreshToken)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(
        err.to_string()
            .starts_with("the revocation endpoint is not an https:// URL")
    );
    assert_eq!(endpoint.request_count(), 0);
    let google = Revoker::new(endpoint);
    assert_eq!(google.uri(), credkit_login::GOOGLE_REVOKE_URI);
    assert!(format!("{google:?}").contains("oauth2.googleapis.com/revoke"));
}
