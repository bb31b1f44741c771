//! The pool's project ID from Cloud Resource Manager, as the reference's `get_project_id`:
//! asked once with the credentials' own token, remembered, and `None` where the reference
//! gives `None`.
#![allow(clippy::unwrap_used)]

mod fixed_support;

use credkit_external_account::ExternalAccountCredentials;
use credkit_testing::{FakeTokenEndpoint, Reply, block_on};
use fixed_support::SUBJECT;
use serde_json::json;

const WORKLOAD: &str =
    "//iam.googleapis.com/projects/314159/locations/global/workloadIdentityPools/p/providers/q";
const WORKFORCE: &str = "//iam.googleapis.com/locations/global/workforcePools/p/providers/q";

fn token() -> Reply {
    Reply::json(
        200,
        json!({"access_token": "sts-token", "expires_in": 3600}),
    )
}

fn credentials(endpoint: &FakeTokenEndpoint, audience: &str) -> ExternalAccountCredentials {
    ExternalAccountCredentials::builder(audience, "urn:ietf:params:oauth:token-type:jwt", SUBJECT)
        .with_token_url("https://sts.googleapis.com/v1/token")
        .with_cloud_resource_manager_url("https://crm.example/")
        .with_quota_project("billing")
        .with_transport(endpoint.clone())
        .build()
        .unwrap()
}

#[test]
fn the_project_number_is_looked_up_once() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_replies([
        token(),
        Reply::json(200, json!({"projectId": "my-project"})),
    ]);
    let credentials = credentials(&endpoint, WORKLOAD);
    assert_eq!(
        block_on(credentials.project_id()).unwrap().as_deref(),
        Some("my-project")
    );
    assert_eq!(
        block_on(credentials.project_id()).unwrap().as_deref(),
        Some("my-project")
    );
    let requests = endpoint.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].method(), http::Method::GET);
    assert_eq!(requests[1].path(), "/v1/projects/314159");
    assert_eq!(
        requests[1].header("authorization"),
        Some("Bearer sts-token")
    );
    assert_eq!(requests[1].header("x-goog-user-project"), Some("billing"));
}

#[test]
fn a_workforce_pool_asks_for_its_user_project() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_replies([token(), Reply::json(200, json!({"projectId": "staff"}))]);
    let credentials = ExternalAccountCredentials::builder(
        WORKFORCE,
        "urn:ietf:params:oauth:token-type:jwt",
        SUBJECT,
    )
    .with_workforce_pool_user_project("2718")
    .with_cloud_resource_manager_url("https://crm.example")
    .with_transport(endpoint.clone())
    .build()
    .unwrap();
    assert_eq!(
        block_on(credentials.project_id()).unwrap().as_deref(),
        Some("staff")
    );
    assert_eq!(endpoint.requests()[1].path(), "/v1/projects/2718");
}

#[test]
fn no_number_or_a_refusal_is_no_project() {
    let endpoint = FakeTokenEndpoint::new();
    let no_number = credentials(&endpoint, WORKFORCE);
    assert_eq!(block_on(no_number.project_id()).unwrap(), None);
    assert_eq!(
        endpoint.request_count(),
        0,
        "nothing to look up: nothing sent"
    );

    endpoint.push_replies([token(), Reply::json(403, json!({"error": {"code": 403}}))]);
    let refused = credentials(&endpoint, WORKLOAD);
    assert_eq!(block_on(refused.project_id()).unwrap(), None);

    // (The endpoint repeats its last reply: a fresh one for the next case.)
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_replies([token(), Reply::json(200, json!({"name": "no id"}))]);
    let no_id = credentials(&endpoint, WORKLOAD);
    assert_eq!(block_on(no_id.project_id()).unwrap(), None);
}

#[test]
fn a_token_failure_is_an_error() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(Reply::oauth_error(400, "invalid_grant", None));
    let err = block_on(credentials(&endpoint, WORKLOAD).project_id()).unwrap_err();
    assert_eq!(err.oauth_error(), Some("invalid_grant"));
}

#[test]
fn a_user_project_that_is_not_a_path_segment_is_not_looked_up() {
    for project in ["a/b", "a?b", "a#b", "a%2Fb", "a\u{1}b"] {
        let endpoint = FakeTokenEndpoint::new();
        let credentials = ExternalAccountCredentials::builder(
            WORKFORCE,
            "urn:ietf:params:oauth:token-type:jwt",
            SUBJECT,
        )
        .with_workforce_pool_user_project(project)
        .with_transport(endpoint.clone())
        .build()
        .unwrap();
        assert_eq!(
            block_on(credentials.project_id()).unwrap(),
            None,
            "{project:?}"
        );
        assert_eq!(endpoint.request_count(), 0, "{project:?}");
    }
}

/// A project reply of exactly `len` bytes.
fn padded(project: &str, len: usize) -> String {
    let bare = json!({"projectId": project, "pad": ""}).to_string();
    let pad = "a".repeat(len - bare.len());
    let body = json!({"projectId": project, "pad": pad}).to_string();
    assert_eq!(body.len(), len);
    body
}

#[test]
fn replies_are_read_up_to_64_kib_and_an_empty_id_is_none() {
    let cases = [
        (padded("p", 2_000), Some("p")),
        (padded("p", 64 * 1024), Some("p")),
        (padded("p", 64 * 1024 + 1), None),
        (json!({"projectId": ""}).to_string(), None),
        (json!({"projectId": "a\u{7}b"}).to_string(), None),
    ];
    for (body, expected) in cases {
        let endpoint = FakeTokenEndpoint::new();
        endpoint.push_replies([token(), Reply::raw(200, "application/json", body.clone())]);
        let credentials = credentials(&endpoint, WORKLOAD);
        assert_eq!(
            block_on(credentials.project_id()).unwrap().as_deref(),
            expected,
            "a reply of {} bytes",
            body.len()
        );
    }
}
