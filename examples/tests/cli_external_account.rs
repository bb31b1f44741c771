//! The built `credkit` binary with `external_account` files: `token`, `header` and `info`
//! against the test kit's fake STS and IAM on loopback, from `--credentials FILE` and from
//! `GOOGLE_APPLICATION_CREDENTIALS`. `info` names the source type and the audience, and never
//! prints a token.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use credkit_testing::{FAKE_STS_TOKEN, FakeIamServer, FakeStsServer, StsReply};
use serde_json::{Value, json};
use support::{Sandbox, run};

const AUDIENCE: &str = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/providers/repo";
const SUBJECT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmNyZWRraXQifQ.c2ln";
const TARGET: &str = "deployer@credkit-test.iam.gserviceaccount.com";

fn external_account(sandbox: &Sandbox, sts: &FakeStsServer, extra: &Value) -> std::path::PathBuf {
    let token = sandbox.write("oidc-token", SUBJECT);
    let mut file = json!({
        "type": "external_account",
        "audience": AUDIENCE,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": sts.token_url(),
        "credential_source": {"file": token},
    });
    file.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    sandbox.write("external.json", &file.to_string())
}

#[tokio::test]
async fn token_and_header_come_from_an_external_account_file() {
    let sts = FakeStsServer::builder()
        .with_subject_token(SUBJECT)
        .start()
        .await
        .unwrap();
    let sandbox = Sandbox::new();
    let file = external_account(&sandbox, &sts, &json!({"quota_project_id": "billing"}));

    let mut command = sandbox.credkit(["token", "--no-cache", "--credentials"]);
    command.arg(&file);
    let out = run(command).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.trim().starts_with(FAKE_STS_TOKEN), "{out:#?}");

    let mut command = sandbox.credkit(["header", "--no-cache", "--credentials"]);
    command.arg(&file);
    let out = run(command).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stdout
            .starts_with(&format!("authorization: Bearer {FAKE_STS_TOKEN}")),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains("x-goog-user-project: billing"),
        "{out:#?}"
    );
    out.assert_no_secret(&[SUBJECT]);
    assert_eq!(sts.request_count(), 2);
}

#[tokio::test]
async fn info_names_the_source_and_audience_and_no_token() {
    let sts = FakeStsServer::start().await.unwrap();
    let iam = FakeIamServer::start().await.unwrap();
    let sandbox = Sandbox::new();
    let file = external_account(
        &sandbox,
        &sts,
        &json!({"service_account_impersonation_url": format!(
            "{}/v1/projects/-/serviceAccounts/{TARGET}:generateAccessToken", iam.url()
        )}),
    );
    let sandbox = sandbox
        // A project ID set: discovery asks no Cloud Resource Manager (off loopback).
        .with_env(|env| {
            env.with_var("GOOGLE_APPLICATION_CREDENTIALS", file.display().to_string())
                .with_var("GOOGLE_CLOUD_PROJECT", "credkit-test")
        });

    let out = run(sandbox.credkit(["info", "--no-cache"])).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    let info: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(info["type"], "external_account");
    assert_eq!(info["audience"], AUDIENCE);
    assert_eq!(info["subject_token_source"], "file");
    assert_eq!(info["account"], TARGET);
    assert_eq!(info["token_uri"], sts.token_url());
    assert_eq!(info["project_id"], "credkit-test");
    out.assert_no_secret(&[SUBJECT, FAKE_STS_TOKEN, &iam.access_token_for(TARGET)]);
}

#[tokio::test]
async fn an_sts_refusal_exits_1_with_its_error() {
    let sts = FakeStsServer::start().await.unwrap();
    sts.push_reply(StsReply::oauth_error(
        400,
        "invalid_grant",
        Some("The audience in the token does not match."),
    ));
    let sandbox = Sandbox::new();
    let file = external_account(&sandbox, &sts, &json!({}));
    let mut command = sandbox.credkit(["token", "--no-cache", "--credentials"]);
    command.arg(&file);
    let out = run(command).await;
    let message = out.assert_error();
    assert!(
        message.contains("invalid_grant: The audience in the token does not match."),
        "{message}"
    );
    out.assert_no_secret(&[SUBJECT]);
}
