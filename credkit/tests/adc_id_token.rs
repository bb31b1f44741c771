//! ID tokens through ADC: user credentials give the refresh response's `id_token`, as the
//! reference's `Credentials.id_token`.
#![cfg(feature = "refresh-token")]
// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use credkit::Adc;
use credkit::core::{ErrorKind, TokenSource};
use credkit_testing::{AdcEnv, FakeClock, FakeTokenEndpoint, Reply};
use futures::executor::block_on;
use secrecy::ExposeSecret;
use serde_json::json;

const USER_FILE: &str = r#"{"client_id": "123", "client_secret": "secret", "refresh_token": "rt", "type": "authorized_user"}"#;

#[test]
fn user_credentials_give_the_id_token_of_the_refresh_response() {
    let env = AdcEnv::new().with_credentials_file(USER_FILE);
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_replies([
        Reply::json(
            200,
            json!({"access_token": "ya29.a", "expires_in": 3600, "token_type": "Bearer", "id_token": "eyJ.user-id-token.sig", "refresh_token": "rt2"}),
        ),
        Reply::json(200, json!({"access_token": "ya29.b", "expires_in": 3600, "token_type": "Bearer"})),
    ]);
    let found = block_on(
        Adc::new()
            .with_env(env.lookup())
            .with_transport(endpoint.clone())
            .with_clock(clock.clone())
            .discover(),
    )
    .unwrap();
    let source = found
        .id_token_source("https://any.audience.example")
        .unwrap();
    let credentials = found
        .id_token_credentials("https://any.audience.example")
        .unwrap();
    let token = block_on(credentials.access_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), "eyJ.user-id-token.sig");
    assert_eq!(
        token.expiry(),
        Some(credkit::core::Clock::now(&clock) + time::Duration::hours(1))
    );
    let sent = endpoint.last_request().unwrap();
    assert_eq!(sent.form_value("grant_type"), Some("refresh_token"));

    // No id_token in the response: an error that says why, not an empty token.
    let err = block_on(source.fetch_token()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Provider);
    assert!(
        err.to_string()
            .starts_with("the token endpoint returned no ID token"),
        "{err}"
    );
    assert_eq!(source.name(), "user credentials (ID token)");
    assert!(!format!("{source:?}").contains("rt2"));
}

#[test]
fn a_users_id_token_expires_at_its_own_exp() {
    use base64::Engine as _;
    let env = AdcEnv::new().with_credentials_file(USER_FILE);
    let clock = FakeClock::new();
    let now = credkit::core::Clock::now(&clock);
    let exp = (now + time::Duration::minutes(30)).unix_timestamp();
    let claims = json!({"aud": "123", "iat": now.unix_timestamp(), "exp": exp});
    let jwt = format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_reply(Reply::json(
        200,
        json!({"access_token": "ya29.a", "expires_in": 3600, "token_type": "Bearer", "id_token": jwt}),
    ));
    let found = block_on(
        Adc::new()
            .with_env(env.lookup())
            .with_transport(endpoint.clone())
            .with_clock(clock.clone())
            .discover(),
    )
    .unwrap();
    let token = block_on(found.id_token_source("ignored").unwrap().fetch_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), jwt);
    assert_eq!(
        token.expiry().map(time::OffsetDateTime::unix_timestamp),
        Some(exp)
    );
}
