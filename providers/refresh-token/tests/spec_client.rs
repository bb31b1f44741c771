//! The reference's `tests/oauth2/test__client.py` (10.3), ported for the refresh-token grant.
//!
//! Ported: items 1–9, 11–15, 22–24, 29–31 (20 of 39 functions). Where credkit departs from the
//! reference (DESIGN.md) the test asserts credkit's behaviour and says so. Not ported: items
//! 10 and 16–21, 25–28 (JSON-bodied reauth requests, JWT and IAM grants: service-account
//! paths, not user credentials), 32–39 (trust-boundary lookups, not used by user credentials).
//! Retries (items 12–14, 29–31) run through core's `Retrying`, the one retry layer, on an
//! auto-advancing `FakeClock`.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use credkit_core::{ErrorKind, RetryPolicy, Retrying, TokenSource, Transport};
use credkit_refresh_token::UserCredentials;
use credkit_testing::FakeClock;
use futures::executor::block_on;
use secrecy::ExposeSecret;
use serde_json::json;
use support::Scripted;

fn credentials(transport: Arc<dyn Transport>, clock: &FakeClock) -> UserCredentials {
    UserCredentials::builder()
        .with_refresh_token("refresh_token")
        .with_token_uri("https://example.com/token")
        .with_client_id("client_id")
        .with_client_secret("client_secret")
        .with_rapt_token("rapt_token")
        .with_transport(transport)
        .with_clock(clock.clone())
        .build()
        .unwrap()
}

fn fetch_once(transport: &Arc<Scripted>) -> credkit_core::Result<credkit_core::AccessToken> {
    let clock = FakeClock::new();
    block_on(credentials(transport.clone(), &clock).fetch_token())
}

fn fetch_with_retries(
    transport: &Arc<Scripted>,
    policy: RetryPolicy,
) -> (credkit_core::Result<credkit_core::AccessToken>, FakeClock) {
    let clock = FakeClock::new().with_auto_advance(true);
    let source = Retrying::new(
        credentials(transport.clone(), &clock),
        policy,
        Arc::new(clock.clone()),
    );
    (block_on(source.fetch_token()), clock)
}

#[test]
fn error_response_message_and_transience() {
    for (status, transient) in [(400, false), (503, true)] {
        let transport = Scripted::new().reply(
            status,
            json!({"error": "help", "error_description": "I'm alive"}),
        );
        let err = fetch_once(&transport).unwrap_err();
        assert!(err.to_string().contains("help: I'm alive"));
        assert_eq!(err.is_transient(), transient);
        assert_eq!(err.http_status(), Some(status));
        assert_eq!(err.oauth_error(), Some("help"));
        assert_eq!(err.error_description(), Some("I'm alive"));
    }
}

#[test]
fn error_response_without_error_is_typed_without_the_body() {
    // credkit decision: the reference puts the JSON body in the message; credkit names status and
    // content type instead, since a body may carry a token.
    let transport = Scripted::new().reply(400, json!({"foo": "bar"}));
    let err = fetch_once(&transport).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenEndpoint);
    assert!(!err.to_string().contains("bar"));
    assert!(err.to_string().contains("400") && err.to_string().contains("application/json"));
    assert!(!err.is_transient());
}

#[test]
fn non_json_error_body_is_typed_without_the_body() {
    let transport = Scripted::new().reply_raw(400, "text/plain", "this is an error message");
    let err = fetch_once(&transport).unwrap_err();
    assert!(!err.to_string().contains("this is an error message"));
    assert!(err.to_string().contains("text/plain"));
    assert!(!err.is_transient());
}

#[test]
fn retryable_exactly_for_the_five_statuses() {
    for status in (100..=599_u16).filter(|s| *s != 200) {
        let transport = Scripted::new().reply(status, json!({"error": "invalid_scope"}));
        let err = fetch_once(&transport).unwrap_err();
        let expected = [500, 503, 504, 408, 429].contains(&status);
        assert_eq!(err.is_transient(), expected, "status {status}");
        assert_eq!(err.http_status(), Some(status));
    }
}

#[test]
fn retryable_oauth_codes() {
    for body in [
        json!({"error": "internal_failure"}),
        json!({"error": "server_error"}),
        // As the reference writes it: no `error` member (issue 12, bug 4).
        json!({"error_description": "internal_failure"}),
    ] {
        let transport = Scripted::new().reply(400, body);
        assert!(fetch_once(&transport).unwrap_err().is_transient());
    }
    for body in [
        json!({"error": "invalid_scope"}),
        json!({"error": {"foo": "bar"}}),
        // Python's `{"foo", "bar"}` is a set; JSON's nearest is a list. Not a string either way.
        json!({"error_description": ["foo", "bar"]}),
        json!({"error": "server_error", "error_description": {"foo": "bar"}}),
    ] {
        let transport = Scripted::new().reply(400, body);
        assert!(!fetch_once(&transport).unwrap_err().is_transient());
    }
}

