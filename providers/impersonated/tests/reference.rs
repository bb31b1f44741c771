//! Wire parity with google-auth's `impersonated_credentials` (the Python library, run by
//! `CREDKIT_GOOGLE_AUTH_PYTHON`): for the same inputs, what the reference sends (captured by a
//! fake `request` callable and a fake `AuthorizedSession`, no network) and what credkit sends
//! to the loopback `FakeIamServer` are compared: the URL (the path, and the full URL of the
//! default endpoint), the method, the headers that matter (`authorization`, `content-type`,
//! `x-goog-user-project`), the body as JSON, the number of `signBlob` attempts, and the words
//! each error starts with.
//!
//! Without `CREDKIT_GOOGLE_AUTH_PYTHON` (or with a Python lacking google-auth) the test prints
//! `SKIPPED: ...` and passes, unless `CREDKIT_REQUIRE_GOOGLE_AUTH=1`, when it fails.
#![allow(clippy::unwrap_used, clippy::print_stderr, clippy::panic)]

mod support;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use credkit_core::{Credentials, RetryPolicy, Signer, TokenSource};
use credkit_impersonated::ImpersonatedCredentials;
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{FakeClock, FakeIamServer, FakeMetadataServer, IamRequest, ScriptedSource};
use serde_json::{Value, json};
use support::{HOUR, SOURCE_TOKEN, TARGET};

const DEFAULT_ORIGIN: &str = "https://iamcredentials.googleapis.com";
const KEPT_HEADERS: [&str; 3] = ["authorization", "content-type", "x-goog-user-project"];

fn google_error(status: u16, name: &str) -> Value {
    json!([status, {"error": {"code": status, "message": "fake IAM failure", "status": name}}])
}

/// The cases, as the Python script reads them (`replies` feed its fakes; credkit's come from
/// the fake server, scripted by `fail`).
fn cases() -> Vec<Value> {
    let id_token = FakeMetadataServer::fake_id_token(&json!({"aud": "a", "exp": 1_900_000_000}));
    let access_ok = json!([200, {"accessToken": "ya29.x", "expireTime": "2030-01-01T01:00:00Z"}]);
    let id_ok = json!([200, {"token": id_token}]);
    let sign_ok = json!([200, {"keyId": "k", "signedBlob": "AQID"}]);
    let base = |kind: &str| json!({"kind": kind, "source_token": SOURCE_TOKEN, "principal": TARGET, "scopes": ["s1", "s2"]});
    let with = |mut case: Value, extra: Value| {
        case.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        case
    };
    vec![
        with(
            base("access"),
            json!({"name": "access with delegates, lifetime and a source quota project",
                "delegates": ["projects/-/serviceAccounts/a@p", "projects/-/serviceAccounts/b@p"],
                "lifetime": 500, "source_quota_project": "source-project", "replies": [access_ok]}),
        ),
        with(
            base("access"),
            json!({"name": "access with the defaults", "scopes": ["https://www.googleapis.com/auth/cloud-platform"],
                "replies": [access_ok]}),
        ),
        with(
            base("id_token"),
            json!({"name": "ID token with email and delegates", "audience": "https://svc.run.app",
                "include_email": true, "delegates": ["projects/-/serviceAccounts/d@p"], "replies": [id_ok]}),
        ),
        with(
            base("id_token"),
            json!({"name": "ID token without email", "audience": "https://svc.run.app", "replies": [id_ok]}),
        ),
        with(
            base("sign"),
            json!({"name": "signBlob with delegates", "message": "hello world",
                "delegates": ["projects/-/serviceAccounts/d@p"], "replies": [sign_ok]}),
        ),
        with(
            base("access"),
            json!({"name": "access denied", "fail": [1, 403], "replies": [google_error(403, "PERMISSION_DENIED")]}),
        ),
        with(
            base("id_token"),
            json!({"name": "ID token denied", "audience": "aud", "fail": [1, 403],
                "replies": [google_error(403, "PERMISSION_DENIED")]}),
        ),
        with(
            base("sign"),
            json!({"name": "signBlob denied", "message": "m", "fail": [1, 403],
                "replies": [google_error(403, "PERMISSION_DENIED")]}),
        ),
        with(
            base("sign"),
            json!({"name": "signBlob unavailable three times", "message": "m", "fail": [3, 503],
                "replies": [google_error(503, "UNAVAILABLE"), google_error(503, "UNAVAILABLE"), google_error(503, "UNAVAILABLE")]}),
        ),
        with(
            base("url"),
            json!({"name": "another universe", "universe_domain": "example.goog"}),
        ),
    ]
}

/// What credkit did for `case`: the requests, the error, and the URL of generateAccessToken by
/// default.
struct Outcome {
    requests: Vec<IamRequest>,
    error: Option<String>,
    access_url: String,
}

