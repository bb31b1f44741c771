//! Tokens handed in as gcloud takes them (the `access-token` feature), first in ADC's order:
//! `CLOUDSDK_AUTH_ACCESS_TOKEN`, then the file of `auth/access_token_file` (the variable, then
//! gcloud's properties), over every credentials file and fallback; broken ones stop
//! discovery; a file rewritten is read again after a 401. The environment is an isolated
//! `AdcEnv` (the metadata server on a closed loopback port); the time is a `FakeClock`.
#![cfg(feature = "access-token")]
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use credkit::Adc;
use credkit::core::{Clock, ErrorKind};
use credkit_access_token::{Refusal, TokenEnvSource, TokenFileSource};
use credkit_testing::{AdcEnv, FakeClock};
use futures::executor::block_on;
use secrecy::ExposeSecret;

const USER_FILE: &str =
    r#"{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}"#;

fn adc(env: &AdcEnv, clock: &FakeClock) -> Adc {
    Adc::new().with_env(env.lookup()).with_clock(clock.clone())
}

/// Writes gcloud's active configuration with `[auth] access_token_file = path`.
fn with_property(env: AdcEnv, path: &std::path::Path) -> AdcEnv {
    let dir = env.gcloud_config_dir().join("configurations");
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!(
        "[core]\naccount = me@example.com\n\n[auth]\naccess_token_file = {}\n",
        path.display()
    );
    std::fs::write(dir.join("config_default"), text).unwrap();
    env
}

fn token_of(adc: &Adc) -> String {
    let credentials = block_on(adc.credentials()).unwrap();
    let token = block_on(credentials.access_token()).unwrap();
    token.secret().expose_secret().to_owned()
}

#[test]
fn the_variable_wins_over_every_other_place() {
    let env = AdcEnv::new()
        .with_credentials_file(USER_FILE)
        .with_well_known_file(USER_FILE);
    let file = env.write("token", "ya29.from-file");
    let env = env
        .with_var(
            "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE",
            file.display().to_string(),
        )
        .with_var("CLOUDSDK_AUTH_ACCESS_TOKEN", " ya29.from-variable\n");
    let clock = FakeClock::new();
    let adc = adc(&env, &clock);
    let found = block_on(adc.discover()).unwrap();
    assert_eq!(found.credential_type(), "access_token");
    assert_eq!(
        found.origin(),
        "the CLOUDSDK_AUTH_ACCESS_TOKEN environment variable"
    );
    let source = found.credential().as_any().unwrap();
    let source = source.downcast_ref::<TokenEnvSource>().unwrap();
    assert_eq!(source.variable(), "CLOUDSDK_AUTH_ACCESS_TOKEN");
    assert_eq!(token_of(&adc), "ya29.from-variable");
    // No expiry: a process's environment does not change.
    let credentials = block_on(adc.credentials()).unwrap();
    let _ = block_on(credentials.access_token()).unwrap();
    assert_eq!(credentials.expiry(), None);
}

#[test]
fn the_file_wins_over_the_credentials_files_and_is_read_again_after_a_401() {
    let env = AdcEnv::new().with_credentials_file(USER_FILE);
    let file = env.write("token", "ya29.first\n");
    let env = env.with_var(
        "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE",
        file.display().to_string(),
    );
    let clock = FakeClock::new();
    let adc = adc(&env, &clock);
    let found = block_on(adc.discover()).unwrap();
    assert_eq!(found.credential_type(), "access_token_file");
    assert_eq!(
        found.origin(),
        format!(
            "{} file via the CLOUDSDK_AUTH_ACCESS_TOKEN_FILE environment variable",
            file.display()
        )
    );
    let source = found.credential().as_any().unwrap();
    assert_eq!(
        source.downcast_ref::<TokenFileSource>().unwrap().path(),
        file
    );

    let credentials = found.credentials_builder().build().unwrap();
    let sent = block_on(credentials.access_token()).unwrap();
    assert_eq!(sent.secret().expose_secret(), "ya29.first");
    // A bare token's expiry is the re-read deadline, on the discovery's clock.
    assert_eq!(
        credentials.expiry(),
        Some(clock.now() + Duration::from_secs(60))
    );
    std::fs::write(&file, "ya29.second\n").unwrap();
    assert!(credentials.invalidate_if(&*sent));
    let now = block_on(credentials.access_token()).unwrap();
    assert_eq!(now.secret().expose_secret(), "ya29.second");
}

#[test]
fn gclouds_property_names_the_file_and_the_variable_wins_over_it() {
    let env = AdcEnv::new().with_well_known_file(USER_FILE);
    let from_property = env.write("property-token", "ya29.property");
    let env = with_property(env, &from_property);
    let clock = FakeClock::new();
    let found = block_on(adc(&env, &clock).discover()).unwrap();
    assert_eq!(found.credential_type(), "access_token_file");
    let properties = env
        .gcloud_config_dir()
        .join("configurations/config_default");
    assert_eq!(
        found.origin(),
        format!(
            "{} file via gcloud's auth/access_token_file property in {}",
            from_property.display(),
            properties.display()
        )
    );
    assert_eq!(token_of(&adc(&env, &clock)), "ya29.property");

    let from_variable = env.write("variable-token", "ya29.variable");
    let env = env.with_var(
        "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE",
        from_variable.display().to_string(),
    );
    assert_eq!(token_of(&adc(&env, &clock)), "ya29.variable");
}

