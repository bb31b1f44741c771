//! ADC over an `impersonated_service_account` file, in an isolated environment, end to end:
//! the source built by the registered loaders (a user's refresh token, a service account's key
//! narrowed to the IAM scope), the IAM calls on a loopback fake, ID tokens, the signer, and the
//! errors of bad files.
#![cfg(all(
    feature = "impersonated",
    feature = "refresh-token",
    feature = "service-account",
    feature = "reqwest"
))]
#![allow(clippy::unwrap_used)]

mod support;

use credkit::Adc;
use credkit::core::{Signer, TokenSource};
use credkit::impersonated::ImpersonatedCredentials;
use credkit_testing::{AdcEnv, FakeIamServer, FakeTokenEndpoint, JwtBearerCheck, TestKey};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use support::Route;

const TARGET: &str = "target@credkit-test.iam.gserviceaccount.com";
const SOURCE_EMAIL: &str = "source@credkit-test.iam.gserviceaccount.com";
const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.read_only";
const IAM_SCOPE: &str = "https://www.googleapis.com/auth/iam";

struct Setup {
    iam: FakeIamServer,
    endpoint: FakeTokenEndpoint,
    route: Route,
}

async fn setup() -> Setup {
    let iam = FakeIamServer::start().await.unwrap();
    let endpoint = FakeTokenEndpoint::new();
    let route = Route::new(&iam, &endpoint);
    Setup {
        iam,
        endpoint,
        route,
    }
}

fn file(source: &Value, extra: &Value) -> String {
    let mut file = json!({
        "type": "impersonated_service_account",
        "service_account_impersonation_url": format!(
            "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{TARGET}:generateAccessToken"
        ),
        "source_credentials": source,
    });
    file.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    file.to_string()
}

fn user_source(endpoint: &FakeTokenEndpoint) -> Value {
    json!({
        "type": "authorized_user",
        "client_id": "123.apps.googleusercontent.com",
        "client_secret": "user-client-secret",
        "refresh_token": "1//user-refresh-token",
        "token_uri": endpoint.token_url(),
        "quota_project_id": "source-project",
    })
}

fn adc(env: &AdcEnv, route: &Route) -> Adc {
    Adc::new()
        .with_env(env.lookup())
        .with_transport(route.clone())
}

#[tokio::test]
async fn a_user_source_impersonates_with_the_callers_scopes() {
    let Setup {
        iam,
        endpoint,
        route,
    } = setup().await;
    let env = AdcEnv::new()
        .with_credentials_file(&file(
            &user_source(&endpoint),
            &json!({
                "delegates": ["projects/-/serviceAccounts/hop@credkit-test.iam.gserviceaccount.com"],
                "quota_project_id": "target-project",
                "scopes": ["https://www.googleapis.com/auth/from-file"],
            }),
        ))
        .without_metadata_check();
    let found = adc(&env, &route)
        .with_scopes([SCOPE])
        .discover()
        .await
        .unwrap();
    assert_eq!(found.credential_type(), "impersonated_service_account");
    assert_eq!(found.email().await.unwrap().as_deref(), Some(TARGET));
    let target = found
        .credential()
        .as_any()
        .and_then(|any| any.downcast_ref::<ImpersonatedCredentials>())
        .unwrap();
    assert_eq!(target.scopes(), [SCOPE]);
    assert_eq!(target.quota_project(), Some("target-project"));

    let credentials = found.credentials_builder().build().unwrap();
    let headers = credentials.headers().await.unwrap();
    assert_eq!(
        headers["authorization"],
        format!("Bearer {}", iam.access_token_for(TARGET))
    );
    assert_eq!(headers["x-goog-user-project"], "target-project");

    // The user's refresh grant asked for no scopes of the caller's.
    let grants = endpoint.requests();
    assert_eq!(grants.len(), 1);
    assert!(grants[0].form().iter().all(|(name, _)| name != "scope"));
    let source_token = "fake-access-token-1";
    let call = &iam.requests()[0];
    assert_eq!(call.rpc(), Some("generateAccessToken"));
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {source_token}").as_str())
    );
    assert_eq!(call.header("x-goog-user-project"), Some("source-project"));
    assert_eq!(
        call.json().unwrap(),
        json!({
            "delegates": ["projects/-/serviceAccounts/hop@credkit-test.iam.gserviceaccount.com"],
            "scope": [SCOPE],
            "lifetime": "3600s",
        })
    );

    // ID tokens through generateIdToken, with the email (as the reference's ADC).
    let ids = found.id_token_source("https://svc.run.app").unwrap();
    let token = ids.fetch_token().await.unwrap();
    assert!(token.id_token().is_some());
    let call = &iam.requests()[1];
    assert_eq!(call.rpc(), Some("generateIdToken"));
    assert_eq!(
        call.json().unwrap(),
        json!({
            "audience": "https://svc.run.app",
            "delegates": ["projects/-/serviceAccounts/hop@credkit-test.iam.gserviceaccount.com"],
            "includeEmail": true,
        })
    );

    // The signer signs as the target through signBlob.
    let signer = found.signer().unwrap();
    assert_eq!(signer.signer_email(), TARGET);
    let signature = signer.sign(b"blob").await.unwrap();
    assert!(iam.verify(b"blob", signature.bytes()));
    // One source token served every IAM call.
    assert_eq!(endpoint.request_count(), 1);
    assert!(
        iam.requests()
            .iter()
            .all(|r| r.header("authorization") == Some("Bearer fake-access-token-1"))
    );
}

