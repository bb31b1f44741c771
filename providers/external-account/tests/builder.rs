//! What `ExternalAccountCredentials`' builder makes of its settings: the defaults (the STS
//! endpoint of the universe, `cloud-platform`), the accessors, and each refusal.
#![allow(clippy::unwrap_used)]

mod fixed_support;

use credkit_core::TokenSource as _;
use credkit_external_account::{
    CLOUD_PLATFORM_SCOPE, ExternalAccountCredentials, ExternalAccountCredentialsBuilder,
};
use credkit_testing::{FakeTokenEndpoint, Reply, block_on};
use fixed_support::SUBJECT;
use serde_json::json;

const WORKLOAD: &str =
    "//iam.googleapis.com/projects/42/locations/global/workloadIdentityPools/p/providers/q";
const WORKFORCE: &str = "//iam.googleapis.com/locations/global/workforcePools/p/providers/q";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const IMPERSONATION: &str = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken";

fn builder(audience: &str) -> ExternalAccountCredentialsBuilder {
    ExternalAccountCredentials::builder(audience, JWT, SUBJECT)
        .with_transport(FakeTokenEndpoint::new())
}

#[test]
fn the_defaults_follow_the_universe() {
    let credentials = builder(WORKLOAD).build().unwrap();
    assert_eq!(
        credentials.token_url(),
        "https://sts.googleapis.com/v1/token"
    );
    assert_eq!(credentials.universe_domain(), "googleapis.com");
    assert_eq!(credentials.scopes(), [CLOUD_PLATFORM_SCOPE]);
    assert_eq!(credentials.audience(), WORKLOAD);
    assert_eq!(credentials.subject_token_type(), JWT);
    assert_eq!(credentials.source_kind(), "programmatic");
    assert_eq!(credentials.token_info_url(), None);
    assert_eq!(credentials.project_number(), Some("42"));
    assert!(credentials.impersonated().is_none());
    assert_eq!(credentials.service_account_email(), None);
    assert!(!credentials.is_workforce_pool());
    assert!(!credentials.is_user());
    assert_eq!(credentials.name(), "external_account");
    assert_eq!(credentials.quota_project(), None);

    let other = builder(WORKLOAD)
        .with_universe_domain("example-universe.net")
        .with_token_info_url("https://sts.example-universe.net/v1/introspect")
        .with_quota_project("billing")
        .build()
        .unwrap();
    assert_eq!(
        other.token_url(),
        "https://sts.example-universe.net/v1/token"
    );
    assert_eq!(other.universe_domain(), "example-universe.net");
    assert_eq!(
        other.token_info_url(),
        Some("https://sts.example-universe.net/v1/introspect")
    );
    assert_eq!(other.quota_project(), Some("billing"));
    assert!(other.clock().is_some());
}

#[test]
fn a_workforce_user_is_a_user_until_it_impersonates() {
    let user = builder(WORKFORCE)
        .with_workforce_pool_user_project("7")
        .build()
        .unwrap();
    assert!(user.is_workforce_pool());
    assert!(user.is_user());
    assert_eq!(user.workforce_pool_user_project(), Some("7"));
    let impersonating = builder(WORKFORCE)
        .with_service_account_impersonation_url(IMPERSONATION)
        .build()
        .unwrap();
    assert!(impersonating.is_workforce_pool());
    assert!(!impersonating.is_user());
    assert_eq!(
        impersonating.service_account_email(),
        Some("sa@p.iam.gserviceaccount.com")
    );
    let impersonated = impersonating.impersonated().unwrap();
    assert_eq!(
        impersonated.target_principal(),
        "sa@p.iam.gserviceaccount.com"
    );
    assert_eq!(impersonated.access_token_url(), IMPERSONATION);
}

