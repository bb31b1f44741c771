//! Workload and workforce identity federation through ADC, end to end against the test kit's
//! fakes on loopback: a GitHub-Actions-shaped OIDC token in a file, exchanged at a fake STS,
//! used to impersonate a service account at a fake IAM, and put on requests by the tower layer;
//! a workforce user's `external_account_authorized_user` file, refreshed at STS with its
//! rotation kept; and such a user as the source of an impersonated service account.
#![cfg(all(
    feature = "external-account",
    feature = "impersonated",
    feature = "reqwest"
))]
// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use credkit::Adc;
use credkit::reqwest::ReqwestTransport;
use credkit_testing::{
    AdcEnv, FAKE_STS_REFRESH_TOKEN, FAKE_STS_TOKEN, FakeIamServer, FakeStsServer,
    FakeTokenEndpoint, TestIdTokenIssuer,
};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use support::Route;

mod support;

const AUDIENCE: &str = "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/github/providers/my-repo";
const WORKFORCE: &str = "//iam.googleapis.com/locations/global/workforcePools/staff/providers/okta";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const TARGET: &str = "deployer@credkit-test.iam.gserviceaccount.com";
const API: &str = "https://storage.googleapis.com/storage/v1/b";

/// An OIDC token shaped as GitHub Actions issues them.
fn github_token() -> String {
    let issuer = TestIdTokenIssuer::generate().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    issuer.mint(&json!({
        "iss": "https://token.actions.githubusercontent.com",
        "aud": format!("https:{AUDIENCE}"),
        "sub": "repo:credkit/credkit:ref:refs/heads/main",
        "repository": "credkit/credkit",
        "ref": "refs/heads/main",
        "workflow": "deploy",
        "iat": now,
        "exp": now + 300,
    }))
}

fn adc(env: &AdcEnv) -> Adc {
    Adc::new()
        .with_env(env.lookup())
        .with_transport(ReqwestTransport::new().unwrap())
}

#[tokio::test]
async fn a_github_token_is_exchanged_impersonated_and_put_on_requests() {
    let token = github_token();
    let sts = FakeStsServer::builder()
        .with_audience(AUDIENCE)
        .with_subject_token(token.clone())
        .with_subject_token_type(JWT)
        .start()
        .await
        .unwrap();
    let iam = FakeIamServer::start().await.unwrap();
    let env = AdcEnv::new().without_metadata_check();
    let token_file = env.write("github-oidc-token", &format!("{token}\n"));
    let env = env.with_credentials_file(
        &json!({
            "type": "external_account",
            "audience": AUDIENCE,
            "subject_token_type": JWT,
            "token_url": sts.token_url(),
            "service_account_impersonation_url": format!(
                "{}/v1/projects/-/serviceAccounts/{TARGET}:generateAccessToken", iam.url()
            ),
            "service_account_impersonation": {"token_lifetime_seconds": 1800},
            "quota_project_id": "billing-project",
            "credential_source": {"file": token_file},
        })
        .to_string(),
    );
    let found = adc(&env).discover().await.unwrap();
    assert_eq!(found.credential_type(), "external_account");
    assert_eq!(found.email().await.unwrap().as_deref(), Some(TARGET));
    let credentials = found.credentials_builder().build().unwrap();

    let seen = support::through_tower(&credentials, 16, API).await;
    let expected = format!("Bearer {}", iam.access_token_for(TARGET));
    assert_eq!(seen.len(), 16);
    assert!(seen.iter().all(|value| *value == expected), "{seen:?}");

    // One exchange, one impersonation, for sixteen concurrent callers.
    assert_eq!(sts.request_count(), 1);
    let exchange = sts.last_request().unwrap();
    assert_eq!(exchange.form_value("subject_token"), Some(token.as_str()));
    assert_eq!(exchange.form_value("audience"), Some(AUDIENCE));
    assert_eq!(
        exchange.form_value("scope"),
        Some("https://www.googleapis.com/auth/iam")
    );
    assert_eq!(iam.request_count(), 1);
    let impersonation = &iam.requests()[0];
    assert_eq!(impersonation.principal(), Some(TARGET));
    assert_eq!(impersonation.rpc(), Some("generateAccessToken"));
    assert!(
        impersonation
            .header("authorization")
            .unwrap()
            .starts_with(&format!("Bearer {FAKE_STS_TOKEN}")),
        "IAM was called with the STS token"
    );
    assert_eq!(
        impersonation.header("x-goog-user-project"),
        Some("billing-project")
    );
    let body = impersonation.json().unwrap();
    assert_eq!(body["lifetime"], "1800s");
    assert_eq!(
        body["scope"],
        json!(["https://www.googleapis.com/auth/cloud-platform"])
    );
    // ID tokens come from the impersonated account's generateIdToken.
    let ids = found.id_token_source("https://svc.run.app").unwrap();
    let id_token = ids.fetch_token().await.unwrap();
    assert_eq!(id_token.secret().expose_secret().split('.').count(), 3);
    assert_eq!(
        iam.requests().last().unwrap().rpc(),
        Some("generateIdToken")
    );
    // The quota project goes on the requests the credentials authorize, too.
    let headers = credentials.headers().await.unwrap();
    assert_eq!(headers["x-goog-user-project"], "billing-project");
}

