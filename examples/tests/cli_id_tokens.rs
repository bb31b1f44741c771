//! The built `credkit` binary with ID tokens and impersonation: `verify-id-token` against the
//! test kit's key server (and offline keys), and `token --impersonate-service-account`
//! (access and ID tokens) against the fake IAM Credentials API.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use credkit_testing::{FakeKeyServer, TestIdTokenIssuer};
use serde_json::{Value, json};
use support::{CLIENT_SECRET, Impersonation, REFRESH_TOKEN, Sandbox, run, run_with_stdin};

const AUDIENCE: &str = "https://my-service-abc123-uc.a.run.app";
const TARGET: &str = "target@credkit-test.iam.gserviceaccount.com";

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

// ===== verify-id-token =====

#[tokio::test]
async fn a_valid_token_prints_its_claims_as_json() {
    let issuer = TestIdTokenIssuer::generate().unwrap();
    let keys = FakeKeyServer::start(&issuer).await.unwrap();
    let token = issuer.mint(&TestIdTokenIssuer::google_claims(AUDIENCE, now()));
    let sandbox = Sandbox::new();

    let out = run(sandbox.credkit([
        "verify-id-token",
        &token,
        "--audience",
        AUDIENCE,
        "--keys-url",
        &keys.jwks_url(),
    ]))
    .await;

    assert_eq!(out.code, Some(0), "{out:#?}");
    let claims: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["iss"], "https://accounts.google.com");
    assert_eq!(keys.fetches(), 1);
    out.assert_no_secret(&[token.split('.').nth(2).unwrap()]);
}

#[tokio::test]
async fn the_token_may_come_on_standard_input_and_keys_from_a_file() {
    let issuer = TestIdTokenIssuer::generate().unwrap();
    let token = issuer.mint_es256(&TestIdTokenIssuer::google_claims(AUDIENCE, now()));
    let sandbox = Sandbox::new();
    let keys = sandbox.write("keys.json", &issuer.pem_certificates_json());

    let out = run_with_stdin(
        sandbox.credkit([
            "verify-id-token",
            "--audience",
            AUDIENCE,
            "--keys-file",
            &keys.display().to_string(),
        ]),
        format!("{token}\n"),
    )
    .await;

    assert_eq!(out.code, Some(0), "{out:#?}");
    let claims: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(claims["aud"], AUDIENCE);
}

#[tokio::test]
async fn an_invalid_token_is_one_error_line_without_the_token() {
    let issuer = TestIdTokenIssuer::generate().unwrap();
    let sandbox = Sandbox::new();
    let keys = sandbox.write("keys.json", &issuer.jwk_set_json());
    let keys = keys.display().to_string();
    let mut expired = TestIdTokenIssuer::google_claims(AUDIENCE, now());
    expired["exp"] = json!(now().unix_timestamp() - 3600);
    expired["iat"] = json!(now().unix_timestamp() - 7200);
    let cases = [
        (
            issuer.mint(&TestIdTokenIssuer::google_claims(
                "https://other.example",
                now(),
            )),
            "audience",
        ),
        (issuer.mint(&expired), "expired"),
        ("not.a-token.c2lnbmF0dXJlLXNlY3JldA".to_owned(), "malformed"),
    ];
    for (token, why) in cases {
        let out = run(sandbox.credkit([
            "verify-id-token",
            &token,
            "--audience",
            AUDIENCE,
            "--keys-file",
            &keys,
        ]))
        .await;
        let message = out.assert_error();
        assert!(
            message.starts_with("the ID token is not valid: "),
            "{message}"
        );
        assert!(message.to_lowercase().contains(why), "{message}");
        out.assert_no_secret(&[token.split('.').nth(2).unwrap()]);
    }
}

#[tokio::test]
async fn an_audience_is_required() {
    let out = run(Sandbox::new().credkit(["verify-id-token", "x.y.z"])).await;
    assert_eq!(out.code, Some(2), "{out:#?}");
}

// ===== impersonation =====

#[tokio::test]
async fn token_impersonates_through_a_delegation_chain() {
    let setup = Impersonation::start().await;
    let (server, iam) = (&setup.server, &setup.iam);

    let out = run(setup.credkit(
        "token",
        &format!("first@credkit-test.iam.gserviceaccount.com,{TARGET}"),
        &[
            "--delegates",
            "projects/-/serviceAccounts/second@credkit-test.iam.gserviceaccount.com",
            "--scope",
            "https://www.googleapis.com/auth/devstorage.read_only",
        ],
    ))
    .await;

    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout, format!("{}\n", iam.access_token_for(TARGET)));
    let requests = iam.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let sent = &requests[0];
    assert_eq!(sent.principal(), Some(TARGET));
    assert_eq!(sent.rpc(), Some("generateAccessToken"));
    assert_eq!(sent.header("authorization"), Some("Bearer ya29.source"));
    assert_eq!(
        sent.json().unwrap(),
        json!({
            "delegates": [
                "projects/-/serviceAccounts/first@credkit-test.iam.gserviceaccount.com",
                "projects/-/serviceAccounts/second@credkit-test.iam.gserviceaccount.com"
            ],
            "scope": ["https://www.googleapis.com/auth/devstorage.read_only"],
            "lifetime": "3600s"
        })
    );
    // The source refreshed without the target's scopes: its file's grant.
    assert_eq!(server.last_request().unwrap().form_value("scope"), None);
    out.assert_no_secret(&["ya29.source", CLIENT_SECRET, REFRESH_TOKEN]);
}

#[tokio::test]
async fn an_id_token_of_the_impersonated_account() {
    let setup = Impersonation::start().await;

    let out = run(setup.credkit("token", TARGET, &["--id-token", "--audience", AUDIENCE])).await;

    assert_eq!(out.code, Some(0), "{out:#?}");
    let token = out.stdout.trim_end();
    assert_eq!(token.split('.').count(), 3);
    let sent = setup.iam.requests().pop().unwrap();
    assert_eq!(sent.rpc(), Some("generateIdToken"));
    assert_eq!(sent.json().unwrap()["audience"], AUDIENCE);
}

#[tokio::test]
async fn info_names_the_impersonated_account() {
    let setup = Impersonation::start().await;

    let out = run(setup.credkit("info", TARGET, &[])).await;

    assert_eq!(out.code, Some(0), "{out:#?}");
    let info: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(info["type"], "impersonated_service_account");
    assert_eq!(info["email"], TARGET);
}

#[tokio::test]
async fn an_iam_refusal_is_one_error_line() {
    let setup = Impersonation::start().await;
    setup.iam.push_reply(
        403,
        "application/json",
        json!({"error": {"code": 403, "message": "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).", "status": "PERMISSION_DENIED"}}).to_string(),
    );

    let out = run(setup.credkit("token", TARGET, &["--no-retry"])).await;

    let message = out.assert_error();
    assert!(message.contains("PERMISSION_DENIED"), "{message}");
    out.assert_no_secret(&["ya29.source", CLIENT_SECRET, REFRESH_TOKEN]);
}
