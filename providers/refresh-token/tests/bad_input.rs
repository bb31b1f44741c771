//! Hostile and malformed input gets a typed error with a clear message, never a panic, and never
//! a secret in the message.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use credkit_core::{ErrorKind, TokenSource};
use credkit_refresh_token::UserCredentials;
use futures::executor::block_on;
use proptest::prelude::*;
use serde_json::json;
use support::Scripted;

const SECRET: &str = "credkit-secret-do-not-leak-0123456789";

fn creds(transport: std::sync::Arc<Scripted>) -> UserCredentials {
    UserCredentials::builder()
        .with_refresh_token(SECRET)
        .with_token_uri("https://example.com/token")
        .with_client_id("client")
        .with_client_secret(SECRET)
        .with_transport(transport)
        .build()
        .unwrap()
}

#[test]
fn malformed_authorized_user_info() {
    let cases = [
        (json!("just a string"), "not a JSON object"),
        (json!([1, 2]), "not a JSON object"),
        (
            json!({"client_id": 5, "client_secret": SECRET, "refresh_token": SECRET}),
            "client_id must be a string",
        ),
        (
            json!({"client_id": "c", "client_secret": SECRET, "refresh_token": SECRET, "scopes": [1]}),
            "scopes must be",
        ),
        (
            json!({"client_id": "c", "client_secret": SECRET, "refresh_token": SECRET, "expiry": "tomorrow"}),
            "expiry",
        ),
        (
            json!({"client_id": "c", "client_secret": SECRET, "refresh_token": SECRET, "type": "service_account"}),
            "type service_account",
        ),
        (
            json!({"client_id": "c", "client_secret": SECRET, "refresh_token": SECRET, "type": 7}),
            "type must be a string",
        ),
        (
            json!({"client_id": "c", "client_secret": SECRET, "refresh_token": SECRET, "token": "a\r\nx-evil: 1"}),
            "control",
        ),
        (
            json!({"client_id": "c"}),
            "missing fields refresh_token, client_secret.",
        ),
    ];
    for (info, expected) in cases {
        let err = UserCredentials::from_authorized_user_info(&info, None).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        assert!(!message.contains(SECRET), "{message}");
    }
}

#[test]
fn null_required_fields_pass_as_in_the_reference() {
    let info = json!({"client_id": null, "client_secret": null, "refresh_token": null});
    let creds = UserCredentials::from_authorized_user_info(&info, None).unwrap();
    assert!(creds.client_id().is_none());
    assert_eq!(
        block_on(creds.fetch_token()).unwrap_err().kind(),
        ErrorKind::Configuration
    );
}

#[test]
fn malformed_and_truncated_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let err = UserCredentials::from_authorized_user_file(&missing, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("File {} was not found.", missing.display())
    );
    assert!(err.is_loading());

    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, format!("{{\"refresh_token\": \"{SECRET}")).unwrap();
    let err = UserCredentials::from_authorized_user_file(&truncated, None).unwrap_err();
    assert!(err.to_string().starts_with(&format!(
        "File {} is not a valid json file.",
        truncated.display()
    )));
    assert!(!err.to_string().contains(SECRET));
    assert!(err.is_parsing());

    let huge = dir.path().join("huge.json");
    std::fs::write(&huge, vec![b' '; 2 * 1024 * 1024]).unwrap();
    assert!(
        UserCredentials::from_authorized_user_file(&huge, None)
            .unwrap_err()
            .to_string()
            .contains("larger than 1 MiB")
    );
}

#[test]
fn hostile_token_endpoint_replies() {
    let cases: Vec<(u16, &'static str, String, ErrorKind)> = vec![
        (
            200,
            "application/json",
            String::new(),
            ErrorKind::InvalidResponse,
        ),
        (
            200,
            "text/html",
            format!("<html>{SECRET}</html>"),
            ErrorKind::InvalidResponse,
        ),
        (
            200,
            "application/json",
            format!("{{\"access_token\": \"{SECRET}"),
            ErrorKind::InvalidResponse,
        ),
        (
            200,
            "application/json",
            format!("{{\"access_token\": \"{SECRET}\\r\\nx: y\"}}"),
            ErrorKind::InvalidResponse,
        ),
        (
            200,
            "application/json",
            format!("{{\"access_token\": \"{SECRET}\", \"expires_in\": -5}}"),
            ErrorKind::InvalidResponse,
        ),
        (
            200,
            "application/json",
            format!("{{\"access_token\": 12, \"id_token\": \"{SECRET}\"}}"),
            ErrorKind::InvalidResponse,
        ),
        (
            503,
            "text/html",
            format!("<h1>Service Unavailable {SECRET}</h1>"),
            ErrorKind::TokenEndpoint,
        ),
        (
            400,
            "application/json",
            format!("[\"{SECRET}\"]"),
            ErrorKind::TokenEndpoint,
        ),
    ];
    for (status, content_type, body, kind) in cases {
        let transport = Scripted::new().reply_raw(status, content_type, body.clone());
        let err = block_on(creds(transport).fetch_token()).unwrap_err();
        assert_eq!(err.kind(), kind, "{body}");
        assert!(!err.to_string().contains(SECRET), "{err}");
        assert!(!format!("{err:?}").contains(SECRET), "{err:?}");
    }
}

#[test]
fn absurd_expires_in_saturates() {
    let transport = Scripted::new().reply(200, json!({"access_token": "t", "expires_in": 1e300}));
    let token = block_on(creds(transport).fetch_token()).unwrap();
    assert!(token.expiry().is_some());
}