#[test]
fn an_impersonation_asks_sts_for_the_iam_scope_and_iam_for_the_targets() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_replies([
        Reply::json(200, json!({"access_token": "sts", "expires_in": 3600})),
        Reply::json(
            200,
            json!({"accessToken": "sa-token", "expireTime": "2030-01-01T00:00:00Z"}),
        ),
    ]);
    let credentials = ExternalAccountCredentials::builder(WORKLOAD, JWT, SUBJECT)
        .with_scopes(["https://www.googleapis.com/auth/devstorage.read_only"])
        .with_service_account_impersonation_url(IMPERSONATION)
        .with_impersonation_lifetime(std::time::Duration::from_secs(600))
        .with_quota_project("billing")
        .with_transport(endpoint.clone())
        .build()
        .unwrap();
    let token = block_on(credentials.fetch_token()).unwrap();
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(token.secret()),
        "sa-token"
    );
    let requests = endpoint.requests();
    assert_eq!(
        requests[0].form_value("scope"),
        Some("https://www.googleapis.com/auth/iam")
    );
    let body: serde_json::Value = serde_json::from_slice(requests[1].body()).unwrap();
    assert_eq!(
        body["scope"],
        json!(["https://www.googleapis.com/auth/devstorage.read_only"])
    );
    assert_eq!(body["lifetime"], "600s");
    assert_eq!(requests[1].header("authorization"), Some("Bearer sts"));
    // The STS token, the impersonation's source, bills the IAM call to the quota project.
    assert_eq!(requests[1].header("x-goog-user-project"), Some("billing"));
    let source = credentials.impersonated().unwrap().source();
    assert_eq!(source.source_name(), "external_account (STS)");
    assert!(format!("{source:?}").contains("external_account (STS)"));
}

#[test]
fn each_bad_setting_is_refused_by_name() {
    let cases: Vec<(ExternalAccountCredentialsBuilder, &str)> = vec![
        (
            ExternalAccountCredentials::builder(WORKLOAD, JWT, SUBJECT),
            "transport",
        ),
        (builder(""), "audience"),
        (
            ExternalAccountCredentials::builder(WORKLOAD, "", SUBJECT)
                .with_transport(FakeTokenEndpoint::new()),
            "subject_token_type",
        ),
        (
            builder(WORKLOAD).with_workforce_pool_user_project("7"),
            "workforce_pool_user_project should not be set",
        ),
        (
            builder(WORKLOAD).with_universe_domain(""),
            "universe_domain",
        ),
        (
            builder(WORKLOAD).with_universe_domain("a/b"),
            "universe_domain",
        ),
        (builder(WORKLOAD).with_token_url("ftp://sts/x"), "token_url"),
        (builder(WORKLOAD).with_token_url("https://"), "token_url"),
        (
            builder(WORKLOAD).with_token_url("https://sts.example/a b"),
            "token_url",
        ),
        (
            builder(WORKLOAD).with_cloud_resource_manager_url("nope"),
            "Cloud Resource Manager",
        ),
        (
            builder(WORKLOAD).with_service_account_impersonation_url("https://iam.example/v1/x"),
            "Unable to determine target principal from service account impersonation URL.",
        ),
        (
            builder(WORKLOAD)
                .with_service_account_impersonation_url("http//iam.example/sa:generateAccessToken"),
            "service_account_impersonation_url",
        ),
    ];
    for (builder, expected) in cases {
        let err = builder.build().unwrap_err().to_string();
        assert!(err.contains(expected), "{err:?} lacks {expected:?}");
    }
}

#[test]
fn an_empty_scope_list_sends_no_scope() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(Reply::json(
        200,
        json!({"access_token": "t", "expires_in": 60}),
    ));
    let credentials = ExternalAccountCredentials::builder(WORKLOAD, JWT, SUBJECT)
        .with_scopes(Vec::<String>::new())
        .with_transport(endpoint.clone())
        .build()
        .unwrap();
    block_on(credentials.fetch_token()).unwrap();
    assert_eq!(endpoint.last_request().unwrap().form_value("scope"), None);
}

#[test]
fn debug_names_the_settings_and_no_secret() {
    let credentials = builder(WORKLOAD)
        .with_client("client-id", Some("client-secret-value".into()))
        .build()
        .unwrap();
    let debug = format!("{credentials:?}");
    assert!(debug.contains(WORKLOAD), "{debug}");
    assert!(debug.contains("sts.googleapis.com"), "{debug}");
    assert!(!debug.contains("client-secret-value"), "{debug}");
    let builder_debug = format!(
        "{:?}",
        builder(WORKLOAD).with_client("client-id", Some("client-secret-value".into()))
    );
    assert!(builder_debug.contains("client-id"), "{builder_debug}");
    assert!(
        !builder_debug.contains("client-secret-value"),
        "{builder_debug}"
    );
}
