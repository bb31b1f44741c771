//! google-auth's messages for the most common malformed `external_account` files, compared
//! with credkit's: for each file, the reference (run by `CREDKIT_GOOGLE_AUTH_PYTHON`) and
//! `ExternalAccountInfo::from_json` must both refuse it, and credkit's message must contain the
//! reference's text.
//!
//! Without `CREDKIT_GOOGLE_AUTH_PYTHON` (or with a Python lacking google-auth) the comparison
//! prints `SKIPPED: ...` and passes, unless `CREDKIT_REQUIRE_GOOGLE_AUTH=1`, when it fails. The
//! expected texts are also checked without Python, against the list below.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::Write as _;
use std::process::{Command, Stdio};

use credkit_external_account::ExternalAccountInfo;
use serde_json::{Value, json};

const WORKLOAD: &str =
    "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/oidc";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const AWS: &str = "urn:ietf:params:aws:token-type:aws4_request";

fn file(source: &Value) -> Value {
    json!({
        "type": "external_account",
        "audience": WORKLOAD,
        "subject_token_type": JWT,
        "token_url": "https://sts.googleapis.com/v1/token",
        "credential_source": source,
    })
}

/// (what is wrong, the file, the reference's text).
fn cases() -> Vec<(&'static str, Value, &'static str)> {
    let mut workforce_project = file(&json!({"file": "/t"}));
    workforce_project["workforce_pool_user_project"] = json!("123");
    let mut no_source = file(&json!(null));
    no_source
        .as_object_mut()
        .unwrap()
        .remove("credential_source");
    let mut aws_v2 = file(&json!({"environment_id": "aws2",
        "regional_cred_verification_url": "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"}));
    aws_v2["subject_token_type"] = json!(AWS);
    let mut aws_none = file(&json!({"environment_id": "azure1"}));
    aws_none["subject_token_type"] = json!(AWS);
    vec![
        (
            "a source that is not an object",
            file(&json!("/var/run/token")),
            "Invalid credential_source. The credential_source is not a dict.",
        ),
        (
            "no source",
            no_source,
            "A valid credential source or a subject token supplier must be provided.",
        ),
        (
            "a file and a URL",
            file(&json!({"file": "/t", "url": "https://x.example/t"})),
            "Ambiguous credential_source. 'file', 'url', and 'certificate' are mutually exclusive..",
        ),
        (
            "neither file nor URL",
            file(&json!({"headers": {"a": "b"}})),
            "Missing credential_source. A 'file', 'url', or 'certificate' must be provided.",
        ),
        (
            "an unknown format",
            file(&json!({"file": "/t", "format": {"type": "xml"}})),
            "Invalid credential_source format 'xml'",
        ),
        (
            "JSON without the field name",
            file(&json!({"file": "/t", "format": {"type": "json"}})),
            "Missing subject_token_field_name for JSON credential_source format",
        ),
        (
            "an AWS environment_id on an identity pool",
            file(&json!({"file": "/t", "environment_id": "aws1"})),
            "Invalid Identity Pool credential_source field 'environment_id'",
        ),
        (
            "a user project on a workload pool",
            workforce_project,
            "workforce_pool_user_project should not be set for non-workforce pool credentials",
        ),
        (
            "an AWS version credkit does not know",
            aws_v2,
            "aws version '2' is not supported in the current build.",
        ),
        (
            "an AWS source without aws",
            aws_none,
            "No valid AWS 'credential_source' provided",
        ),
        (
            "an executable without a command",
            file(&json!({"executable": {"timeout_millis": 5000}})),
            "Missing command field. Executable command must be provided.",
        ),
        (
            "an executable timeout out of range",
            file(&json!({"executable": {"command": "/bin/tok", "timeout_millis": 1000}})),
            "Timeout must be between 5 and 120 seconds.",
        ),
    ]
}

#[test]
fn credkit_refuses_each_file_with_the_references_text() {
    for (what, json, text) in cases() {
        let err = ExternalAccountInfo::from_json(&json).expect_err(what);
        assert!(
            err.to_string().contains(text),
            "{what}: credkit said {err:?}, the reference says {text:?}"
        );
    }
}

#[test]
fn the_reference_says_the_same() {
    let Some(python) = credkit_testing::google_auth_python(
        "google.auth.aws, google.auth.identity_pool, google.auth.pluggable",
    ) else {
        return;
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/external_account_files.py"
    );
    let files: Vec<Value> = cases().into_iter().map(|(_, json, _)| json).collect();
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
        .write_all(serde_json::to_string(&files).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the reference script failed");
    let said: Vec<Option<String>> = serde_json::from_slice(&output.stdout).unwrap();
    for ((what, _, text), said) in cases().into_iter().zip(said) {
        let said = said.unwrap_or_else(|| panic!("{what}: the reference accepted the file"));
        assert_eq!(said, text, "{what}");
    }
}
