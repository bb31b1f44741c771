//! Unit tests of the token-response reader.

use time::macros::datetime;

use super::*;

const NOW: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

fn response(status: u16, content_type: &str, body: &'static [u8]) -> http::Response<Bytes> {
    http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Bytes::from_static(body))
        .unwrap()
}

fn ok(body: &'static [u8]) -> Result<AccessToken> {
    read_token_response(&response(200, "application/json", body), NOW, &[])
}

#[test]
fn expires_in_forms() {
    for (body, secs) in [
        (&br#"{"access_token":"t","expires_in":500}"#[..], 500.0),
        (br#"{"access_token":"t","expires_in":"500"}"#, 500.0),
        (br#"{"access_token":"t","expires_in":"3599.5"}"#, 3599.5),
        (br#"{"access_token":"t","expires_in":0}"#, 0.0),
    ] {
        let token = ok(body).unwrap();
        let expected = NOW + time::Duration::seconds_f64(secs);
        assert_eq!(token.expiry(), Some(expected));
        assert_eq!(token.issued_at(), Some(NOW));
    }
    assert_eq!(ok(br#"{"access_token":"t"}"#).unwrap().expiry(), None);
    assert_eq!(
        ok(br#"{"access_token":"t","expires_in":null}"#)
            .unwrap()
            .expiry(),
        None
    );
}

#[test]
fn bad_expires_in_is_a_typed_error() {
    for body in [
        &br#"{"access_token":"t","expires_in":-1}"#[..],
        br#"{"access_token":"t","expires_in":"soon"}"#,
        br#"{"access_token":"t","expires_in":[1]}"#,
        br#"{"access_token":"t","expires_in":"NaN"}"#,
    ] {
        assert_eq!(ok(body).unwrap_err().kind(), ErrorKind::InvalidResponse);
    }
    let absurd = ok(br#"{"access_token":"t","expires_in":1e300}"#).unwrap();
    assert!(absurd.expiry().is_some_and(|e| e > NOW));
}

#[test]
fn missing_access_token_uses_the_reference_text() {
    let err = ok(br#"{"foo":1}"#).unwrap_err();
    assert_eq!(err.to_string(), "No access token in response.");
    assert!(!err.is_transient());
}

#[test]
fn non_json_success_bodies_are_typed_errors_without_the_body() {
    for (content_type, body) in [
        ("text/html", &b"<html>secret-page</html>"[..]),
        ("application/json", b""),
        ("application/json", br#"{"access_token":"secret-page"#),
        ("application/json", br#"{"access_token":5}"#),
        ("application/json", br#"["secret-page"]"#),
    ] {
        let err = read_token_response(&response(200, content_type, body), NOW, &[]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{body:?}");
        assert!(!err.to_string().contains("secret-page"));
    }
}

#[test]
fn header_injection_is_rejected() {
    let err = ok(b"{\"access_token\":\"a\\r\\nx-evil: 1\"}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
}

#[test]
fn rotation_id_token_scopes_and_extras() {
    let token = ok(br#"{"access_token":"t","refresh_token":"rt2","id_token":"idt","scope":"a  b\tc","token_type":"bearer","foo":"bar"}"#).unwrap();
    assert_eq!(
        token.rotated_refresh_token().unwrap().expose_secret(),
        "rt2"
    );
    assert_eq!(token.id_token().unwrap().expose_secret(), "idt");
    assert_eq!(token.granted_scopes().unwrap(), ["a", "b", "c"]);
    assert_eq!(token.token_type(), "bearer");
    assert_eq!(token.extra()["foo"], "bar");
    let null_rotation = ok(br#"{"access_token":"t","refresh_token":null}"#).unwrap();
    assert!(null_rotation.rotated_refresh_token().is_none());
}

#[test]
fn error_responses() {
    let err = error_from_response(
        &response(400, "application/json", br#"{"error":"invalid_grant","error_description":"Token has been expired or revoked.","error_subtype":"invalid_rapt"}"#),
        NOW,
        &[],
    );
    assert_eq!(err.kind(), ErrorKind::TokenEndpoint);
    assert_eq!(err.http_status(), Some(400));
    assert_eq!(err.error_subtype(), Some("invalid_rapt"));
    assert!(!err.is_transient());

    let html = error_from_response(
        &response(503, "text/html", b"<h1>busy secret</h1>"),
        NOW,
        &[],
    );
    assert_eq!(html.http_status(), Some(503));
    assert!(html.is_transient());
    assert!(!html.to_string().contains("secret"));
    assert!(html.to_string().contains("503") && html.to_string().contains("text/html"));

    let no_error = error_from_response(
        &response(400, "application/json", br#"{"foo":"bar"}"#),
        NOW,
        &[],
    );
    assert_eq!(no_error.oauth_error(), None);
    assert!(!no_error.is_transient());

    let retryable = error_from_response(
        &response(
            400,
            "application/json",
            br#"{"error":"temporarily_unavailable"}"#,
        ),
        NOW,
        &[],
    );
    assert!(retryable.is_transient());
}

#[test]
fn retry_after_header_is_kept() {
    let response = http::Response::builder()
        .status(429)
        .header("retry-after", "7")
        .body(Bytes::new())
        .unwrap();
    let err = read_token_response(&response, NOW, &[]).unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "retry-after",
        "Thu, 01 Jan 2015 00:00:00 GMT".parse().unwrap(),
    );
    assert_eq!(retry_after(&headers, NOW), Some(Duration::ZERO));
    headers.insert("retry-after", "garbage".parse().unwrap());
    assert_eq!(retry_after(&headers, NOW), None);
}

// Issue 12, bug 4: the reference's retry rule reads `error_description` without `error`.
#[test]
fn description_alone_decides_transience() {
    let err = error_from_response(
        &response(
            400,
            "application/json",
            br#"{"error_description":"internal_failure"}"#,
        ),
        NOW,
        &[],
    );
    assert!(err.is_transient());
    assert_eq!(err.kind(), ErrorKind::TokenEndpoint);
    assert_eq!(err.http_status(), Some(400));
    assert_eq!(
        err.to_string(),
        "the token endpoint answered HTTP 400 with an application/json body that is not an OAuth error response; its error_description: internal_failure"
    );
    for body in [
        &br#"{"error":"server_error","error_description":{"foo":"bar"}}"#[..],
        br#"{"error":{"foo":"bar"}}"#,
        br#"{"error_description":["internal_failure"]}"#,
    ] {
        let err = error_from_response(&response(400, "application/json", body), NOW, &[]);
        assert!(!err.is_transient(), "{body:?}");
    }
}

#[test]
fn echoed_secrets_are_removed_from_every_field() {
    let refresh = SecretString::from("1//0gRefreshSecret");
    let client = SecretString::from("client-secret-value");
    let err = error_from_response(
        &response(
            400,
            "application/json",
            b"{\"error\":\"invalid_grant client-secret-value\",\"error_description\":\"Invalid refresh token: 1//0gRefreshSecret\\r\\nforged\",\"error_subtype\":\"1%2F%2F0gRefreshSecret\"}",
        ),
        NOW,
        &[&refresh, &client],
    );
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains("RefreshSecret") && !shown.contains("client-secret-value"),
        "{shown}"
    );
    assert!(!err.to_string().contains(['\r', '\n']));
    assert_eq!(
        err.error_description(),
        Some("Invalid refresh token: [REDACTED]\u{FFFD}\u{FFFD}forged")
    );
    let description_only = error_from_response(
        &response(
            400,
            "application/json",
            br#"{"error_description":"bad 1//0gRefreshSecret"}"#,
        ),
        NOW,
        &[&refresh],
    );
    assert!(!description_only.to_string().contains("RefreshSecret"));
}

#[test]
fn duplicate_and_flattened_members() {
    let err = ok(br#"{"access_token":"a","access_token":"b"}"#).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    let token = ok(br#"{"extra":{"nested":[1,2]},"access_token":"a"}"#).unwrap();
    assert_eq!(token.extra()["extra"]["nested"][1], 2);
}

/// Found by the `token_response` fuzz target: an endpoint that echoes a secret in its
/// `content-type` never gets it into the error, and a content type that is not a media type is
/// never repeated.
#[test]
fn fuzz_regression_a_secret_in_the_content_type_is_never_repeated() {
    let secret = SecretString::from("1//planted-refresh-Zq9xK4mW");
    let now = time::macros::datetime!(2026-01-01 0:00 UTC);
    for content_type in [
        "1//planted-refresh-Zq9xK4mW",
        "text/1//planted-refresh-Zq9xK4mW",
    ] {
        let response = http::Response::builder()
            .status(503)
            .header("content-type", content_type)
            .body(Bytes::from_static(b"\t\t"))
            .unwrap();
        let error = read_token_response(&response, now, &[&secret]).unwrap_err();
        assert!(!error.to_string().contains("planted"), "{error}");
        assert!(error.to_string().contains("an untyped body"), "{error}");
    }
    let not_a_media_type = http::Response::builder()
        .status(503)
        .header("content-type", "a/b/c")
        .body(Bytes::from_static(b"<html>"))
        .unwrap();
    let error = error_from_response(&not_a_media_type, now, &[]);
    assert!(error.to_string().contains("an untyped body"), "{error}");
}
