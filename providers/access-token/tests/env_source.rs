//! `TokenEnvSource`: gcloud's variable by default, trimmed, not configured when unset or empty,
//! typed refusals that never repeat the value, a JSON document's expiry honoured.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use credkit_access_token::{ACCESS_TOKEN_ENV, ACCESS_TOKEN_FILE_ENV, Refusal, TokenEnvSource};
use credkit_core::{Clock, ErrorKind, TokenSource};
use credkit_testing::FakeClock;
use futures::executor::block_on;
use secrecy::ExposeSecret;

fn with_value(value: &'static str) -> TokenEnvSource {
    TokenEnvSource::new().with_lookup(move |name| {
        assert_eq!(name, "CLOUDSDK_AUTH_ACCESS_TOKEN");
        Some(value.to_owned())
    })
}

#[test]
fn gclouds_variables() {
    assert_eq!(ACCESS_TOKEN_ENV, "CLOUDSDK_AUTH_ACCESS_TOKEN");
    assert_eq!(ACCESS_TOKEN_FILE_ENV, "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE");
    assert_eq!(TokenEnvSource::new().variable(), ACCESS_TOKEN_ENV);
    assert_eq!(TokenEnvSource::default().variable(), ACCESS_TOKEN_ENV);
    assert_eq!(
        TokenEnvSource::new().name(),
        "access token environment variable"
    );
}

#[test]
fn the_value_is_trimmed_as_gcloud_does_and_has_no_expiry() {
    let token = block_on(with_value("  ya29.from-env\n").fetch_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), "ya29.from-env");
    assert_eq!(token.expiry(), None);
    assert_eq!(token.issued_at(), None);
}

#[test]
fn unset_or_empty_is_not_configured() {
    let unset = TokenEnvSource::for_variable("MY_TOKEN").with_lookup(|_| None);
    let err = block_on(unset.fetch_token()).unwrap_err();
    assert!(err.is_not_configured());
    assert_eq!(
        err.to_string(),
        "the environment variable MY_TOKEN is not set"
    );
    assert_eq!(Refusal::of(&err), None);
    let err = block_on(with_value("").fetch_token()).unwrap_err();
    assert!(err.is_not_configured());
}

#[test]
fn a_set_but_unusable_value_is_refused_by_kind() {
    for (value, refusal) in [
        (" \n", Refusal::Empty),
        ("ya29.secret\r\nx-injected: 1", Refusal::ControlCharacter),
        ("ya29.secret-é", Refusal::NotAscii),
        (
            r#"{"access_token": "ya29.secret", "expires_in": 3600}"#,
            Refusal::BadExpiry,
        ),
    ] {
        let err = block_on(with_value(value).fetch_token()).unwrap_err();
        assert_eq!(Refusal::of(&err), Some(refusal), "{value:?}");
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        assert!(!err.is_not_configured());
        let message = err.to_string();
        assert!(
            message.starts_with(
                "the environment variable CLOUDSDK_AUTH_ACCESS_TOKEN holds no usable access token: "
            ),
            "{message}"
        );
        assert!(!message.contains("secret"), "{message}");
    }
    let err = block_on(with_value("a b").fetch_token()).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("; set it to an access token alone"),
        "{err}"
    );
}

#[test]
fn a_json_documents_expiry_is_honoured() {
    let clock = FakeClock::new();
    let source = with_value(r#"{"access_token": "ya29.j", "expiry": "2026-01-01T01:00:00Z"}"#)
        .with_clock(clock.clone());
    let token = block_on(source.fetch_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), "ya29.j");
    assert_eq!(
        token.expiry(),
        Some(clock.now() + Duration::from_secs(3600))
    );

    clock.advance(Duration::from_secs(3600));
    let err = block_on(source.fetch_token()).unwrap_err();
    assert_eq!(Refusal::of(&err), Some(Refusal::Expired));
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(
        err.to_string(),
        "the access token in the environment variable CLOUDSDK_AUTH_ACCESS_TOKEN expired at 2026-01-01T01:00:00Z; set it to a new token, or unset it"
    );
}

#[test]
fn debug_names_the_variable_never_the_value() {
    let debug = format!("{:?}", with_value("ya29.never-shown"));
    assert!(debug.contains("CLOUDSDK_AUTH_ACCESS_TOKEN"), "{debug}");
    assert!(!debug.contains("never-shown"), "{debug}");
}

#[test]
fn the_quota_project_goes_on_every_token() {
    let source = with_value("ya29.q").with_quota_project("billing");
    assert_eq!(source.quota_project(), Some("billing"));
    let token = block_on(source.fetch_token()).unwrap();
    assert_eq!(token.quota_project(), Some("billing"));
    let none = with_value("ya29.q").with_quota_project("");
    assert_eq!(none.quota_project(), None);
    assert_eq!(block_on(none.fetch_token()).unwrap().quota_project(), None);
    assert!(format!("{source:?}").contains("billing"));
}
