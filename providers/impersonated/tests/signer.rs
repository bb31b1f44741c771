//! `IamSigner` through `signBlob` against the fake IAM server: real signatures, retries on the
//! clock, errors.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use credkit_core::{ErrorKind, RetryPolicy, Signer};
use credkit_impersonated::IamSigner;
use credkit_reqwest::ReqwestTransport;
use credkit_testing::FakeClock;
use serde_json::json;
use support::{SOURCE_TOKEN, TARGET, builder, iam, source};

#[tokio::test]
async fn signs_as_the_target_with_the_reference_body() {
    let clock = FakeClock::new();
    let iam = iam(&clock).await;
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let target = builder(source, &iam, &clock)
        .with_delegates(["projects/-/serviceAccounts/d@p"])
        .build()
        .unwrap();
    let signer = target.signer();
    assert_eq!(signer.signer_email(), TARGET);
    assert_eq!(signer.algorithm(), "RS256");
    assert_eq!(signer.key_id(), None);
    let signature = signer.sign(b"the message").await.unwrap();
    assert!(iam.verify(b"the message", signature.bytes()));
    assert!(!iam.verify(b"another message", signature.bytes()));
    assert_eq!(signature.key_id(), Some(iam.key_id()));
    let request = &iam.requests()[0];
    assert_eq!(request.rpc(), Some("signBlob"));
    assert_eq!(request.principal(), Some(TARGET));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {SOURCE_TOKEN}").as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.json().unwrap(),
        json!({"payload": "dGhlIG1lc3NhZ2U=", "delegates": ["projects/-/serviceAccounts/d@p"]})
    );
}

#[tokio::test]
async fn retries_5xx_on_the_clock_with_the_reference_backoff() {
    let clock = FakeClock::new().with_auto_advance(true);
    let iam = iam(&clock).await;
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let signer = IamSigner::builder(source, TARGET)
        .with_iam_base_url(iam.url())
        .with_transport(ReqwestTransport::new().unwrap())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    iam.fail_next(1, 502);
    iam.fail_next(1, 503);
    let signature = signer.sign(b"m").await.unwrap();
    assert!(iam.verify(b"m", signature.bytes()));
    assert_eq!(iam.request_count(), 3);
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 2, "{sleeps:?}");
    assert!(sleeps[0] >= Duration::from_millis(900) && sleeps[0] <= Duration::from_millis(1100));
    assert!(sleeps[1] >= Duration::from_millis(1800) && sleeps[1] <= Duration::from_millis(2200));
}

#[tokio::test]
async fn gives_up_after_three_attempts_with_the_reference_words() {
    let clock = FakeClock::new().with_auto_advance(true);
    let iam = iam(&clock).await;
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let signer = builder(source, &iam, &clock).build().unwrap().signer();
    iam.fail_next(5, 500);
    let err = signer.sign(b"m").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "exhausted signBlob endpoint retries: Error calling sign_bytes: INTERNAL: fake IAM failure"
    );
    assert!(err.is_transient());
    assert_eq!(err.http_status(), Some(500));
    assert_eq!(iam.request_count(), 3);
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    let clock = FakeClock::new().with_auto_advance(true);
    let iam = iam(&clock).await;
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let signer = builder(source, &iam, &clock).build().unwrap().signer();
    iam.push_reply(
        403,
        "application/json",
        json!({"error": {"code": 403, "message": format!("denied {SOURCE_TOKEN}"), "status": "PERMISSION_DENIED"}}).to_string(),
    );
    let err = signer.sign(b"m").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Error calling sign_bytes: PERMISSION_DENIED: denied [REDACTED]"
    );
    assert_eq!(iam.request_count(), 1);
    for body in [
        r#"{"keyId":"k"}"#,
        r#"{"signedBlob":"***"}"#,
        r#"{"signedBlob":""}"#,
        "[]",
    ] {
        iam.push_reply(200, "application/json", body);
        let err = signer.sign(b"m").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "Error calling sign_bytes: No signature in response.",
            "{body}"
        );
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    }
    iam.push_reply(
        200,
        "application/json",
        r#"{"signedBlob":"AQI=","keyId":""}"#,
    );
    let signature = signer.sign(b"m").await.unwrap();
    assert_eq!(signature.bytes(), [1, 2]);
    assert_eq!(signature.key_id(), None);
}

#[tokio::test]
async fn one_attempt_with_no_retries() {
    let clock = FakeClock::new().with_auto_advance(true);
    let iam = iam(&clock).await;
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let signer = IamSigner::builder(source, TARGET)
        .with_iam_base_url(iam.url())
        .with_transport(ReqwestTransport::new().unwrap())
        .with_clock(clock.clone())
        .with_retry_policy(RetryPolicy::none())
        .with_delegates(["d"])
        .build()
        .unwrap();
    iam.fail_next(1, 503);
    let err = signer.sign(b"m").await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("exhausted signBlob endpoint retries")
    );
    assert_eq!(iam.request_count(), 1);
    assert!(signer.sign(b"m").await.is_ok());
    assert_eq!(iam.requests()[1].json().unwrap()["delegates"], json!(["d"]));
}

#[test]
fn the_standalone_builder_checks_its_inputs() {
    let clock = FakeClock::new();
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let message = |b: credkit_impersonated::IamSignerBuilder| b.build().unwrap_err().to_string();
    assert!(message(IamSigner::builder(source.clone(), TARGET)).contains("transport"));
    let transport = || ReqwestTransport::new().unwrap();
    assert!(
        message(IamSigner::builder(source.clone(), "").with_transport(transport()))
            .contains("target principal")
    );
    assert!(
        message(
            IamSigner::builder(source.clone(), TARGET)
                .with_transport(transport())
                .with_universe_domain("")
        )
        .contains("universe domain")
    );
    assert!(
        message(
            IamSigner::builder(source.clone(), TARGET)
                .with_transport(transport())
                .with_iam_base_url("x")
        )
        .contains("IAM base URL")
    );
    let signer = IamSigner::builder(source, TARGET)
        .with_universe_domain("example.goog")
        .with_transport(transport())
        .build()
        .unwrap();
    assert_eq!(
        signer.sign_url(),
        format!(
            "https://iamcredentials.example.goog/v1/projects/-/serviceAccounts/{TARGET}:signBlob"
        )
    );
    assert!(format!("{signer:?}").contains("example.goog"));
    let builder = IamSigner::builder(signer_source(&clock), TARGET).with_delegates(["d@p"]);
    assert!(format!("{builder:?}").contains("d@p"));
}

fn signer_source(clock: &FakeClock) -> credkit_core::Credentials {
    source(clock, &[SOURCE_TOKEN]).0
}
