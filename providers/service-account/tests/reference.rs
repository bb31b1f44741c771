//! The reference's requests on the wire: for the same key and inputs, google-auth (the Python
//! library, run by `CREDKIT_GOOGLE_AUTH_PYTHON`) and credkit are pointed at the same loopback
//! token endpoint, and what they send is compared: the form body's keys and values, and the
//! JWT's header and claims (all but `iat`, `exp` and the signature, which are checked instead:
//! `exp - iat = 3600` and the RS256 signature verifies with the key). For self-signed JWTs
//! (nothing is sent) the `Authorization` header each would send is compared the same way.
//!
//! Without `CREDKIT_GOOGLE_AUTH_PYTHON` (or with a Python lacking google-auth) the test prints
//! `SKIPPED: ...` and passes, unless `CREDKIT_REQUIRE_GOOGLE_AUTH=1`, when it fails.
#![allow(clippy::unwrap_used, clippy::print_stderr, clippy::panic)]

mod support;

use std::path::PathBuf;
use std::process::Command;

use credkit_core::TokenSource;
use credkit_service_account::{IdTokenCredentials, ServiceAccountCredentials, ServiceAccountKey};
use credkit_testing::{FakeTokenServer, RecordedRequest};
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};
use support::{CLOUD_PLATFORM, EMAIL, test_key, verify};

/// One case: what both libraries are given.
#[derive(Clone)]
struct Case {
    name: &'static str,
    spec: Value,
}

/// What a library did: the requests the endpoint recorded, and the Authorization it would send
/// (or its error).
#[derive(Debug)]
struct Outcome {
    requests: Vec<RecordedRequest>,
    authorization: Option<String>,
    error: Option<String>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "scopes",
            spec: json!({"kind": "access", "scopes": [CLOUD_PLATFORM, "email"]}),
        },
        Case {
            name: "subject",
            spec: json!({"kind": "access", "scopes": [CLOUD_PLATFORM], "subject": "user@example.com"}),
        },
        Case {
            name: "additional claims",
            spec: json!({"kind": "access", "scopes": ["email"], "additional_claims": {"target": "x", "n": 1}}),
        },
        Case {
            name: "default scopes only",
            spec: json!({"kind": "access", "default_scopes": [CLOUD_PLATFORM]}),
        },
        Case {
            name: "self-signed, scopes",
            spec: json!({"kind": "access", "scopes": [CLOUD_PLATFORM], "always_use_jwt_access": true}),
        },
        Case {
            name: "self-signed, audience",
            spec: json!({"kind": "access", "default_host": "pubsub.googleapis.com"}),
        },
        Case {
            name: "self-signed, default scopes",
            spec: json!({"kind": "access", "default_scopes": ["email"], "always_use_jwt_access": true}),
        },
        Case {
            name: "target audience",
            spec: json!({"kind": "id_token", "target_audience": "https://service.example"}),
        },
        Case {
            name: "non-default universe",
            spec: json!({"kind": "access", "scopes": [CLOUD_PLATFORM], "universe_domain": "example-universe.test"}),
        },
        Case {
            name: "non-default universe, subject",
            spec: json!({"kind": "access", "scopes": [CLOUD_PLATFORM], "subject": "u@example.com", "universe_domain": "example-universe.test"}),
        },
    ]
}

fn run_google_auth(python: &PathBuf, key_file: &PathBuf, spec: &Value) -> Value {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/google_auth_requests.py");
    let output = Command::new(python)
        .arg(script)
        .arg(key_file)
        .arg(spec.to_string())
        .env("NO_PROXY", "*")
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "google-auth failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn run_credkit(
    key: &ServiceAccountKey,
    server: &FakeTokenServer,
    spec: &Value,
) -> Option<String> {
    let text = |name: &str| spec.get(name).and_then(Value::as_str).map(str::to_owned);
    let list = |name: &str| {
        spec.get(name).and_then(Value::as_array).map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
    };
    let fetched = if spec["kind"] == "id_token" {
        let creds = IdTokenCredentials::builder(key.clone(), text("target_audience").unwrap())
            .with_token_uri(server.token_url())
            .with_transport(server.endpoint().clone())
            .build()
            .unwrap();
        creds.fetch_token().await
    } else {
        let mut builder = ServiceAccountCredentials::builder(key.clone())
            .with_token_uri(server.token_url())
            .with_transport(server.endpoint().clone());
        if let Some(scopes) = list("scopes") {
            builder = builder.with_scopes(scopes);
        }
        if let Some(scopes) = list("default_scopes") {
            builder = builder.with_default_scopes(scopes);
        }
        if let Some(subject) = text("subject") {
            builder = builder.with_subject(subject);
        }
        if let Some(Value::Object(claims)) = spec.get("additional_claims") {
            builder = builder.with_additional_claims(claims.clone());
        }
        if spec.get("always_use_jwt_access") == Some(&Value::Bool(true)) {
            builder = builder.with_always_use_jwt_access(true);
        }
        if let Some(universe) = text("universe_domain") {
            builder = builder.with_universe_domain(universe);
        }
        if let Some(host) = text("default_host") {
            builder = builder.with_default_host(host);
        }
        builder.build().unwrap().fetch_token().await
    };
    match fetched {
        Ok(token) => Some(format!("Bearer {}", token.secret().expose_secret())),
        Err(err) => {
            assert!(err.http_status().is_none(), "credkit's grant failed: {err}");
            Some(format!("error: {err}"))
        }
    }
}

