//! The device flow (RFC 8628) against a scripted endpoint on a fake clock: the wire, the
//! polling rules, and every way it ends.
// Test helpers outside #[test] functions unwrap and panic as the tests do.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use credkit_core::ErrorKind;
use credkit_login::{DEVICE_CODE_GRANT_TYPE, DeviceFlow, OAuthClient};
use credkit_testing::{FAKE_CLOCK_START, FakeClock, FakeTokenEndpoint, Reply};
use secrecy::ExposeSecret;
use serde_json::json;

const DEVICE_URI: &str = "http://127.0.0.1:9/device/code";

fn client(endpoint: &FakeTokenEndpoint) -> OAuthClient {
    OAuthClient::new("cid.apps", Some("csecret".into()))
        .with_token_uri(endpoint.token_url())
        .with_device_authorization_uri(DEVICE_URI)
}

fn device_answer() -> Reply {
    Reply::json(
        200,
        json!({"device_code": "dev-code-secret", "user_code": "WDJB-MJHT",
               "verification_url": "https://www.google.com/device", "expires_in": 1800, "interval": 5}),
    )
}

fn approved() -> Reply {
    Reply::json(
        200,
        json!({"access_token": "ya29.device", "expires_in": 3599, "refresh_token": "1//device-refresh",
               "scope": "openid email", "token_type": "Bearer", "id_token": "eyJ.x.y"}),
    )
}

fn pending() -> Reply {
    Reply::oauth_error(428, "authorization_pending", Some("Precondition Required"))
}

fn flow(endpoint: &FakeTokenEndpoint, clock: &FakeClock) -> DeviceFlow {
    DeviceFlow::new(client(endpoint), endpoint.clone())
        .with_scopes(["openid", "email"])
        .with_clock(clock.clone())
}

#[tokio::test]
async fn pending_and_slow_down_are_polled_through_until_approval() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_replies([
        device_answer(),
        pending(),
        Reply::oauth_error(403, "slow_down", None),
        pending(),
        approved(),
    ]);
    let clock = FakeClock::new().with_auto_advance(true);
    let device = flow(&endpoint, &clock).start().await.unwrap();
    assert_eq!(device.user_code(), "WDJB-MJHT");
    assert_eq!(device.verification_uri(), "https://www.google.com/device");
    assert_eq!(device.verification_uri_complete(), None);
    assert_eq!(device.interval(), Duration::from_secs(5));
    assert_eq!(
        device.expires_at(),
        FAKE_CLOCK_START + time::Duration::seconds(1800)
    );
    let debug = format!("{device:?}");
    assert!(!debug.contains("dev-code-secret"), "{debug}");
    assert!(debug.starts_with("DeviceAuthorization"), "{debug}");
    assert!(
        debug.contains("WDJB-MJHT") && debug.contains("https://www.google.com/device"),
        "{debug}"
    );
    let flow_debug = format!("{:?}", flow(&endpoint, &clock));
    assert!(
        flow_debug.starts_with("DeviceFlow") && flow_debug.contains("cid.apps"),
        "{flow_debug}"
    );
    assert!(!flow_debug.contains("csecret"), "{flow_debug}");

    let user = device.finish().await.unwrap();
    assert_eq!(
        user.refresh_token().unwrap().expose_secret(),
        "1//device-refresh"
    );
    assert_eq!(user.token().unwrap().expose_secret(), "ya29.device");
    assert_eq!(user.id_token().unwrap().expose_secret(), "eyJ.x.y");
    assert_eq!(user.granted_scopes().unwrap(), ["openid", "email"]);
    assert_eq!(user.client_id(), Some("cid.apps"));
    assert_eq!(user.token_uri(), Some(endpoint.token_url().as_str()));
    // Each poll waits the interval first; slow_down adds 5 s for good.
    assert_eq!(
        clock.sleeps(),
        [5, 5, 10, 10].map(Duration::from_secs).to_vec()
    );

    let requests = endpoint.requests();
    assert_eq!(requests.len(), 5);
    let start = &requests[0];
    assert_eq!(start.path(), "/device/code");
    assert_eq!(start.form_keys(), ["client_id", "scope"]);
    assert_eq!(start.form_value("scope"), Some("openid email"));
    for poll in &requests[1..] {
        assert_eq!(
            poll.form_keys(),
            ["grant_type", "device_code", "client_id", "client_secret"]
        );
        assert_eq!(poll.form_value("grant_type"), Some(DEVICE_CODE_GRANT_TYPE));
        assert_eq!(poll.form_value("device_code"), Some("dev-code-secret"));
        assert_eq!(poll.form_value("client_secret"), Some("csecret"));
        assert_eq!(poll.path(), "/token");
    }
}

