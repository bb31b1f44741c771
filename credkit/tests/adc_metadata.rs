//! ADC on the metadata server, behind its probe, in an isolated environment: found after the
//! files, tokens and the account's facts from the server, the project ID from it, and off
//! Google Cloud a failure at the probe's timeout with the reference's message.
#![cfg(feature = "metadata")]
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use credkit::Adc;
use credkit::core::Clock;
use credkit::reqwest::ReqwestTransport;
use credkit_testing::{AdcEnv, FakeClock, FakeMetadataServer};
use secrecy::ExposeSecret;

fn adc(env: &AdcEnv) -> Adc {
    Adc::new()
        .with_env(env.lookup())
        .with_transport(ReqwestTransport::new().unwrap())
}

/// Yields to the runtime until `ready` holds (bounded: a test that waits forever fails).
async fn until(ready: impl Fn() -> bool) {
    for _ in 0..100_000 {
        if ready() {
            return;
        }
        tokio::task::yield_now().await;
    }
    unreachable!("the condition never held");
}

#[tokio::test]
async fn with_no_files_the_metadata_server_serves_tokens_email_and_project() {
    let fake = FakeMetadataServer::start().await.unwrap();
    let env = AdcEnv::new().with_metadata_host(fake.host());
    let found = adc(&env).discover().await.unwrap();
    assert_eq!(found.credential_type(), "metadata");
    let source = found
        .credential()
        .as_any()
        .and_then(|any| any.downcast_ref::<credkit::metadata::MetadataCredentials>())
        .unwrap();
    assert_eq!(source.service_account(), "default");
    assert_eq!(found.email().await.unwrap().as_deref(), Some(fake.email()));
    assert_eq!(
        found.project_id().await.unwrap().as_deref(),
        Some(fake.project_id())
    );
    let credentials = found.credentials_builder().build().unwrap();
    let headers = credentials.headers().await.unwrap();
    assert_eq!(
        headers["authorization"],
        format!("Bearer {}", fake.access_token(&[]))
    );
    let id_tokens = found
        .id_token_credentials("https://service.example")
        .unwrap();
    id_tokens.refresh().await.unwrap();
    let id_token = id_tokens.token().unwrap();
    assert_eq!(id_token.secret().expose_secret().split('.').count(), 3);
    // Every request carried the flavor header; the probe came first.
    let requests = fake.requests();
    assert_eq!(requests[0].path(), "/");
    assert!(
        requests
            .iter()
            .all(|r| r.header("metadata-flavor") == Some("Google"))
    );
    // Project ID discovery asks the server last, after the environment and the files.
    assert_eq!(adc(&env).project_id().await.unwrap(), fake.project_id());
}

#[tokio::test]
async fn a_credentials_file_wins_over_the_metadata_server_which_is_not_asked() {
    let fake = FakeMetadataServer::start().await.unwrap();
    let env = AdcEnv::new()
        .with_metadata_host(fake.host())
        .with_credentials_file(
            r#"{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}"#,
        );
    let found = adc(&env).discover().await.unwrap();
    assert_eq!(found.credential_type(), "authorized_user");
    assert_eq!(fake.request_count(), 0);
}

#[tokio::test]
async fn off_google_cloud_adc_fails_at_the_probe_timeout_with_the_references_message() {
    // A stand-in that accepts connections and never answers (the kernel's backlog of a listener
    // nobody accepts from), as a link-local address with nothing behind it behaves.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let env = AdcEnv::new().with_metadata_host(silent.local_addr().unwrap().to_string());
    let clock = FakeClock::new();
    let timeout = Duration::from_millis(500);
    let adc = adc(&env)
        .with_clock(clock.clone())
        .with_probe_timeout(timeout);
    let start = clock.now();
    let discovery = tokio::spawn(async move { adc.discover().await });
    until(|| clock.pending_timeouts() == 1).await;
    clock.advance(timeout.checked_sub(Duration::from_millis(1)).unwrap());
    tokio::task::yield_now().await;
    assert!(
        !discovery.is_finished(),
        "gave up before the probe's timeout"
    );
    clock.advance(Duration::from_millis(1));
    let err = discovery.await.unwrap().unwrap_err();
    assert_eq!(clock.now() - start, timeout);
    assert!(err.is_not_configured());
    let message = err.to_string();
    assert!(
        message.starts_with("Your default credentials were not found. To set up Application Default Credentials, see https://cloud.google.com/docs/authentication/external/set-up-adc for more information."),
        "{message}"
    );
    assert!(
        message.contains("the metadata server (no answer from"),
        "{message}"
    );
    drop(silent);
}

#[tokio::test]
async fn no_gce_check_skips_the_probe_and_says_so() {
    let fake = FakeMetadataServer::start().await.unwrap();
    let env = AdcEnv::new()
        .with_metadata_host(fake.host())
        .without_metadata_check();
    let err = adc(&env).discover().await.unwrap_err();
    assert!(err.is_not_configured());
    assert!(
        err.to_string()
            .contains("the metadata server (NO_GCE_CHECK is set)"),
        "{err}"
    );
    assert_eq!(fake.request_count(), 0);
}

#[tokio::test]
async fn an_answer_without_the_metadata_flavor_is_not_the_metadata_server() {
    let fake = FakeMetadataServer::start().await.unwrap();
    fake.set_flavor_header(false);
    let env = AdcEnv::new().with_metadata_host(fake.host());
    let err = adc(&env).discover().await.unwrap_err();
    assert!(err.is_not_configured());
    assert!(
        err.to_string().contains(&format!(
            "the metadata server ({} answered HTTP 200, not as the metadata server does)",
            fake.host()
        )),
        "{err}"
    );
}

#[tokio::test]
async fn a_probe_the_transport_refuses_is_unreachable_and_nothing_is_sent() {
    // Plain http to an address that is neither loopback nor the metadata server's: the
    // transport refuses it before sending anything, and the probe does not retry a refusal.
    let env = AdcEnv::new().with_metadata_host("10.255.255.1");
    let err = adc(&env).discover().await.unwrap_err();
    assert!(err.is_not_configured());
    assert!(
        err.to_string()
            .contains("the metadata server (10.255.255.1 is unreachable: "),
        "{err}"
    );
}