/// A JWT's header and claims with `iat`, `exp` checked and removed; the signature verified.
fn jwt_parts(jwt: &str, who: &str) -> (Value, Map<String, Value>) {
    let (header, mut claims) = verify(jwt);
    let iat = claims.remove("iat").and_then(|v| v.as_i64()).unwrap();
    let exp = claims.remove("exp").and_then(|v| v.as_i64()).unwrap();
    assert_eq!(exp - iat, 3600, "{who}: exp - iat");
    let header = json!({"alg": format!("{:?}", header.alg), "typ": header.typ, "kid": header.kid});
    (header, claims)
}

fn compare_requests(case: &str, python: &RecordedRequest, credkit: &RecordedRequest) {
    assert_eq!(credkit.method(), python.method(), "{case}: method");
    assert_eq!(credkit.path(), python.path(), "{case}: path");
    assert_eq!(
        credkit.header("content-type"),
        python.header("content-type"),
        "{case}: content-type"
    );
    assert_eq!(
        credkit.form_keys(),
        python.form_keys(),
        "{case}: form keys, in order"
    );
    for (key, value) in python.form() {
        if key != "assertion" {
            assert_eq!(
                credkit.form_value(key),
                Some(value.as_str()),
                "{case}: form {key}"
            );
        }
    }
    let python_jwt = jwt_parts(python.form_value("assertion").unwrap(), "google-auth");
    let credkit_jwt = jwt_parts(credkit.form_value("assertion").unwrap(), "credkit");
    assert_eq!(
        credkit_jwt, python_jwt,
        "{case}: the assertion's header and claims"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credkit_sends_what_google_auth_sends() {
    let Some(python) = credkit_testing::google_auth_python(
        "google.oauth2.service_account, google.auth.transport.requests",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key.json");
    std::fs::write(
        &key_file,
        test_key().service_account_json(EMAIL, "https://oauth2.googleapis.com/token"),
    )
    .unwrap();
    let mut compared = Vec::new();
    for case in cases() {
        let server = FakeTokenServer::start().await.unwrap();
        // Verifies both libraries' assertions (signature, kid, iss, aud) and answers a target
        // audience with an ID token, as Google does.
        server.accept_jwt_bearer(support::check());
        let mut spec = case.spec.clone();
        spec["token_uri"] = json!(server.token_url());
        let key = ServiceAccountKey::from_json(&{
            let mut info = test_key().service_account_info(EMAIL, &server.token_url());
            if let Some(universe) = spec.get("universe_domain") {
                info["universe_domain"] = universe.clone();
            }
            info
        })
        .unwrap();

        let (python_path, key_path, python_spec) = (python.clone(), key_file.clone(), spec.clone());
        let google = tokio::task::spawn_blocking(move || {
            run_google_auth(&python_path, &key_path, &python_spec)
        })
        .await
        .unwrap();
        let google = Outcome {
            requests: server.requests(),
            authorization: google["authorization"].as_str().map(str::to_owned),
            error: google["error"].as_str().map(str::to_owned),
        };
        let before = server.request_count();
        let credkit = run_credkit(&key, &server, &spec).await.unwrap();
        let credkit_requests = server.requests()[before..].to_vec();
        eprintln!(
            "{}: google-auth sent {} request(s), credkit {}",
            case.name,
            google.requests.len(),
            credkit_requests.len()
        );

        assert_eq!(
            credkit_requests.len(),
            google.requests.len(),
            "{}: number of requests",
            case.name
        );
        for (python, ours) in google.requests.iter().zip(&credkit_requests) {
            compare_requests(case.name, python, ours);
        }
        match (&google.error, credkit.strip_prefix("error: ")) {
            (Some(theirs), Some(ours)) => assert_eq!(ours, theirs, "{}: the error", case.name),
            (None, None) => {}
            (theirs, ours) => panic!(
                "{}: google-auth's error {theirs:?}, credkit's {ours:?}",
                case.name
            ),
        }
        if google.requests.is_empty() && google.error.is_none() {
            // A self-signed JWT: compare the Authorization headers.
            let theirs = google
                .authorization
                .as_deref()
                .unwrap()
                .strip_prefix("Bearer ")
                .unwrap();
            let ours = credkit.strip_prefix("Bearer ").unwrap();
            assert_eq!(
                jwt_parts(ours, "credkit"),
                jwt_parts(theirs, "google-auth"),
                "{}: the self-signed JWT",
                case.name
            );
        } else if google.error.is_none() {
            // A grant: both got the endpoint's token (the n-th default token, or the ID token).
            assert!(google.authorization.is_some(), "{}", case.name);
        }
        compared.push(case.name);
    }
    eprintln!("compared with google-auth: {}", compared.join(", "));
    assert_eq!(compared.len(), cases().len());
}