#[tokio::test]
async fn rfc_names_and_a_missing_interval_are_read() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_replies([
        Reply::json(
            200,
            json!({"device_code": "d", "user_code": "ABCD", "verification_uri": "https://example.com/device",
                   "verification_uri_complete": "https://example.com/device?user_code=ABCD", "expires_in": "600"}),
        ),
        approved(),
    ]);
    let clock = FakeClock::new().with_auto_advance(true);
    let device = flow(&endpoint, &clock).start().await.unwrap();
    assert_eq!(device.verification_uri(), "https://example.com/device");
    assert_eq!(
        device.verification_uri_complete(),
        Some("https://example.com/device?user_code=ABCD")
    );
    assert_eq!(device.interval(), Duration::from_secs(5));
    device.finish().await.unwrap();
    assert_eq!(clock.sleeps(), [Duration::from_secs(5)]);
}

#[tokio::test]
async fn access_denied_ends_the_flow_with_the_refusal() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_replies([
        device_answer(),
        pending(),
        Reply::oauth_error(403, "access_denied", Some("Forbidden")),
    ]);
    let clock = FakeClock::new().with_auto_advance(true);
    let err = flow(&endpoint, &clock)
        .start()
        .await
        .unwrap()
        .finish()
        .await
        .unwrap_err();
    assert_eq!(err.oauth_error(), Some("access_denied"));
    assert_eq!(err.http_status(), Some(403));
    assert!(err.to_string().contains("refused the sign-in"), "{err}");
    assert_eq!(endpoint.request_count(), 3);
}

#[tokio::test]
async fn expired_token_from_the_server_ends_the_flow() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_replies([
        device_answer(),
        Reply::oauth_error(400, "expired_token", None),
    ]);
    let clock = FakeClock::new().with_auto_advance(true);
    let err = flow(&endpoint, &clock)
        .start()
        .await
        .unwrap()
        .finish()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(!err.is_transient());
    assert!(err.to_string().contains("device code expired"), "{err}");
    assert_eq!(err.causes()[0].oauth_error(), Some("expired_token"));
}

#[tokio::test]
async fn the_codes_expiry_on_the_clock_ends_the_polling() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_replies([
        Reply::json(
            200,
            json!({"device_code": "d", "user_code": "ABCD", "verification_url": "https://example.com/d",
                   "expires_in": 12, "interval": 5}),
        ),
        pending(),
    ]);
    let clock = FakeClock::new().with_auto_advance(true);
    let err = flow(&endpoint, &clock)
        .start()
        .await
        .unwrap()
        .finish()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    // Polls at 5 s and 10 s; the last wait is cut to the expiry, and no poll follows it.
    assert_eq!(clock.sleeps(), [5, 5, 2].map(Duration::from_secs).to_vec());
    assert_eq!(endpoint.request_count(), 3);
}

#[tokio::test]
async fn transient_failures_back_off_and_the_polling_goes_on() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_replies([
        device_answer(),
        Reply::oauth_error(503, "temporarily_unavailable", None),
        Reply::reset(),
        approved(),
    ]);
    let clock = FakeClock::new().with_auto_advance(true);
    flow(&endpoint, &clock)
        .start()
        .await
        .unwrap()
        .finish()
        .await
        .unwrap();
    assert_eq!(
        clock.sleeps(),
        [5, 10, 20].map(Duration::from_secs).to_vec()
    );
}

#[tokio::test]
async fn a_transient_failure_is_kept_as_the_cause_of_an_expiry() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_replies([
        Reply::json(
            200,
            json!({"device_code": "d", "user_code": "ABCD", "verification_url": "https://example.com/d",
                   "expires_in": 7, "interval": 5}),
        ),
        Reply::reset(),
    ]);
    let clock = FakeClock::new().with_auto_advance(true);
    let err = flow(&endpoint, &clock)
        .start()
        .await
        .unwrap()
        .finish()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.causes().len(), 1);
    assert!(err.causes()[0].is_transient());
}

#[tokio::test]
async fn slow_down_and_backoff_never_pass_the_cap() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_replies([
        Reply::json(
            200,
            json!({"device_code": "d", "user_code": "ABCD", "verification_url": "https://example.com/d",
                   "expires_in": 1800, "interval": 3600}),
        ),
        Reply::oauth_error(403, "slow_down", None),
        Reply::reset(),
        approved(),
    ]);
    let clock = FakeClock::new().with_auto_advance(true);
    let device = flow(&endpoint, &clock).start().await.unwrap();
    assert_eq!(device.interval(), Duration::from_secs(60));
    device.finish().await.unwrap();
    assert_eq!(
        clock.sleeps(),
        [60, 60, 60].map(Duration::from_secs).to_vec()
    );
}

