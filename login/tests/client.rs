//! Reading the OAuth client from Google's `client_secret.json`.
// Test helpers outside #[test] functions unwrap and panic as the tests do.
#![allow(clippy::unwrap_used, clippy::panic)]

use credkit_login::{
    ClientKind, GOOGLE_AUTH_URI, GOOGLE_DEVICE_AUTHORIZATION_URI, GOOGLE_REVOKE_URI,
    GOOGLE_TOKEN_URI, MAX_CLIENT_SECRETS_BYTES, OAuthClient,
};
use secrecy::ExposeSecret;

/// What the Cloud console downloads for a desktop client.
const INSTALLED: &str = r#"{"installed":{"client_id":"123-abc.apps.googleusercontent.com","project_id":"proj","auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"https://oauth2.googleapis.com/token","auth_provider_x509_cert_url":"https://www.googleapis.com/oauth2/v1/certs","client_secret":"GOCSPX-secret","redirect_uris":["http://localhost"]}}"#;

#[test]
fn a_desktop_clients_file_is_read() {
    let client = OAuthClient::from_client_secrets_json(INSTALLED.as_bytes()).unwrap();
    assert_eq!(client.kind(), ClientKind::Installed);
    assert_eq!(client.client_id(), "123-abc.apps.googleusercontent.com");
    assert_eq!(
        client.client_secret().unwrap().expose_secret(),
        "GOCSPX-secret"
    );
    assert_eq!(client.auth_uri(), GOOGLE_AUTH_URI);
    assert_eq!(client.token_uri(), GOOGLE_TOKEN_URI);
    assert_eq!(
        client.device_authorization_uri(),
        GOOGLE_DEVICE_AUTHORIZATION_URI
    );
    assert_eq!(client.revoke_uri(), GOOGLE_REVOKE_URI);
    assert_eq!(client.redirect_uris(), ["http://localhost"]);
    let debug = format!("{client:?}");
    assert!(!debug.contains("GOCSPX-secret"), "{debug}");
    assert!(debug.contains("[REDACTED]"));
}

#[test]
fn a_web_clients_file_and_its_endpoints_are_read() {
    let json = br#"{"web":{"client_id":"w","client_secret":"s","auth_uri":"http://127.0.0.1:1/auth","token_uri":"http://127.0.0.1:1/token","redirect_uris":["http://localhost:8085/"]}}"#;
    let client = OAuthClient::from_client_secrets_json(json).unwrap();
    assert_eq!(client.kind(), ClientKind::Web);
    assert_eq!(client.auth_uri(), "http://127.0.0.1:1/auth");
    assert_eq!(client.token_uri(), "http://127.0.0.1:1/token");
    let client = client
        .with_device_authorization_uri("http://127.0.0.1:1/device")
        .with_revoke_uri("http://127.0.0.1:1/revoke");
    assert_eq!(
        client.device_authorization_uri(),
        "http://127.0.0.1:1/device"
    );
    assert_eq!(client.revoke_uri(), "http://127.0.0.1:1/revoke");
}

#[test]
fn endpoints_default_to_googles_and_the_secret_is_optional() {
    let client =
        OAuthClient::from_client_secrets_json(br#"{"installed":{"client_id":"c"}}"#).unwrap();
    assert!(client.client_secret().is_none());
    assert_eq!(client.token_uri(), GOOGLE_TOKEN_URI);
    assert!(client.redirect_uris().is_empty());
    let given = OAuthClient::new("c", None);
    assert_eq!(given.kind(), ClientKind::Given);
    assert!(given.redirect_uris().is_empty());
}

#[test]
fn files_that_are_not_a_client_are_refused_without_quoting_them() {
    let big = format!(
        r#"{{"installed":{{"client_id":"c","pad":"{}"}}}}"#,
        "x".repeat(MAX_CLIENT_SECRETS_BYTES)
    );
    let cases: [(&[u8], &str); 8] = [
        (b"GOCSPX-leak not json", "not JSON"),
        (
            br#"{"installed":{"client_id":5,"client_secret":"GOCSPX-leak"}}"#,
            "wrong type",
        ),
        (
            br#"{"installed":{"client_id":"c"},"web":{"client_id":"c"}}"#,
            "both",
        ),
        (
            br#"{"other":{"client_id":"GOCSPX-leak"}}"#,
            "no \"installed\" or \"web\"",
        ),
        (
            br#"{"installed":{"client_secret":"GOCSPX-leak"}}"#,
            "client_id",
        ),
        (br#"{"installed":{"client_id":"  "}}"#, "client_id"),
        (b"[]", "wrong type"),
        (big.as_bytes(), "larger than"),
    ];
    for (json, said) in cases {
        let err = OAuthClient::from_client_secrets_json(json).unwrap_err();
        assert!(err.to_string().contains(said), "{said}: {err}");
        assert!(!err.to_string().contains("GOCSPX-leak"), "{err}");
    }
}

#[test]
fn a_file_is_read_and_a_missing_one_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client_secret.json");
    std::fs::write(&path, INSTALLED).unwrap();
    let client = OAuthClient::from_client_secrets_file(&path).unwrap();
    assert_eq!(client.client_id(), "123-abc.apps.googleusercontent.com");
    let missing = dir.path().join("nope.json");
    let err = OAuthClient::from_client_secrets_file(&missing).unwrap_err();
    assert!(err.is_loading());
    assert!(err.to_string().contains("nope.json"), "{err}");
    assert!(err.to_string().contains("no such file"), "{err}");
    let big = dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; MAX_CLIENT_SECRETS_BYTES + 10]).unwrap();
    let err = OAuthClient::from_client_secrets_file(&big).unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
}

#[test]
fn a_file_of_exactly_the_limit_is_read() {
    let head = r#"{"installed":{"client_id":"c","pad":""#;
    let tail = r#""}}"#;
    let pad = "x".repeat(MAX_CLIENT_SECRETS_BYTES - head.len() - tail.len());
    let json = format!("{head}{pad}{tail}");
    assert_eq!(json.len(), MAX_CLIENT_SECRETS_BYTES);
    assert!(OAuthClient::from_client_secrets_json(json.as_bytes()).is_ok());
    assert_eq!(MAX_CLIENT_SECRETS_BYTES, 64 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exact.json");
    std::fs::write(&path, &json).unwrap();
    assert!(OAuthClient::from_client_secrets_file(&path).is_ok());
}
