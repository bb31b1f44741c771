//! The reference's requests on the wire: google-auth's Compute Engine code (run by the Python
//! named in `CREDKIT_GOOGLE_AUTH_PYTHON`) and credkit against the same `FakeMetadataServer`,
//! comparing what reached it: method, path, query and headers, for the probe, a token without
//! and with scopes, an ID token and the email.
//!
//! Headers compared: all but [`IGNORED`] (each client's own `user-agent`, google-auth's metrics
//! header `x-goog-api-client`, and the HTTP clients' connection and encoding headers).
//!
//! Without `CREDKIT_GOOGLE_AUTH_PYTHON` (or without google-auth in it) the test prints a
//! `SKIPPED:` line and passes, unless `CREDKIT_REQUIRE_GOOGLE_AUTH=1`, which makes it fail.
// Helpers outside the #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]
// The SKIPPED line and the summary are meant to be seen in the test output.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use std::path::Path;
use std::process::Command;

use credkit_core::TokenSource;
use credkit_metadata::{MetadataCredentials, MetadataIdTokenSource, MetadataServer};
use credkit_testing::{FakeClock, FakeMetadataServer, MetadataRequest};
use secrecy::ExposeSecret;
use support::transport;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Headers that differ between any two HTTP clients and say nothing about the protocol.
const IGNORED: [&str; 7] = [
    "accept",
    "accept-encoding",
    "connection",
    "content-length",
    "host",
    "user-agent",
    "x-goog-api-client",
];

const SCOPES: [&str; 2] = [
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
];
const AUDIENCE: &str = "https://service.example/";

/// What of a request is compared.
#[derive(Debug, PartialEq, Eq)]
struct Wire {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
}

fn wire(request: &MetadataRequest) -> Wire {
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
}

/// Runs the reference's `scenario` against `fake`; returns its JSON line.
async fn reference(python: &Path, fake: &FakeMetadataServer, scenario: &str) -> serde_json::Value {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/google_auth_requests.py");
    let mut command = Command::new(python);
    command
        .arg(script)
        .arg(scenario)
        // Nothing from the real environment: no proxy, no credentials, no real metadata host.
        .env_clear()
        .env("GCE_METADATA_HOST", fake.host())
        .env("GCE_METADATA_IP", fake.host())
        .env("NO_PROXY", "*")
        .env("HOME", "/nonexistent");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        output.status.success(),
        "google-auth failed in {scenario}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn server(fake: &FakeMetadataServer) -> MetadataServer {
    MetadataServer::builder()
        .with_env(fake.env())
        .with_transport(transport())
        .with_clock(FakeClock::new())
        .build()
        .unwrap()
}

/// The requests of `fake` since the last call, forgotten by it.
fn take(fake: &FakeMetadataServer) -> Vec<MetadataRequest> {
    let requests = fake.requests();
    fake.clear_requests();
    requests
}

fn ending_with<'a>(requests: &'a [MetadataRequest], tail: &str) -> Vec<&'a MetadataRequest> {
    requests
        .iter()
        .filter(|r| r.path().ends_with(tail))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credkit_sends_what_google_auth_sends() -> TestResult {
    let Some(python) = credkit_testing::google_auth_python("google.auth.compute_engine") else {
        return Ok(());
    };
    let fake = FakeMetadataServer::builder()
        .with_access_token(&SCOPES, "token-for-the-scopes")
        .start()
        .await?;
    let server = server(&fake);

    // The probe: one GET of the probe host's root.
    let answer = reference(&python, &fake, "probe").await;
    assert_eq!(answer["available"], true);
    let theirs = take(&fake);
    assert!(server.is_available().await);
    let ours = take(&fake);
    assert_eq!(theirs.len(), 1);
    assert_eq!(wire(&ours[0]), wire(&theirs[0]), "the probe");
    // What is compared includes the flavor header (so a client without it would differ).
    assert_eq!(
        wire(&theirs[0]).headers,
        [("metadata-flavor".to_owned(), "Google".to_owned())]
    );

    // A token without scopes. The reference first reads the account's information
    // (`.../default/?recursive=true`) to learn its email and default scopes; credkit does not.
    let answer = reference(&python, &fake, "token").await;
    assert_eq!(answer["token"], fake.access_token(&[]));
    let theirs = take(&fake);
    let source = MetadataCredentials::builder()
        .with_server(server.clone())
        .build()?;
    let token = source.fetch_token().await?;
    assert_eq!(token.secret().expose_secret(), fake.access_token(&[]));
    let ours = take(&fake);
    assert_eq!(ours.len(), 1);
    let their_tokens = ending_with(&theirs, "/token");
    assert_eq!(their_tokens.len(), 1);
    assert_eq!(
        wire(&ours[0]),
        wire(their_tokens[0]),
        "a token without scopes"
    );
    let their_info: Vec<_> = theirs
        .iter()
        .filter(|r| !r.path().ends_with("/token"))
        .collect();
    assert_eq!(their_info.len(), 1, "{theirs:?}");
    assert_eq!(their_info[0].query(), Some("recursive=true"));

    // A token with scopes.
    let answer = reference(&python, &fake, "token_scopes").await;
    assert_eq!(answer["token"], "token-for-the-scopes");
    let theirs = take(&fake);
    let source = MetadataCredentials::builder()
        .with_server(server.clone())
        .with_scopes(SCOPES)
        .build()?;
    let token = source.fetch_token().await?;
    assert_eq!(token.secret().expose_secret(), "token-for-the-scopes");
    let ours = take(&fake);
    assert_eq!(
        wire(&ours[0]),
        wire(ending_with(&theirs, "/token")[0]),
        "a token with scopes"
    );

    // An ID token from the identity endpoint (the reference reads the account's information
    // first too).
    let answer = reference(&python, &fake, "identity").await;
    assert_eq!(
        answer["token"].as_str().map(|t| t.split('.').count()),
        Some(3)
    );
    let theirs = take(&fake);
    let source = MetadataIdTokenSource::builder(AUDIENCE)
        .with_server(server.clone())
        .build()?;
    source.fetch_token().await?;
    let ours = take(&fake);
    assert_eq!(ours.len(), 1);
    assert_eq!(
        wire(&ours[0]),
        wire(ending_with(&theirs, "/identity")[0]),
        "an ID token"
    );

    // The email: the same request.
    let answer = reference(&python, &fake, "email").await;
    assert_eq!(answer["email"], fake.email());
    let theirs = take(&fake);
    assert_eq!(server.email("default").await?, fake.email());
    let ours = take(&fake);
    assert_eq!(theirs.len(), 1);
    assert_eq!(wire(&ours[0]), wire(&theirs[0]), "the email");

    println!(
        "the reference wire comparison ran: probe, token, token with scopes, ID token and email \
         requests match (ignoring {IGNORED:?})"
    );
    Ok(())
}
