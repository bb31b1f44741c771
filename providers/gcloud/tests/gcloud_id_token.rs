//! `GcloudIdTokenSource` against the fake gcloud: the ID token and its `exp`, the arguments,
//! the caching layer, failures, garbage and a hung gcloud.
#![cfg(unix)]

mod support;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use credkit_core::{Credentials, ErrorKind, TokenSource};
use credkit_testing::{FAKE_CLOCK_START, FakeClock, FakeGcloud, GcloudReply};
use futures::executor::block_on;
use secrecy::ExposeSecret;
use support::{TestResult, advance_when_waiting, source};

const PREFIX: &str = "Failed to obtain ID token: ";

/// A JWT-shaped ID token (unsigned: the source never verifies it) expiring `lifetime` after
/// the fake clock's start.
fn id_token(audience: &str, lifetime: time::Duration) -> String {
    let claims = serde_json::json!({
        "aud": audience,
        "iss": "https://accounts.google.com",
        "iat": FAKE_CLOCK_START.unix_timestamp(),
        "exp": (FAKE_CLOCK_START + lifetime).unix_timestamp(),
    });
    format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.c2lnbmF0dXJlLXNlY3JldA",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[test]
fn the_id_token_and_its_exp_from_one_run_with_the_audience_and_account() -> TestResult {
    let clock = FakeClock::new();
    let jwt = id_token("https://run.app", time::Duration::minutes(50));
    let gcloud = FakeGcloud::builder()
        .with_identity_token(jwt.clone())
        .with_stderr_noise("WARNING: an update is available\n")
        .build()?;
    let ids = source(&gcloud, &clock)?
        .with_account("robot@p.iam.gserviceaccount.com")?
        .id_token_source()
        .with_audience("https://run.app")
        .with_include_email(true);
    let token = block_on(ids.fetch_token())?;
    assert_eq!(token.secret().expose_secret(), jwt);
    assert_eq!(token.id_token().unwrap().expose_secret(), jwt);
    assert_eq!(
        token.expiry(),
        Some(FAKE_CLOCK_START + time::Duration::minutes(50))
    );
    assert_eq!(token.issued_at(), Some(FAKE_CLOCK_START));
    assert_eq!(
        gcloud.invocations(),
        [[
            "auth",
            "print-identity-token",
            "--audiences=https://run.app",
            "--include-email",
            "--account=robot@p.iam.gserviceaccount.com"
        ]]
    );
    Ok(())
}

#[test]
fn cached_by_credentials_until_its_exp() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder()
        .with_identity_token(id_token("aud", time::Duration::hours(2)))
        .build()?;
    let credentials = Credentials::builder(source(&gcloud, &clock)?.id_token_source())
        .with_clock(clock.clone())
        .build()?;
    for _ in 0..5 {
        block_on(credentials.access_token())?;
    }
    assert_eq!(
        gcloud.calls(),
        1,
        "one gcloud run serves the ID token's lifetime"
    );
    clock.advance(Duration::from_secs(118 * 60));
    assert_eq!(credentials.token_state(), credkit_core::TokenState::Stale);
    block_on(credentials.refresh())?;
    assert_eq!(gcloud.calls(), 2, "a refresh runs gcloud again");
    Ok(())
}

#[test]
fn a_failing_gcloud_is_reported_as_a_failed_id_token() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder().build()?; // No identity token: gcloud fails.
    let err = block_on(source(&gcloud, &clock)?.id_token_source().fetch_token()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Provider);
    assert_eq!(
        err.to_string(),
        format!(
            "{PREFIX}`gcloud auth print-identity-token` exited with status 1: ERROR: (gcloud.auth.print-identity-token) No identity token can be obtained from the current credentials."
        )
    );
    Ok(())
}

#[test]
fn garbage_is_refused_without_quoting_it() -> TestResult {
    let clock = FakeClock::new();
    for (stdout, reason) in [
        ("ya29.an-access-token-c2VjcmV0\n", "not a JWT"),
        ("", "printed nothing"),
        ("eyJ.e30.c2VjcmV0\n", "no `exp` claim"),
    ] {
        let gcloud = FakeGcloud::builder()
            .with_print_identity_token(GcloudReply::stdout(stdout))
            .build()?;
        let err = block_on(source(&gcloud, &clock)?.id_token_source().fetch_token()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{stdout}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "{PREFIX}`gcloud auth print-identity-token` gave no usable ID token: "
            )),
            "{text}"
        );
        assert!(text.contains(reason), "{text}");
        assert!(!text.contains("c2VjcmV0"), "{text}");
    }
    Ok(())
}

#[test]
fn a_hung_gcloud_is_stopped_at_the_timeout() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder()
        .with_print_identity_token(GcloudReply::Hang)
        .build()?;
    let ids = source(&gcloud, &clock)?.id_token_source();
    let err = advance_when_waiting(
        &clock,
        &gcloud,
        1,
        Duration::from_secs(30),
        ids.fetch_token(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(
        err.to_string(),
        format!(
            "{PREFIX}`gcloud auth print-identity-token` did not finish within 30s and was stopped"
        )
    );
    Ok(())
}