#[test]
fn empty_variables_count_as_unset() {
    let env = AdcEnv::new()
        .with_credentials_file(USER_FILE)
        .with_var("CLOUDSDK_AUTH_ACCESS_TOKEN", "")
        .with_var("CLOUDSDK_AUTH_ACCESS_TOKEN_FILE", "");
    let found = block_on(adc(&env, &FakeClock::new()).discover()).unwrap();
    assert_eq!(found.credential_type(), "authorized_user");
}

#[test]
fn a_broken_variable_stops_discovery() {
    let env = AdcEnv::new().with_credentials_file(USER_FILE).with_var(
        "CLOUDSDK_AUTH_ACCESS_TOKEN",
        "ya29.secret-one\nya29.secret-two",
    );
    let err = block_on(adc(&env, &FakeClock::new()).discover()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(!err.is_not_configured());
    let message = err.to_string();
    assert!(
        message.starts_with(
            "Failed to load an access token from CLOUDSDK_AUTH_ACCESS_TOKEN: the environment variable CLOUDSDK_AUTH_ACCESS_TOKEN holds no usable access token: "
        ),
        "{message}"
    );
    assert!(!message.contains("secret"), "{message}");
    assert_eq!(
        Refusal::of(&err.causes()[0]),
        Some(Refusal::ControlCharacter)
    );
}

#[test]
fn a_missing_file_stops_discovery() {
    let env = AdcEnv::new().with_credentials_file(USER_FILE);
    let missing = env.dir().join("no-token-here");
    let env = env.with_var(
        "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE",
        missing.display().to_string(),
    );
    let err = block_on(adc(&env, &FakeClock::new()).discover()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(
        err.to_string(),
        format!(
            "File {} (named by the CLOUDSDK_AUTH_ACCESS_TOKEN_FILE environment variable) was not found; write an access token to it, or unset it",
            missing.display()
        )
    );
}

#[test]
fn nothing_handed_in_looks_further_and_says_where_it_looked() {
    let env = AdcEnv::new().with_well_known_file(USER_FILE);
    let found = block_on(adc(&env, &FakeClock::new()).discover()).unwrap();
    assert_eq!(found.credential_type(), "authorized_user");

    let err = block_on(adc(&AdcEnv::new(), &FakeClock::new()).discover()).unwrap_err();
    assert!(err.is_not_configured());
    let message = err.to_string();
    assert!(
        message.contains(
            "Looked at: CLOUDSDK_AUTH_ACCESS_TOKEN and CLOUDSDK_AUTH_ACCESS_TOKEN_FILE (gcloud's auth/access_token_file) (not set); GOOGLE_APPLICATION_CREDENTIALS (not set)"
        ),
        "{message}"
    );
}

#[test]
fn an_expired_token_in_the_file_is_refused_through_adc() {
    let clock = FakeClock::new();
    let env = AdcEnv::new();
    let file = env.write(
        "token.json",
        r#"{"access_token": "ya29.old", "expiry": "2025-12-31T23:00:00Z"}"#,
    );
    let env = env.with_var(
        "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE",
        file.display().to_string(),
    );
    // Discovery does not read the file (its content is expected to change): the fetch does.
    let credentials = block_on(adc(&env, &clock).credentials()).unwrap();
    let err = block_on(credentials.access_token()).unwrap_err();
    assert_eq!(Refusal::of(&err), Some(Refusal::Expired));
    assert!(
        err.to_string().contains("write a new token to the file"),
        "{err}"
    );
}

#[test]
fn the_quota_project_applies_to_handed_in_tokens() {
    let env = AdcEnv::new()
        .with_var("CLOUDSDK_AUTH_ACCESS_TOKEN", "ya29.q")
        .with_var("GOOGLE_CLOUD_QUOTA_PROJECT", "env-project");
    let clock = FakeClock::new();
    let credentials = block_on(adc(&env, &clock).credentials()).unwrap();
    let headers = block_on(credentials.headers()).unwrap();
    assert_eq!(headers["authorization"], "Bearer ya29.q");
    assert_eq!(headers["x-goog-user-project"], "env-project");

    let file: PathBuf = env.write("token", "ya29.f");
    let env = env.without_var("CLOUDSDK_AUTH_ACCESS_TOKEN").with_var(
        "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE",
        file.display().to_string(),
    );
    let credentials = block_on(
        adc(&env, &clock)
            .with_quota_project("caller-project")
            .credentials(),
    )
    .unwrap();
    let headers = block_on(credentials.headers()).unwrap();
    assert_eq!(headers["x-goog-user-project"], "caller-project");
}

#[test]
fn handed_in_tokens_issue_no_id_tokens() {
    let env = AdcEnv::new().with_var("CLOUDSDK_AUTH_ACCESS_TOKEN", "ya29.x");
    let err =
        block_on(adc(&env, &FakeClock::new()).id_token_credentials("https://service.example"))
            .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(
        err.to_string(),
        "credentials of type access_token cannot issue ID tokens"
    );
}