#[test]
fn reauth_needed_text() {
    for subtype in ["invalid_rapt", "rapt_required"] {
        for enabled in [false, true] {
            let transport = Scripted::new().reply(
                400,
                json!({"error": "invalid_grant", "error_subtype": subtype}),
            );
            let creds = UserCredentials::builder()
                .with_refresh_token("r")
                .with_token_uri("https://example.com/token")
                .with_client_id("c")
                .with_client_secret("s")
                .with_enable_reauth_refresh(enabled)
                .with_transport(transport.clone())
                .build()
                .unwrap();
            let err = block_on(creds.fetch_token()).unwrap_err();
            assert_eq!(
                err.to_string(),
                "Reauthentication is needed. Please run `gcloud auth application-default login` to reauthenticate."
            );
            assert_eq!(err.kind(), ErrorKind::ReauthRequired);
            assert!(!err.is_transient());
            assert_eq!(err.error_subtype(), Some(subtype));
            assert_eq!(transport.count(), 1);
        }
    }
    // invalid_grant without a rapt subtype is the plain endpoint error.
    let transport = Scripted::new().reply(400, json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}));
    let err = block_on(creds(transport).fetch_token()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid_grant: Token has been expired or revoked."
    );
    assert_eq!(err.kind(), ErrorKind::TokenEndpoint);
}

#[test]
fn missing_transport_is_a_clear_configuration_error() {
    let creds = UserCredentials::builder()
        .with_refresh_token("r")
        .with_token_uri("https://example.com/token")
        .with_client_id("c")
        .with_client_secret("s")
        .build()
        .unwrap();
    let err = block_on(creds.fetch_token()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains("with_transport"));
}

proptest! {
    #[test]
    fn arbitrary_token_response_bodies_never_panic(status in prop_oneof![Just(200_u16), 400_u16..600], body in any::<Vec<u8>>()) {
        let transport = Scripted::new().reply_raw(status, "application/json", String::from_utf8_lossy(&body).into_owned());
        let _ = block_on(creds(transport).fetch_token());
    }

    #[test]
    fn arbitrary_json_token_responses_never_panic(value in arbitrary_json()) {
        let transport = Scripted::new().reply(200, value);
        if let Err(err) = block_on(creds(transport).fetch_token()) {
            prop_assert!(!err.to_string().contains(SECRET));
        }
    }

    #[test]
    fn arbitrary_authorized_user_info_never_panics(value in arbitrary_json()) {
        let _ = UserCredentials::from_authorized_user_info(&value, None);
    }
}

fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[a-z0-9 .\r\n-]{0,12}".prop_map(serde_json::Value::from),
    ];
    let keys = prop_oneof![
        Just("access_token".to_owned()),
        Just("expires_in".to_owned()),
        Just("refresh_token".to_owned()),
        Just("id_token".to_owned()),
        Just("scope".to_owned()),
        Just("token_type".to_owned()),
        Just("client_id".to_owned()),
        Just("client_secret".to_owned()),
        Just("expiry".to_owned()),
        Just("scopes".to_owned()),
        Just("type".to_owned()),
        Just("token".to_owned()),
        "[a-z_]{1,8}",
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(keys.clone(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Found by the `authorized_user_fields` fuzz target: written and loaded again, a document
/// reaches a fixed point after one round trip. (The first `to_json` of a document without an
/// expiry writes the reference's default expiry with microseconds; loading drops them, as the
/// reference's parser does, so only the first round trip may change that member.)
#[test]
fn fuzz_regression_round_trip_reaches_a_fixed_point() {
    let document = serde_json::json!({
        "refresh_token": "1//planted-0-Zq9xK4mW",
        "client_id": "\t\t\u{1b}1//planted-1-Zq9xK4mW",
        "trust_boundary": "1//planted-2-Zq9xK4mW",
        "client_secret": "1//planted-3-Zq9xK4mW",
    });
    let round_trip = |creds: &UserCredentials| {
        let written = creds.to_json(&[]);
        let again: serde_json::Value = serde_json::from_str(&written).unwrap();
        (
            UserCredentials::from_authorized_user_info(&again, None).unwrap(),
            written,
        )
    };
    let creds = UserCredentials::from_authorized_user_info(&document, None).unwrap();
    let (once, first) = round_trip(&creds);
    let (twice, second) = round_trip(&once);
    let (_, third) = round_trip(&twice);
    assert_eq!(*second, *third);
    assert!(first.contains(r#""client_id": "\t\t\u001b1//planted-1-Zq9xK4mW""#));
}

/// Found by the `authorized_user_fields` fuzz target, kept as the reference behaves: a required
/// member that is present but `null` passes the presence check at load, and `to_json` leaves
/// it out, so the written document no longer loads. The refresh itself fails with the
/// reference's "necessary fields" error before any request.
#[test]
fn fuzz_regression_a_null_required_member_loads_and_is_not_written() {
    let document = serde_json::json!({
        "refresh_token": "1//planted-0-Zq9xK4mW",
        "client_secret": "secret",
        "client_id": null,
    });
    let creds = UserCredentials::from_authorized_user_info(&document, None).unwrap();
    assert_eq!(creds.client_id(), None);
    let written: serde_json::Value = serde_json::from_str(&creds.to_json(&[])).unwrap();
    assert!(written.get("client_id").is_none());
    let error = UserCredentials::from_authorized_user_info(&written, None).unwrap_err();
    assert!(error.is_missing_field());
}