#[tokio::test]
async fn a_workload_token_without_impersonation_is_the_sts_token() {
    let sts = FakeStsServer::start().await.unwrap();
    let env = AdcEnv::new().without_metadata_check();
    let token_file = env.write(
        "token.json",
        &json!({"id_token": "eyJ.k8s.sig"}).to_string(),
    );
    let env = env.with_credentials_file(
        &json!({
            "type": "external_account",
            "audience": AUDIENCE,
            "subject_token_type": JWT,
            "token_url": sts.token_url(),
            "credential_source": {
                "file": token_file,
                "format": {"type": "json", "subject_token_field_name": "id_token"},
            },
        })
        .to_string(),
    );
    let credentials = adc(&env)
        .with_scopes(["https://www.googleapis.com/auth/devstorage.read_only"])
        .credentials()
        .await
        .unwrap();
    let headers = credentials.headers().await.unwrap();
    assert!(
        headers["authorization"]
            .to_str()
            .unwrap()
            .starts_with(&format!("Bearer {FAKE_STS_TOKEN}"))
    );
    let exchange = sts.last_request().unwrap();
    assert_eq!(exchange.form_value("subject_token"), Some("eyJ.k8s.sig"));
    assert_eq!(
        exchange.form_value("scope"),
        Some("https://www.googleapis.com/auth/devstorage.read_only")
    );
    // No impersonation: no ID tokens to give, said so.
    let found = adc(&env).discover().await.unwrap();
    let err = found.id_token_source("https://svc.run.app").unwrap_err();
    assert!(
        err.to_string()
            .contains("service_account_impersonation_url"),
        "{err}"
    );
}

fn workforce_user(sts: &FakeStsServer, refresh_token: &str) -> Value {
    json!({
        "type": "external_account_authorized_user",
        "audience": WORKFORCE,
        "refresh_token": refresh_token,
        "token_url": sts.token_url(),
        "token_info_url": "https://sts.googleapis.com/v1/introspect",
        "client_id": "workforce-client",
        "client_secret": "workforce-secret",
        "revoke_url": "https://sts.googleapis.com/v1/oauthtoken:revoke",
        "quota_project_id": "staff-project",
    })
}

#[tokio::test]
async fn a_workforce_user_refreshes_at_sts_and_keeps_the_rotation() {
    let sts = FakeStsServer::builder()
        .with_client("workforce-client", "workforce-secret")
        .with_strict_rotation("initial-refresh-token")
        .start()
        .await
        .unwrap();
    let env = AdcEnv::new()
        .with_credentials_file(&workforce_user(&sts, "initial-refresh-token").to_string())
        .without_metadata_check();
    let found = adc(&env).discover().await.unwrap();
    assert_eq!(found.credential_type(), "external_account_authorized_user");
    let credentials = found.credentials_builder().build().unwrap();
    let first = credentials.refresh().await.unwrap();
    let second = credentials.refresh().await.unwrap();
    assert_ne!(
        first.secret().expose_secret(),
        second.secret().expose_secret()
    );
    // Strict rotation: the second refresh used the token the first one rotated to.
    let requests = sts.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].form_value("refresh_token"),
        Some("initial-refresh-token")
    );
    assert_ne!(
        requests[1].form_value("refresh_token"),
        Some("initial-refresh-token")
    );
    assert!(
        requests[1]
            .form_value("refresh_token")
            .unwrap()
            .starts_with(FAKE_STS_REFRESH_TOKEN),
        "the rotated refresh token was used"
    );
    assert!(
        requests
            .iter()
            .all(|request| request.grant_type() == Some("refresh_token"))
    );
    let headers = credentials.headers().await.unwrap();
    assert_eq!(headers["x-goog-user-project"], "staff-project");
}