async fn run_credkit(case: &Value) -> Outcome {
    let clock = FakeClock::new().with_auto_advance(true);
    let iam = FakeIamServer::builder()
        .with_clock(clock.clone())
        .start()
        .await
        .unwrap();
    if let Some(fail) = case["fail"].as_array() {
        iam.fail_next(
            usize::try_from(fail[0].as_u64().unwrap()).unwrap(),
            u16::try_from(fail[1].as_u64().unwrap()).unwrap(),
        );
    }
    let mut source =
        Credentials::builder(ScriptedSource::new(&clock).then_token(SOURCE_TOKEN, HOUR))
            .with_clock(std::sync::Arc::new(clock.clone()))
            .with_retry_policy(RetryPolicy::none());
    if let Some(project) = case["source_quota_project"].as_str() {
        source = source.with_quota_project(project);
    }
    let source = source.build().unwrap();
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    let configure = |universe: Option<&str>| {
        let mut builder = ImpersonatedCredentials::builder(source.clone(), TARGET)
            .with_transport(ReqwestTransport::new().unwrap())
            .with_clock(clock.clone())
            .with_scopes(strings(&case["scopes"]));
        if case["delegates"].is_array() {
            builder = builder.with_delegates(strings(&case["delegates"]));
        }
        if let Some(lifetime) = case["lifetime"].as_u64() {
            builder = builder.with_lifetime(std::time::Duration::from_secs(lifetime));
        }
        if let Some(universe) = universe {
            builder = builder.with_universe_domain(universe);
        }
        builder
    };
    let access_url = configure(case["universe_domain"].as_str())
        .build()
        .unwrap()
        .access_token_url()
        .to_owned();
    let target = configure(None)
        .with_iam_base_url(iam.url())
        .build()
        .unwrap();
    let error = match case["kind"].as_str().unwrap() {
        "access" => target.fetch_token().await.err(),
        "id_token" => target
            .id_token_source_builder(case["audience"].as_str().unwrap())
            .with_include_email(case["include_email"].as_bool().unwrap_or(false))
            .build()
            .unwrap()
            .fetch_token()
            .await
            .err(),
        "sign" => target
            .signer()
            .sign(case["message"].as_str().unwrap().as_bytes())
            .await
            .err(),
        _ => None,
    };
    Outcome {
        requests: iam.requests(),
        error: error.map(|e| e.to_string()),
        access_url,
    }
}

#[tokio::test]
async fn credkit_sends_what_google_auth_sends() {
    let Some(python) = credkit_testing::google_auth_python(
        "google.auth.impersonated_credentials, google.auth.transport.requests",
    ) else {
        return;
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference/google_auth_impersonated.py");
    let cases = cases();
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
        .write_all(Value::Array(cases.clone()).to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the google-auth script failed");
    let reference: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(reference.len(), cases.len());

    for (case, theirs) in cases.iter().zip(&reference) {
        let name = case["name"].as_str().unwrap();
        let ours = run_credkit(case).await;
        assert_eq!(
            ours.access_url,
            theirs["access_url"].as_str().unwrap(),
            "{name}: the default generateAccessToken URL"
        );
        let their_requests = theirs["requests"].as_array().unwrap();
        assert_eq!(
            ours.requests.len(),
            their_requests.len(),
            "{name}: the number of requests"
        );
        for (mine, their) in ours.requests.iter().zip(their_requests) {
            let url = their["url"].as_str().unwrap();
            assert_eq!(
                Some(mine.path()),
                url.strip_prefix(DEFAULT_ORIGIN),
                "{name}: the URL"
            );
            assert_eq!(mine.method(), their["method"], "{name}: the method");
            for header in KEPT_HEADERS {
                assert_eq!(
                    mine.header(header),
                    their["headers"][header].as_str(),
                    "{name}: the {header} header"
                );
            }
            assert_eq!(mine.json().unwrap(), their["body"], "{name}: the body");
        }
        match (theirs["error"].as_str(), &ours.error) {
            (None, None) => {}
            (Some(theirs), Some(ours)) => {
                // The reference's words lead (it goes on with the whole body; credkit with
                // Google's status and scrubbed message).
                let words = theirs.split(": ").next().unwrap();
                assert!(
                    ours.starts_with(words),
                    "{name}: {ours:?} should start with {words:?}"
                );
            }
            (theirs, ours) => panic!("{name}: errors differ: {theirs:?} / {ours:?}"),
        }
        if case["kind"] == "sign" {
            assert_eq!(
                theirs["sleeps"].as_array().unwrap().len(),
                ours.requests.len() - 1,
                "{name}: the backoff waits"
            );
        }
    }
}
