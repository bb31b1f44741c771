//! Helpers of the AWS source's tests: the environment as a lookup, the fixed time, the
//! reference's run, and what of a metadata request is compared.
// Helpers may unwrap, as tests do.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use credkit_external_account::{AWS_SUBJECT_TOKEN_TYPE, EnvLookup, SupplierContext};
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{AwsMetadataRequest, FakeClock};
use time::OffsetDateTime;
use time::macros::datetime;

/// The time every signature is made at, on both sides.
pub const NOW: OffsetDateTime = datetime!(2020-08-11 06:55:22.345 UTC);

/// [`NOW`] as the reference's script reads it (a naive UTC `datetime`, as `utcnow` returns).
pub const NOW_ISO: &str = "2020-08-11T06:55:22.345000";

/// A workload pool provider.
pub const AUDIENCE: &str = "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/pool/providers/aws";

/// Long-lived credentials in the environment; the secret is distinctive, so finding it is a
/// leak.
pub const ENV_ACCESS_KEY_ID: &str = "AKIDENVEXAMPLE00";
pub const ENV_SECRET: &str = "env/aws+secret-access-key-planted-9876543210";
pub const ENV_SESSION_TOKEN: &str = "IQoJenv/session+token-planted==";

/// The real transport (loopback only: every test talks to loopback fakes).
pub fn transport() -> ReqwestTransport {
    ReqwestTransport::new().unwrap()
}

/// `vars` as the credentials' environment.
pub fn env(vars: &[(&str, &str)]) -> EnvLookup {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Arc::new(move |name| vars.get(name).cloned())
}

/// A supplier context for [`AUDIENCE`] with `vars`, the real transport, and the clock at
/// [`NOW`].
pub fn context(vars: &[(&str, &str)]) -> SupplierContext {
    SupplierContext::new(AWS_SUBJECT_TOKEN_TYPE, AUDIENCE)
        .with_env_lookup(env(vars))
        .with_transport(Arc::new(transport()))
        .with_clock(Arc::new(FakeClock::at(NOW)))
}

/// An `external_account` file of [`AUDIENCE`] with `credential_source`.
pub fn file(credential_source: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "type": "external_account",
        "audience": AUDIENCE,
        "subject_token_type": AWS_SUBJECT_TOKEN_TYPE,
        "token_url": "https://sts.googleapis.com/v1/token",
        "credential_source": credential_source,
    })
}

/// Runs the reference's `aws_subject_token.py` on `config` (the time added) with exactly
/// `vars` as its environment; its JSON answer.
pub async fn reference(
    python: &Path,
    mut config: serde_json::Value,
    vars: &[(&str, &str)],
) -> serde_json::Value {
    config["now"] = serde_json::Value::String(NOW_ISO.to_owned());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/aws_subject_token.py");
    let mut command = Command::new(python);
    command
        .arg(script)
        // Nothing from the real environment: no proxy, no AWS variables but the test's.
        .env_clear()
        .env("NO_PROXY", "*")
        .env("HOME", "/nonexistent")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in vars {
        command.env(name, value);
    }
    let input = serde_json::to_vec(&config).unwrap();
    let output = tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        let mut child = command.spawn().unwrap();
        child.stdin.take().unwrap().write_all(&input).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the reference's script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Headers that differ between any two HTTP clients and say nothing about the protocol.
const IGNORED: [&str; 6] = [
    "accept",
    "accept-encoding",
    "connection",
    "content-length",
    "host",
    "user-agent",
];

/// What of a metadata request is compared: method, path, query and the other headers.
#[derive(Debug, PartialEq, Eq)]
pub struct Wire {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
}

pub fn wire(requests: &[AwsMetadataRequest]) -> Vec<Wire> {
    requests
        .iter()
        .map(|request| {
            let mut headers: Vec<(String, String)> = request
                .headers()
                .iter()
                .filter(|(name, _)| !IGNORED.contains(&name.as_str()))
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        value.to_str().unwrap_or("<binary>").to_owned(),
                    )
                })
                .collect();
            headers.sort();
            Wire {
                method: request.method().to_owned(),
                path: request.path().to_owned(),
                query: request.query().map(str::to_owned),
                headers,
            }
        })
        .collect()
}
