//! `credkit token`, `header` and `info` with production credentials found by ADC: a
//! service-account key (the JWT-bearer grant against a verifying loopback endpoint) and the
//! metadata server (a loopback fake). Nothing leaves loopback; no gcloud runs.
#![allow(clippy::unwrap_used)]

mod support;

use credkit_testing::{FakeMetadataServer, FakeTokenServer};
use serde_json::Value;
use support::{Sandbox, run, service_account_sandbox};

const EMAIL: &str = "robot@credkit-test.iam.gserviceaccount.com";

#[tokio::test]
async fn a_service_account_key_serves_token_header_info_and_id_tokens() {
    let server = FakeTokenServer::start().await.unwrap();
    let (sandbox, key, _) = service_account_sandbox(&server, EMAIL);

    let out = run(sandbox.credkit(["token", "--no-cache"])).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    let token = out.stdout.trim_end().to_owned();
    assert!(!token.is_empty());
    out.assert_no_secret(&[key.private_key_pem()]);

    let out = run(sandbox.credkit(["header", "--no-cache"])).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.starts_with("authorization: Bearer "), "{out:#?}");

    let out = run(sandbox.credkit(["info", "--no-cache"])).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    let info: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(info["type"], "service_account");
    assert_eq!(info["email"], EMAIL);
    assert_eq!(info["project_id"], "credkit-test");
    out.assert_no_secret(&[key.private_key_pem()]);

    let out = run(sandbox.credkit([
        "token",
        "--no-cache",
        "--id-token",
        "--audience",
        "https://service.example",
    ]))
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout.trim_end().split('.').count(), 3, "{out:#?}");
    // Every request was a JWT-bearer grant the endpoint verified against the key.
    for request in server.requests() {
        let grant = request.form().iter().find(|(name, _)| name == "grant_type");
        assert_eq!(
            grant.map(|(_, value)| value.as_str()),
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        );
    }
}

#[tokio::test]
async fn on_the_metadata_server_token_info_and_id_tokens_come_from_it() {
    let fake = FakeMetadataServer::start().await.unwrap();
    let sandbox = Sandbox::new().with_env(|env| env.with_metadata_host(fake.host()));

    let out = run(sandbox.credkit(["info", "--no-cache"])).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    let info: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(info["type"], "metadata");
    assert_eq!(info["email"], fake.email());
    assert_eq!(info["project_id"], fake.project_id());

    let out = run(sandbox.credkit(["token", "--no-cache"])).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout, format!("{}\n", fake.access_token(&[])));

    let out = run(sandbox.credkit([
        "token",
        "--no-cache",
        "--id-token",
        "--audience",
        "https://service.example",
    ]))
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout.trim_end().split('.').count(), 3, "{out:#?}");
    assert!(
        fake.requests()
            .iter()
            .all(|request| request.header("metadata-flavor") == Some("Google"))
    );
}
