//! ADC over a `service_account` key file, in an isolated environment: the JWT-bearer grant
//! with the caller's scopes, the account's email and project, ID tokens and the signer.
#![cfg(feature = "service-account")]
#![allow(clippy::unwrap_used)]

use credkit::Adc;
use credkit::core::{ErrorKind, TokenSource};
use credkit_testing::{AdcEnv, FakeTokenEndpoint, JwtBearerCheck, TestKey};
use futures::executor::block_on;
use secrecy::ExposeSecret;

const EMAIL: &str = "robot@credkit-test.iam.gserviceaccount.com";
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// A key, an endpoint checking its grants (with `scope`, when given), and an environment whose
/// credentials file is the key.
fn setup(scope: Option<&str>) -> (TestKey, FakeTokenEndpoint, AdcEnv) {
    let key = TestKey::generate().unwrap();
    let endpoint = FakeTokenEndpoint::new();
    let check = JwtBearerCheck::new(&key, EMAIL);
    endpoint.accept_jwt_bearer(match scope {
        Some(scope) => check.with_scope(scope),
        None => check,
    });
    let env = AdcEnv::new()
        .with_credentials_file(&key.service_account_json(EMAIL, &endpoint.token_url()))
        .without_metadata_check();
    (key, endpoint, env)
}

fn adc(env: &AdcEnv, endpoint: &FakeTokenEndpoint) -> Adc {
    Adc::new()
        .with_env(env.lookup())
        .with_transport(endpoint.clone())
        .with_scopes([SCOPE])
}

#[test]
fn a_key_file_is_found_and_makes_jwt_bearer_grants_with_the_callers_scopes() {
    let (_key, endpoint, env) = setup(Some(SCOPE));
    let found = block_on(adc(&env, &endpoint).discover()).unwrap();
    assert_eq!(found.credential_type(), "service_account");
    let source = found
        .credential()
        .as_any()
        .and_then(|any| any.downcast_ref::<credkit::service_account::ServiceAccountCredentials>())
        .unwrap();
    assert_eq!(source.scopes().unwrap(), [SCOPE]);
    assert_eq!(block_on(found.email()).unwrap().as_deref(), Some(EMAIL));
    assert_eq!(
        block_on(found.project_id()).unwrap().as_deref(),
        Some("credkit-test")
    );
    let credentials = found.credentials_builder().build().unwrap();
    let headers = block_on(credentials.headers()).unwrap();
    assert!(
        headers["authorization"]
            .to_str()
            .unwrap()
            .starts_with("Bearer ")
    );
    // The endpoint verified the assertion's signature and claims, scope included.
    let requests = endpoint.requests();
    assert_eq!(requests.len(), 1);
    let grant = requests[0]
        .form()
        .iter()
        .find(|(name, _)| name == "grant_type");
    assert_eq!(
        grant.map(|(_, value)| value.as_str()),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    // Project ID discovery reads the key's project before any other place but the environment.
    assert_eq!(
        block_on(adc(&env, &endpoint).project_id()).unwrap(),
        "credkit-test"
    );
}

#[test]
fn a_key_file_issues_id_tokens_for_an_audience_and_signs() {
    // An ID token's assertion has a target audience and no scope.
    let (key, endpoint, env) = setup(None);
    let found = block_on(adc(&env, &endpoint).discover()).unwrap();
    let id_tokens = found.id_token_source("https://service.example").unwrap();
    let token = block_on(id_tokens.fetch_token()).unwrap();
    assert_eq!(token.secret().expose_secret().split('.').count(), 3);
    let signer = found.signer().unwrap();
    assert_eq!(signer.signer_email(), EMAIL);
    assert_eq!(signer.key_id(), Some(key.key_id()));
    let signature = block_on(signer.sign(b"payload")).unwrap();
    assert_eq!(signature.bytes().len(), 256); // RSA-2048
}

#[test]
fn a_broken_key_file_stops_discovery_with_the_references_text() {
    let env = AdcEnv::new()
        .with_credentials_file(r#"{"type": "service_account", "private_key": "x"}"#)
        .without_metadata_check();
    let err = block_on(Adc::new().with_env(env.lookup()).discover()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(
        err.to_string()
            .contains("missing fields client_email, token_uri"),
        "{err}"
    );
    assert!(!err.to_string().contains("\"x\""), "{err}");
}
