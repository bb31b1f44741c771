//! Wire parity with google-auth's `identity_pool` credentials (the Python library, run by
//! `CREDKIT_GOOGLE_AUTH_PYTHON`): for the same `external_account` file, what the reference
//! sends (captured by a fake `request` callable, no network) and what credkit sends to the
//! loopback `FakeStsServer` and `FakeIamServer` are compared: the path, the method, the headers
//! that matter (`authorization` with its basic client auth, `content-type`,
//! `x-goog-user-project`), the STS form member by member in order, the IAM body as JSON, and
//! the words an error starts with.
//!
//! Without `CREDKIT_GOOGLE_AUTH_PYTHON` (or with a Python lacking google-auth) the test prints
//! `SKIPPED: ...` and passes, unless `CREDKIT_REQUIRE_GOOGLE_AUTH=1`, when it fails.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::Write as _;
use std::process::{Command, Stdio};

use credkit_core::TokenSource as _;
use credkit_external_account::ExternalAccountInfo;
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{FakeIamServer, FakeStsServer, StsReply};
use serde_json::{Value, json};

const WORKLOAD: &str =
    "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/oidc";
const WORKFORCE: &str = "//iam.googleapis.com/locations/global/workforcePools/staff/providers/okta";
const SUBJECT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCJ9.c2ln";
const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";
const TARGET: &str = "robot@p.iam.gserviceaccount.com";
const KEPT_HEADERS: [&str; 3] = ["authorization", "content-type", "x-goog-user-project"];
/// What the fake STS answers first, and so what the reference's fake answers too.
const STS_TOKEN: &str = "fake-sts-access-token-1";

struct Case {
    name: &'static str,
    info: Value,
    /// What STS answers: a token, or an OAuth error.
    sts_error: Option<(u16, &'static str, &'static str)>,
}

fn cases(token_file: &str, json_file: &str, sts: &FakeStsServer, iam: &FakeIamServer) -> Vec<Case> {
    let base = |audience: &str, source: Value| {
        json!({
            "type": "external_account",
            "audience": audience,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": sts.token_url(),
            "credential_source": source,
        })
    };
    let with = |mut info: Value, extra: Value| {
        info.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        info
    };
    let file = json!({"file": token_file});
    vec![
        Case {
            name: "a workload pool, a text file",
            info: base(WORKLOAD, file.clone()),
            sts_error: None,
        },
        Case {
            name: "a JSON file, a client, a quota project",
            info: with(
                base(
                    WORKLOAD,
                    json!({"file": json_file, "format": {"type": "json", "subject_token_field_name": "id_token"}}),
                ),
                json!({"client_id": "client-id", "client_secret": "client-secret", "quota_project_id": "billing"}),
            ),
            sts_error: None,
        },
        Case {
            name: "a workforce pool with a user project and no client",
            info: with(
                base(WORKFORCE, file.clone()),
                json!({"workforce_pool_user_project": "4567"}),
            ),
            sts_error: None,
        },
        Case {
            name: "a workforce pool with a user project and a client",
            info: with(
                base(WORKFORCE, file.clone()),
                json!({"workforce_pool_user_project": "4567", "client_id": "c", "client_secret": "s"}),
            ),
            sts_error: None,
        },
        Case {
            name: "impersonation with a lifetime and a quota project",
            info: with(
                base(WORKLOAD, file.clone()),
                json!({
                    "service_account_impersonation_url": format!(
                        "{}/v1/projects/-/serviceAccounts/{TARGET}:generateAccessToken", iam.url()
                    ),
                    "service_account_impersonation": {"token_lifetime_seconds": 1800},
                    "quota_project_id": "billing",
                }),
            ),
            sts_error: None,
        },
        Case {
            name: "STS refuses the token",
            info: base(WORKLOAD, file),
            sts_error: Some((400, "invalid_grant", "The subject token is expired.")),
        },
    ]
}

/// One request as the comparison sees it.
#[allow(clippy::needless_pass_by_value)] // Called with owned values built on the spot.
fn normalized(path: &str, method: &str, headers: Vec<(String, String)>, body: Value) -> Value {
    let headers: serde_json::Map<String, Value> = headers
        .into_iter()
        .filter(|(name, _)| KEPT_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| (name, Value::String(value)))
        .collect();
    json!({"path": path, "method": method, "headers": headers, "body": body})
}