#[tokio::test]
async fn a_workforce_user_is_an_impersonation_source() {
    // The ADC file names Google's IAM endpoint: the route sends it to the fake, and the
    // source's refresh to the in-memory token endpoint.
    let iam = FakeIamServer::start().await.unwrap();
    let endpoint = FakeTokenEndpoint::new();
    let route = Route::new(&iam, &endpoint);
    let source = json!({
        "type": "external_account_authorized_user",
        "audience": WORKFORCE,
        "refresh_token": "user-refresh-token",
        "token_url": endpoint.token_url(),
        "client_id": "workforce-client",
        "client_secret": "workforce-secret",
        "quota_project_id": "staff-project",
    });
    let env = AdcEnv::new()
        .with_credentials_file(
            &json!({
                "type": "impersonated_service_account",
                "service_account_impersonation_url": format!(
                    "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{TARGET}:generateAccessToken"
                ),
                "source_credentials": source,
            })
            .to_string(),
        )
        .without_metadata_check();
    let found = Adc::new()
        .with_env(env.lookup())
        .with_transport(route)
        .discover()
        .await
        .unwrap();
    assert_eq!(found.credential_type(), "impersonated_service_account");
    let credentials = found.credentials_builder().build().unwrap();
    let headers = credentials.headers().await.unwrap();
    assert_eq!(
        headers["authorization"].to_str().unwrap(),
        format!("Bearer {}", iam.access_token_for(TARGET))
    );
    let refresh = endpoint.last_request().unwrap();
    assert_eq!(refresh.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(
        refresh.form_value("refresh_token"),
        Some("user-refresh-token")
    );
    assert!(
        refresh
            .header("authorization")
            .unwrap()
            .starts_with("Basic ")
    );
    assert_eq!(
        iam.requests()[0].header("x-goog-user-project"),
        Some("staff-project")
    );
}

#[cfg(unix)]
#[tokio::test]
async fn an_executable_token_is_exchanged_impersonated_and_put_on_requests() {
    use credkit_testing::ScriptedExecutable;

    let token = github_token();
    let expires = time::OffsetDateTime::now_utc().unix_timestamp() + 600;
    let program = ScriptedExecutable::builder()
        .with_stdout(ScriptedExecutable::oidc_response(&token, Some(expires)))
        .build()
        .unwrap();
    let sts = FakeStsServer::builder()
        .with_audience(AUDIENCE)
        .with_subject_token(token.clone())
        .start()
        .await
        .unwrap();
    let iam = FakeIamServer::start().await.unwrap();
    let file = json!({
        "type": "external_account",
        "audience": AUDIENCE,
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "token_url": sts.token_url(),
        "service_account_impersonation_url": format!(
            "{}/v1/projects/-/serviceAccounts/{TARGET}:generateAccessToken", iam.url()
        ),
        "credential_source": {"executable": {
            "command": program.command_line(),
            "timeout_millis": 10000,
        }},
    })
    .to_string();

    // Not allowed to run programs: refused, with the reference's words, and nothing ran.
    let denied = AdcEnv::new()
        .with_credentials_file(&file)
        .without_metadata_check();
    let credentials = adc(&denied).credentials().await.unwrap();
    let err = credentials.headers().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES"),
        "{err}"
    );
    assert_eq!(program.calls(), 0);

    let env = AdcEnv::new()
        .with_var("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "1")
        .with_credentials_file(&file)
        .without_metadata_check();
    let credentials = adc(&env).credentials().await.unwrap();
    let seen = support::through_tower(&credentials, 8, API).await;
    let expected = format!("Bearer {}", iam.access_token_for(TARGET));
    assert!(seen.iter().all(|value| *value == expected), "{seen:?}");
    // One run of the program, one exchange, one impersonation for eight callers.
    assert_eq!(program.calls(), 1);
    assert_eq!(sts.request_count(), 1);
    assert_eq!(iam.request_count(), 1);
    let run = program.last_run().unwrap();
    let google = run.google_env();
    assert_eq!(google["GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE"], AUDIENCE);
    assert_eq!(google["GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL"], TARGET);
    assert_eq!(google["GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE"], "0");
}