#[tokio::test]
async fn any_other_error_ends_the_flow_as_the_server_answered() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_replies([
        device_answer(),
        Reply::oauth_error(400, "invalid_grant", Some("Bad device code")),
    ]);
    let clock = FakeClock::new().with_auto_advance(true);
    let err = flow(&endpoint, &clock)
        .start()
        .await
        .unwrap()
        .finish()
        .await
        .unwrap_err();
    assert_eq!(err.oauth_error(), Some("invalid_grant"));
    assert_eq!(err.kind(), ErrorKind::TokenEndpoint);
}

#[tokio::test]
async fn an_approval_without_a_refresh_token_is_an_error_that_says_what_to_do() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_replies([device_answer(), Reply::token("ya29.only")]);
    let clock = FakeClock::new().with_auto_advance(true);
    let err = flow(&endpoint, &clock)
        .start()
        .await
        .unwrap()
        .finish()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().contains("no refresh token"), "{err}");
    assert!(!err.to_string().contains("ya29.only"));
}

#[tokio::test]
async fn the_start_is_refused_with_the_endpoints_error() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(Reply::oauth_error(
        400,
        "invalid_scope",
        Some("Not allowed: csecret"),
    ));
    let clock = FakeClock::new();
    let err = flow(&endpoint, &clock).start().await.unwrap_err();
    assert_eq!(err.oauth_error(), Some("invalid_scope"));
    assert!(
        !err.to_string().contains("csecret"),
        "the client secret is scrubbed: {err}"
    );
}

#[tokio::test]
async fn answers_that_are_not_a_device_authorization_are_refused() {
    let cases = [
        (
            Reply::html(200, "<html>portal</html>"),
            "is not a JSON object",
        ),
        (
            Reply::json(
                200,
                json!({"user_code": "A", "verification_url": "https://x.example/", "expires_in": 60}),
            ),
            "device_code",
        ),
        (
            Reply::json(
                200,
                json!({"device_code": "d", "verification_url": "https://x.example/", "expires_in": 60}),
            ),
            "user_code",
        ),
        (
            Reply::json(
                200,
                json!({"device_code": "d", "user_code": "A\u{1b}[2J", "verification_url": "https://x.example/", "expires_in": 60}),
            ),
            "user_code",
        ),
        (
            Reply::json(
                200,
                json!({"device_code": "d", "user_code": "A", "expires_in": 60}),
            ),
            "verification_uri",
        ),
        (
            Reply::json(
                200,
                json!({"device_code": "d", "user_code": "A", "verification_url": "http://evil.example/", "expires_in": 60}),
            ),
            "verification_uri",
        ),
        (
            Reply::json(
                200,
                json!({"device_code": "d", "user_code": "A", "verification_url": "https://x.example/"}),
            ),
            "expires_in",
        ),
        (
            Reply::json(
                200,
                json!({"device_code": "d", "user_code": "A", "verification_url": "https://x.example/", "expires_in": 0}),
            ),
            "expires_in",
        ),
        (
            Reply::json(
                200,
                json!({"device_code": "d", "user_code": "A", "verification_url": "https://x.example/", "expires_in": 60, "interval": "soon"}),
            ),
            "interval",
        ),
        (
            Reply::json(
                200,
                json!({"device_code": "d", "user_code": "A", "verification_url": "https://x.example/", "expires_in": -5}),
            ),
            "expires_in",
        ),
    ];
    for (reply, said) in cases {
        let endpoint = FakeTokenEndpoint::new();
        endpoint.push_reply(reply);
        let err = flow(&endpoint, &FakeClock::new())
            .start()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
        assert!(err.to_string().contains(said), "{said}: {err}");
        assert!(!err.to_string().contains("portal"));
    }
}

#[tokio::test]
async fn the_flow_is_refused_before_any_request_without_scopes_or_with_a_plain_http_endpoint() {
    let endpoint = FakeTokenEndpoint::new();
    let clock = FakeClock::new();
    let err = flow(&endpoint, &clock)
        .with_scopes(Vec::<String>::new())
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains("at least one scope"));
    let remote = DeviceFlow::new(
        client(&endpoint).with_device_authorization_uri("http://oauth2.example.com/device/code"),
        endpoint.clone(),
    );
    let err = remote.start().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("device authorization endpoint is not an https:// URL"),
        "{err}"
    );
    let remote = DeviceFlow::new(
        client(&endpoint).with_token_uri("http://oauth2.example.com/token"),
        endpoint.clone(),
    );
    let err = remote.start().await.unwrap_err();
    assert!(err.to_string().contains("token endpoint"), "{err}");
    assert_eq!(endpoint.request_count(), 0);
}