#[tokio::test]
async fn a_service_account_source_is_narrowed_to_the_iam_scope() {
    let Setup {
        iam,
        endpoint,
        route,
    } = setup().await;
    let key = TestKey::generate().unwrap();
    endpoint.accept_jwt_bearer(JwtBearerCheck::new(&key, SOURCE_EMAIL).with_scope(IAM_SCOPE));
    let env = AdcEnv::new()
        .with_credentials_file(&file(
            &key.service_account_info(SOURCE_EMAIL, &endpoint.token_url()),
            &json!({"scopes": ["https://www.googleapis.com/auth/from-file"]}),
        ))
        .without_metadata_check();
    let found = adc(&env, &route)
        .with_quota_project("caller-project")
        .discover()
        .await
        .unwrap();
    let credentials = found.credentials_builder().build().unwrap();
    let headers = credentials.headers().await.unwrap();
    assert_eq!(
        headers["authorization"],
        format!("Bearer {}", iam.access_token_for(TARGET))
    );
    assert_eq!(headers["x-goog-user-project"], "caller-project");
    // The endpoint checked the grant's signature and its scope (the IAM scope alone).
    let grants = endpoint.requests();
    assert_eq!(grants.len(), 1);
    let call = &iam.requests()[0];
    assert_eq!(call.header("x-goog-user-project"), None);
    assert_eq!(
        call.json().unwrap(),
        json!({
            "delegates": null,
            "scope": ["https://www.googleapis.com/auth/from-file"],
            "lifetime": "3600s",
        })
    );
    assert_eq!(
        call.header("authorization"),
        Some("Bearer fake-access-token-1")
    );
}

#[tokio::test]
async fn default_scopes_apply_when_neither_the_caller_nor_the_file_has_any() {
    let Setup {
        iam,
        endpoint,
        route,
    } = setup().await;
    let env = AdcEnv::new()
        .with_credentials_file(&file(&user_source(&endpoint), &json!({})))
        .without_metadata_check();
    let found = adc(&env, &route)
        .with_default_scopes(["https://www.googleapis.com/auth/default"])
        .discover()
        .await
        .unwrap();
    found.token_source().fetch_token().await.unwrap();
    assert_eq!(
        iam.requests()[0].json().unwrap()["scope"],
        json!(["https://www.googleapis.com/auth/default"])
    );
    let found = adc(&env, &route).discover().await.unwrap();
    let token = found.token_source().fetch_token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), iam.access_token_for(TARGET));
    assert_eq!(
        iam.requests()[1].json().unwrap()["scope"],
        json!(["https://www.googleapis.com/auth/cloud-platform"])
    );
}

#[tokio::test]
async fn bad_files_say_what_is_wrong() {
    let Setup {
        endpoint, route, ..
    } = setup().await;
    let cases = [
        (
            file(&json!({"type": "external_account"}), &json!({})),
            "source credential of type external_account is not supported.",
        ),
        (
            file(
                &user_source(&endpoint),
                &json!({
                    "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/x:signBlob",
                }),
            ),
            "Cannot extract target principal from https://iamcredentials.googleapis.com/v1/x:signBlob",
        ),
        (
            file(&json!({"type": "authorized_user"}), &json!({})),
            "refresh_token",
        ),
        (
            file(
                &json!({"type": "external_account_authorized_user"}),
                &json!({}),
            ),
            // Loaded by its own registered loader, which says what the file lacks.
            "fields to allow it to refresh (`refresh_token`, `token_url`, `client_id`, `client_secret`)",
        ),
        (
            file(&user_source(&endpoint), &json!({"delegates": "one"})),
            "delegates must be a list of strings",
        ),
    ];
    for (text, expected) in cases {
        let env = AdcEnv::new()
            .with_credentials_file(&text)
            .without_metadata_check();
        let err = adc(&env, &route).discover().await.unwrap_err();
        assert!(
            err.to_string().contains(expected),
            "{err} should contain {expected}"
        );
        assert!(!err.to_string().contains("user-client-secret"));
        assert!(!err.to_string().contains("1//user-refresh-token"));
    }
}
