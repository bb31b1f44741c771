//! The gcloud CLI as ADC's fallback after the files (the `gcloud` feature), with the test
//! kit's fake gcloud on an isolated `PATH`: never the real one.
#![cfg(all(unix, feature = "gcloud"))]
// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use credkit::Adc;
use credkit::core::ErrorKind;
use credkit::gcloud::GcloudSource;
use credkit_testing::{AdcEnv, FakeGcloud, FakeTokenEndpoint};
use futures::executor::block_on;

const USER_FILE: &str =
    r#"{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}"#;

/// An environment with `gcloud` (the fake) on its `PATH` and no other gcloud.
fn with_gcloud(gcloud: &FakeGcloud) -> AdcEnv {
    let env = AdcEnv::new().with_gcloud_dir(gcloud.dir());
    assert!(
        !env.has_real_gcloud(gcloud.dir()),
        "a real gcloud is on the test PATH"
    );
    env
}

fn adc(env: &AdcEnv) -> Adc {
    Adc::new()
        .with_env(env.lookup())
        .with_transport(FakeTokenEndpoint::new())
}

#[test]
fn gcloud_with_an_account_is_the_fallback_after_the_files() {
    // Discovery uses the system clock, so the fake's token must outlive the real now.
    let gcloud = FakeGcloud::builder()
        .with_token("ya29.from-adc-gcloud")
        .with_token_expiry(time::OffsetDateTime::now_utc() + time::Duration::hours(1))
        .build()
        .unwrap();
    let env = with_gcloud(&gcloud)
        .with_gcloud_properties(&[("account", "dev@example.com")])
        .with_var("GOOGLE_CLOUD_QUOTA_PROJECT", "adc-quota");
    let found = block_on(adc(&env).discover()).unwrap();
    assert_eq!(found.credential_type(), "gcloud");
    assert_eq!(found.origin(), "the gcloud CLI");
    assert_eq!(
        block_on(found.email()).unwrap().as_deref(),
        Some("dev@example.com")
    );
    let source = found
        .credential()
        .as_any()
        .unwrap()
        .downcast_ref::<GcloudSource>()
        .unwrap();
    assert_eq!(source.program(), gcloud.path());
    assert_eq!(source.quota_project(), Some("adc-quota"));
    assert_eq!(gcloud.calls(), 0, "discovery never runs gcloud");

    let credentials = found.credentials_builder().build().unwrap();
    let headers = block_on(credentials.headers()).unwrap();
    assert_eq!(headers["authorization"], "Bearer ya29.from-adc-gcloud");
    assert_eq!(headers["x-goog-user-project"], "adc-quota");
    assert_eq!(gcloud.calls(), 1, "{:?}", gcloud.invocations());
}

#[test]
fn gcloud_with_nobody_logged_in_is_not_configured_and_the_error_lists_every_place() {
    let gcloud = FakeGcloud::builder().build().unwrap();
    let env = with_gcloud(&gcloud);
    let err = block_on(adc(&env).discover()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotConfigured);
    let message = err.to_string();
    assert!(
        message.starts_with("Your default credentials were not found."),
        "{message}"
    );
    assert!(
        message.contains("GOOGLE_APPLICATION_CREDENTIALS (not set)"),
        "{message}"
    );
    assert!(
        message.contains("application_default_credentials.json (no such file)"),
        "{message}"
    );
    let properties = env
        .gcloud_config_dir()
        .join("configurations")
        .join("config_default");
    assert!(
        message.ends_with(&format!(
            "the gcloud CLI ({} is on PATH, but no account is logged in: {} sets no [core] account. Run `gcloud auth login`); the metadata server (NO_GCE_CHECK is set).",
            gcloud.path().display(),
            properties.display()
        )),
        "{message}"
    );
    assert_eq!(gcloud.calls(), 0);
}

#[test]
fn the_account_may_come_from_the_active_configuration_or_the_variable() {
    let gcloud = FakeGcloud::builder().build().unwrap();
    let env = with_gcloud(&gcloud);
    let configurations = env.gcloud_config_dir().join("configurations");
    std::fs::create_dir_all(&configurations).unwrap();
    std::fs::write(
        configurations.join("config_work"),
        "[core]\naccount = work@example.com\n",
    )
    .unwrap();
    std::fs::write(env.gcloud_config_dir().join("active_config"), "work\n").unwrap();
    let found = block_on(adc(&env).discover()).unwrap();
    assert_eq!(
        block_on(found.email()).unwrap().as_deref(),
        Some("work@example.com")
    );

    let env = env.with_var("CLOUDSDK_CORE_ACCOUNT", "env@example.com");
    let found = block_on(adc(&env).discover()).unwrap();
    assert_eq!(
        block_on(found.email()).unwrap().as_deref(),
        Some("env@example.com")
    );
}

#[test]
fn a_user_file_wins_over_gcloud() {
    let gcloud = FakeGcloud::builder().build().unwrap();
    let env = with_gcloud(&gcloud)
        .with_gcloud_properties(&[("account", "dev@example.com")])
        .with_well_known_file(USER_FILE);
    assert_eq!(
        block_on(adc(&env).discover()).unwrap().credential_type(),
        "authorized_user"
    );
    assert_eq!(gcloud.calls(), 0);
}

#[test]
fn without_gcloud_on_path_the_error_lists_it_too() {
    let env = AdcEnv::new();
    let err = block_on(adc(&env).discover()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotConfigured);
    let message = err.to_string();
    assert!(message.starts_with("Your default credentials were not found."));
    assert!(message.contains("GOOGLE_APPLICATION_CREDENTIALS (not set)"));
    assert!(
        message.ends_with(
            "the gcloud CLI (gcloud not found on PATH); the metadata server (NO_GCE_CHECK is set)."
        ),
        "{message}"
    );
}

#[test]
fn a_malformed_file_does_not_fall_through_to_gcloud() {
    let gcloud = FakeGcloud::builder().build().unwrap();
    let env = with_gcloud(&gcloud)
        .with_gcloud_properties(&[("account", "dev@example.com")])
        .with_credentials_file("{not json");
    let err = block_on(adc(&env).discover()).unwrap_err();
    assert!(err.to_string().contains("is not a valid json file"));
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(!err.is_not_configured());
    assert_eq!(gcloud.calls(), 0);
}

/// A JWT-shaped ID token for `audience` (unsigned: ADC never verifies it), an hour from now.
fn id_token(audience: &str) -> String {
    use base64::Engine as _;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = serde_json::json!({"aud": audience, "iat": now, "exp": now + 3600});
    format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[test]
fn gcloud_gives_id_tokens_for_the_audience_of_a_service_account_only() {
    let jwt = id_token("https://run.app");
    let gcloud = FakeGcloud::builder()
        .with_identity_token(jwt.clone())
        .build()
        .unwrap();
    for (account, with_audience) in [
        ("robot@p.iam.gserviceaccount.com", true),
        ("dev@example.com", false),
    ] {
        let env = with_gcloud(&gcloud).with_gcloud_properties(&[("account", account)]);
        let credentials = block_on(adc(&env).id_token_credentials("https://run.app")).unwrap();
        let token = block_on(credentials.access_token()).unwrap();
        assert_eq!(secrecy::ExposeSecret::expose_secret(token.secret()), jwt);
        let last = gcloud.invocations().pop().unwrap();
        assert_eq!(last[..2], ["auth", "print-identity-token"]);
        assert_eq!(
            last.contains(&"--audiences=https://run.app".to_owned()),
            with_audience,
            "{account}: {last:?}"
        );
    }
}
