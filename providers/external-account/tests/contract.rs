//! The `TokenSource` contract suite on external account credentials with each identity-pool
//! source (a file, a URL, a programmatic supplier), over the in-memory endpoint the suite
//! scripts: the STS exchange (and the URL source's own request) get the suite's answers.
// The factory closures unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod fixed_support;

use credkit_external_account::{
    ExternalAccountCredentials, FileSource, SubjectTokenFormat, SubjectTokenSupplier, UrlSource,
};
use credkit_testing::contract::token_source::{Contract, Far};
use fixed_support::Fixed;

const AUDIENCE: &str =
    "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const SUBJECT_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.contract-subject-token.c2ln";
const CLIENT_SECRET: &str = "contract-client-secret-value";

fn credentials(
    far: &Far,
    supplier: impl SubjectTokenSupplier + 'static,
) -> ExternalAccountCredentials {
    ExternalAccountCredentials::builder(AUDIENCE, JWT, supplier)
        .with_token_url(far.token_url())
        .with_client("client", Some(CLIENT_SECRET.into()))
        .with_transport(far.endpoint().clone())
        .with_clock(far.clock().clone())
        .build()
        .unwrap()
}

#[test]
fn a_file_source_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, SUBJECT_TOKEN).unwrap();
    Contract::new(|far| credentials(far, FileSource::new(&path)))
        .with_secret(SUBJECT_TOKEN)
        .with_secret(CLIENT_SECRET)
        .check();
}

#[test]
fn a_url_source_keeps_the_contract() {
    // The suite's endpoint answers the URL too: its token response is the subject token.
    Contract::new(|far| {
        let url = UrlSource::new("https://tokens.example/subject")
            .unwrap()
            .with_format(SubjectTokenFormat::Json("access_token".into()));
        credentials(far, url)
    })
    .with_secret(CLIENT_SECRET)
    .check();
}

#[test]
fn a_programmatic_supplier_keeps_the_contract() {
    Contract::new(|far| credentials(far, Fixed(SUBJECT_TOKEN)))
        .with_secret(SUBJECT_TOKEN)
        .with_secret(CLIENT_SECRET)
        .check();
}

#[cfg(unix)]
#[test]
fn an_executable_source_keeps_the_contract() {
    use std::sync::Arc;

    use credkit_core::Clock as _;
    use credkit_external_account::ExecutableSource;
    use credkit_testing::ScriptedExecutable;

    // Valid far beyond the suite's clock, which starts in 2026.
    let program = ScriptedExecutable::builder()
        .with_stdout(ScriptedExecutable::oidc_response(
            SUBJECT_TOKEN,
            Some(4_102_444_800),
        ))
        .build()
        .unwrap();
    Contract::new(|far| {
        let source = ExecutableSource::builder(program.command_line())
            .build()
            .unwrap();
        ExternalAccountCredentials::builder(AUDIENCE, JWT, source)
            .with_token_url(far.token_url())
            .with_client("client", Some(CLIENT_SECRET.into()))
            .with_transport(far.endpoint().clone())
            // A clock of its own at the same time: the far side's auto-advances, and the
            // program's timeout (a sleep on the clock) would then fire at once.
            .with_clock(credkit_testing::FakeClock::at(far.clock().now()))
            .with_env_lookup(Arc::new(|name| {
                (name == "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES").then(|| "1".to_owned())
            }))
            .build()
            .unwrap()
    })
    .with_secret(SUBJECT_TOKEN)
    .with_secret(CLIENT_SECRET)
    .check();
}