#[test]
fn parse_expiry_number_string_and_none() {
    let clock = FakeClock::new();
    for expires_in in [json!(500), json!("500")] {
        let transport =
            Scripted::new().reply(200, json!({"access_token": "t", "expires_in": expires_in}));
        let token = block_on(credentials(transport, &clock).fetch_token()).unwrap();
        assert_eq!(
            token.expiry(),
            Some(credkit_core::Clock::now(&clock) + time::Duration::seconds(500))
        );
    }
    let transport = Scripted::new().reply(200, json!({"access_token": "t"}));
    assert_eq!(
        block_on(credentials(transport, &clock).fetch_token())
            .unwrap()
            .expiry(),
        None
    );
}

#[test]
fn token_endpoint_request_shape() {
    let transport = Scripted::new().reply(
        200,
        json!({"access_token": "token", "refresh_token": "new_refresh_token", "expires_in": 500}),
    );
    let creds = UserCredentials::builder()
        .with_refresh_token("refresh_token")
        .with_token_uri("https://example.com/token")
        .with_client_id("client_id")
        .with_client_secret("client_secret")
        .with_rapt_token("rapt_token")
        .with_scopes([
            "https://www.googleapis.com/auth/pubsub",
            "https://www.googleapis.com/auth/logging.write",
        ])
        .with_transport(transport.clone())
        .build()
        .unwrap();
    let token = block_on(creds.fetch_token()).unwrap();
    let seen = &transport.seen()[0];
    assert_eq!(seen.method, http::Method::POST);
    assert_eq!(
        seen.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert!(seen.headers.get("authorization").is_none());
    assert!(seen.headers.get("x-goog-api-client").is_none());
    let fields: Vec<(String, String)> = seen.form();
    let expected = [
        ("grant_type", "refresh_token"),
        ("client_id", "client_id"),
        ("client_secret", "client_secret"),
        ("refresh_token", "refresh_token"),
        (
            "scope",
            "https://www.googleapis.com/auth/pubsub https://www.googleapis.com/auth/logging.write",
        ),
        ("rapt", "rapt_token"),
    ];
    assert_eq!(fields, expected.map(|(k, v)| (k.to_owned(), v.to_owned())));
    assert_eq!(token.secret().expose_secret(), "token");
    assert_eq!(
        token.rotated_refresh_token().unwrap().expose_secret(),
        "new_refresh_token"
    );
    assert_eq!(
        creds.refresh_token().unwrap().expose_secret(),
        "new_refresh_token"
    );
}

#[test]
fn no_access_token_in_response() {
    let transport = Scripted::new().reply(200, json!({"foo": 1}));
    let err = fetch_once(&transport).unwrap_err();
    assert_eq!(err.to_string(), "No access token in response.");
    assert!(!err.is_transient());
}

#[test]
fn empty_error_object_is_an_error() {
    let transport = Scripted::new().reply(400, json!({}));
    assert_eq!(
        fetch_once(&transport).unwrap_err().kind(),
        ErrorKind::TokenEndpoint
    );
}

#[test]
fn internal_failure_is_retried_three_times() {
    // The reference's `test__token_endpoint_request_internal_failure_error`, both bodies as it
    // writes them (issue 12, bug 4: the first has no `error` member).
    for body in [
        json!({"error_description": "internal_failure"}),
        json!({"error": "internal_failure"}),
    ] {
        let transport = Scripted::new().reply(400, body);
        let (result, clock) = fetch_with_retries(&transport, RetryPolicy::default());
        assert!(result.is_err());
        assert_eq!(transport.count(), 3);
        assert_eq!(clock.sleeps().len(), 2);
    }
}

#[test]
fn retryable_then_permanent_stops_at_the_permanent_one() {
    let transport = Scripted::new()
        .reply(400, json!({"error": "internal_failure"}))
        .reply(400, json!({"error": "internal_failure"}))
        .reply(400, json!({"error": "invalid_scope"}));
    let (result, _) = fetch_with_retries(&transport, RetryPolicy::default());
    assert_eq!(result.unwrap_err().oauth_error(), Some("invalid_scope"));
    assert_eq!(transport.count(), 3);
}

#[test]
fn retryable_then_success() {
    let transport = Scripted::new()
        .reply(400, json!({"error": "internal_failure"}))
        .reply(200, json!({"access_token": "t", "expires_in": 3600}));
    let (result, _) = fetch_with_retries(&transport, RetryPolicy::default());
    assert!(result.is_ok());
    assert_eq!(transport.count(), 2);
}

#[test]
fn retries_follow_the_policy() {
    let transport = Scripted::new().reply(500, json!({"error": "server_error"}));
    let (_, _) = fetch_with_retries(&transport, RetryPolicy::default());
    assert_eq!(transport.count(), 3);
    let transport = Scripted::new().reply(500, json!({"error": "server_error"}));
    let (_, _) = fetch_with_retries(&transport, RetryPolicy::none());
    assert_eq!(transport.count(), 1);
}