fn python_side(python: &std::path::Path, cases: &[Case]) -> Vec<Value> {
    let input: Vec<Value> = cases
        .iter()
        .map(|case| {
            let sts = match case.sts_error {
                None => json!([200, {"access_token": STS_TOKEN, "issued_token_type": "urn:ietf:params:oauth:token-type:access_token", "token_type": "Bearer", "expires_in": 3600}]),
                Some((status, error, description)) => {
                    json!([status, {"error": error, "error_description": description}])
                }
            };
            let iam = json!([200, {"accessToken": "ya29.impersonated", "expireTime": "2030-01-01T00:00:00Z"}]);
            json!({"info": case.info, "scopes": [CLOUD_PLATFORM], "replies": [sts, iam]})
        })
        .collect();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/external_account_sts.py"
    );
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the reference script failed");
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    results
        .into_iter()
        .map(|result| {
            let requests: Vec<Value> = result["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|request| {
                    let url = request["url"].as_str().unwrap();
                    let path = url.find("/v1/").map_or(url, |at| &url[at..]);
                    let headers = request["headers"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                        .collect();
                    normalized(
                        path,
                        request["method"].as_str().unwrap(),
                        headers,
                        request["body"].clone(),
                    )
                })
                .collect();
            json!({"requests": requests, "error": first_words(result["error"].as_str())})
        })
        .collect()
}

/// An error's OAuth code and description: credkit's message is `code: description`; the
/// reference's exception reads `('Error code code: description', body)`.
fn first_words(error: Option<&str>) -> Value {
    error.map_or(Value::Null, |text| {
        let oauth = match text.split_once("Error code ") {
            Some((_, rest)) => rest.split('\'').next().unwrap_or(rest),
            None => text,
        };
        Value::String(oauth.to_owned())
    })
}

#[tokio::test]
async fn credkit_sends_what_google_auth_sends() {
    let Some(python) = credkit_testing::google_auth_python("google.auth.identity_pool") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, SUBJECT).unwrap();
    let json_file = dir.path().join("token.json");
    std::fs::write(&json_file, json!({"id_token": SUBJECT}).to_string()).unwrap();
    let sts = FakeStsServer::start().await.unwrap();
    let iam = FakeIamServer::start().await.unwrap();
    let cases = cases(
        token_file.to_str().unwrap(),
        json_file.to_str().unwrap(),
        &sts,
        &iam,
    );
    let reference = python_side(&python, &cases);
    for (case, reference) in cases.iter().zip(reference) {
        let new_sts = FakeStsServer::start().await.unwrap();
        let mut info = case.info.clone();
        info["token_url"] = json!(new_sts.token_url());
        if let Some((status, error, description)) = case.sts_error {
            new_sts.push_reply(StsReply::oauth_error(status, error, Some(description)));
        }
        iam.clear_requests();
        let credentials = ExternalAccountInfo::from_json(&info)
            .unwrap()
            .builder()
            .with_scopes([CLOUD_PLATFORM])
            .with_transport(ReqwestTransport::new().unwrap())
            .build()
            .unwrap();
        let error = credentials
            .fetch_token()
            .await
            .err()
            .map(|err| err.to_string());
        let mut requests: Vec<Value> = new_sts
            .requests()
            .iter()
            .map(|request| {
                let headers = request
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
                    .collect();
                let form: Vec<Value> = request.form().iter().map(|(k, v)| json!([k, v])).collect();
                normalized(
                    request.path(),
                    request.method(),
                    headers,
                    Value::Array(form),
                )
            })
            .collect();
        requests.extend(iam.requests().iter().map(|request| {
            let headers = request
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
                .collect();
            normalized(
                request.path(),
                request.method(),
                headers,
                request.json().unwrap(),
            )
        }));
        let ours = json!({"requests": requests, "error": first_words(error.as_deref())});
        assert_eq!(ours, reference, "{}", case.name);
    }
}
