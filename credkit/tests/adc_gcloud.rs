//! The gcloud CLI as the last source of Application Default Credentials (the `gcloud` feature),
//! with the fake gcloud on an injected `PATH`.
#![cfg(all(unix, feature = "gcloud"))]
// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use credkit_core::{ErrorKind, Transport};
use credkit_refresh_token::{Adc, AdcSource};
use credkit_testing::{FakeGcloud, FakeTokenEndpoint};
use futures::executor::block_on;

#[test]
fn gcloud_is_the_last_fallback() {
    // Discovery uses the system clock, so the fake's token must outlive the real now.
    let gcloud = FakeGcloud::builder()
        .with_token("ya29.from-adc-gcloud")
        .with_token_expiry(time::OffsetDateTime::now_utc() + time::Duration::hours(1))
        .build()
        .unwrap();
    let empty_config = tempfile::tempdir().unwrap();
    let path = gcloud.dir().display().to_string();
    let config = empty_config.path().display().to_string();
    let env = move |name: &str| match name {
        "PATH" => Some(path.clone()),
        "CLOUDSDK_CONFIG" => Some(config.clone()),
        "GOOGLE_CLOUD_QUOTA_PROJECT" => Some("adc-quota".to_owned()),
        _ => None,
    };
    let source = Adc::with_env(env).discover().unwrap();
    assert_eq!(source.kind(), "gcloud");
    let AdcSource::Gcloud(gcloud_source) = &source else {
        panic!("expected the gcloud source, got {source:?}");
    };
    assert_eq!(gcloud_source.program(), gcloud.path());
    assert_eq!(gcloud_source.quota_project(), Some("adc-quota"));

    let transport: Arc<dyn Transport> = Arc::new(FakeTokenEndpoint::new());
    let credentials = source.into_credentials(transport).unwrap();
    let headers = block_on(credentials.headers()).unwrap();
    assert_eq!(headers["authorization"], "Bearer ya29.from-adc-gcloud");
    assert_eq!(headers["x-goog-user-project"], "adc-quota");
    assert_eq!(gcloud.calls(), 1, "{:?}", gcloud.invocations());
}

#[test]
fn a_user_file_wins_over_gcloud() {
    let gcloud = FakeGcloud::builder().build().unwrap();
    let config = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("application_default_credentials.json"),
        r#"{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}"#,
    )
    .unwrap();
    let path = gcloud.dir().display().to_string();
    let config_dir = config.path().display().to_string();
    let env = move |name: &str| match name {
        "PATH" => Some(path.clone()),
        "CLOUDSDK_CONFIG" => Some(config_dir.clone()),
        _ => None,
    };
    assert_eq!(
        Adc::with_env(env).discover().unwrap().kind(),
        "authorized_user"
    );
    assert_eq!(gcloud.calls(), 0);
}

#[test]
fn without_gcloud_on_path_the_error_lists_it_too() {
    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().display().to_string();
    let env = move |name: &str| match name {
        "PATH" | "CLOUDSDK_CONFIG" => Some(dir.clone()),
        _ => None,
    };
    let err = Adc::with_env(env).discover().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotConfigured);
    let message = err.to_string();
    assert!(message.starts_with("Your default credentials were not found."));
    assert!(message.contains("GOOGLE_APPLICATION_CREDENTIALS (not set)"));
    assert!(
        message.ends_with("the gcloud CLI (gcloud not found on PATH)."),
        "{message}"
    );
}

#[test]
fn a_malformed_file_does_not_fall_through_to_gcloud() {
    let gcloud = FakeGcloud::builder().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.json");
    std::fs::write(&file, "{not json").unwrap();
    let path = gcloud.dir().display().to_string();
    let file_name = file.display().to_string();
    let env = move |name: &str| match name {
        "PATH" => Some(path.clone()),
        "GOOGLE_APPLICATION_CREDENTIALS" => Some(file_name.clone()),
        _ => None,
    };
    let err = Adc::with_env(env).discover().unwrap_err();
    assert!(err.to_string().contains("is not a valid json file"));
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(!err.is_not_configured());
    assert_eq!(gcloud.calls(), 0);
}
