//! The STS token exchange of `ExternalAccountCredentials` with a `FileSource`, against the
//! loopback `FakeStsServer`: the form's members, HTTP basic client authentication, Google's
//! `options` (`userProject` for a workforce pool without a client), scopes, STS's errors
//! (`"<error>: <error_description>"`), and no subject token in any error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use credkit_core::{Credentials, ErrorKind, TokenSource as _};
use credkit_external_account::{
    CLOUD_PLATFORM_SCOPE, ExternalAccountCredentials, ExternalAccountCredentialsBuilder,
    ExternalAccountInfo, FileSource,
};
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{FAKE_CLOCK_START, FakeClock, FakeStsServer, StsReply};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;

const WORKLOAD: &str = "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/pool/providers/oidc";
const WORKFORCE: &str = "//iam.googleapis.com/locations/global/workforcePools/pool/providers/oidc";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const SUBJECT_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.subject-token-payload.signature";

/// A subject token in a file, with a trailing newline as `echo` writes it.
struct TokenFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn token_file() -> TokenFile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, format!("{SUBJECT_TOKEN}\n")).unwrap();
    TokenFile { _dir: dir, path }
}

fn builder(
    audience: &str,
    file: &TokenFile,
    sts: &FakeStsServer,
    clock: &FakeClock,
) -> ExternalAccountCredentialsBuilder {
    ExternalAccountCredentials::builder(audience, JWT, FileSource::new(&file.path))
        .with_token_url(sts.token_url())
        .with_transport(ReqwestTransport::new().unwrap())
        .with_clock(clock.clone())
}

#[tokio::test]
async fn the_exchange_sends_every_member_sts_checks() {
    let sts = FakeStsServer::builder()
        .with_audience(WORKLOAD)
        .with_subject_token(SUBJECT_TOKEN)
        .with_subject_token_type(JWT)
        .start()
        .await
        .unwrap();
    let file = token_file();
    let clock = FakeClock::new();
    let creds = builder(WORKLOAD, &file, &sts, &clock).build().unwrap();
    let token = creds.fetch_token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), "fake-sts-access-token-1");
    assert_eq!(
        token.expiry(),
        Some(FAKE_CLOCK_START + Duration::from_secs(3600))
    );
    let request = sts.last_request().unwrap();
    assert_eq!(request.method(), "POST");
    assert_eq!(request.path(), "/v1/token");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        request.form_keys(),
        [
            "grant_type",
            "audience",
            "scope",
            "requested_token_type",
            "subject_token",
            "subject_token_type"
        ]
    );
    assert_eq!(
        request.grant_type(),
        Some("urn:ietf:params:oauth:grant-type:token-exchange")
    );
    assert_eq!(
        request.form_value("requested_token_type"),
        Some("urn:ietf:params:oauth:token-type:access_token")
    );
    assert_eq!(request.form_value("subject_token"), Some(SUBJECT_TOKEN));
    assert_eq!(request.scopes(), [CLOUD_PLATFORM_SCOPE]);
    assert_eq!(request.header("authorization"), None);
    assert_eq!(request.options(), None);
}

#[tokio::test]
async fn a_client_authenticates_with_basic_and_the_user_project_stays_home() {
    let sts = FakeStsServer::builder()
        .with_client("client-id", "client-secret")
        .start()
        .await
        .unwrap();
    let file = token_file();
    let clock = FakeClock::new();
    let creds = builder(WORKFORCE, &file, &sts, &clock)
        .with_client("client-id", Some(SecretString::from("client-secret")))
        .with_workforce_pool_user_project("user-project")
        .build()
        .unwrap();
    creds.fetch_token().await.unwrap();
    let request = sts.last_request().unwrap();
    assert_eq!(
        request.basic_auth(),
        Some(("client-id".to_owned(), "client-secret".to_owned()))
    );
    assert_eq!(request.form_value("options"), None);
}

#[tokio::test]
async fn a_client_without_a_secret_sends_an_empty_password() {
    let sts = FakeStsServer::builder()
        .with_client("public-client", "")
        .start()
        .await
        .unwrap();
    let file = token_file();
    let clock = FakeClock::new();
    let creds = builder(WORKLOAD, &file, &sts, &clock)
        .with_client("public-client", None)
        .build()
        .unwrap();
    creds.fetch_token().await.unwrap();
    assert_eq!(
        sts.last_request().unwrap().header("authorization"),
        Some("Basic cHVibGljLWNsaWVudDo=")
    );
}

#[tokio::test]
async fn a_workforce_pool_without_a_client_sends_its_user_project_in_options() {
    let sts = FakeStsServer::builder()
        .with_audience(WORKFORCE)
        .start()
        .await
        .unwrap();
    let file = token_file();
    let clock = FakeClock::new();
    let creds = builder(WORKFORCE, &file, &sts, &clock)
        .with_workforce_pool_user_project("user-project")
        .with_scopes(["scope-a", "scope-b"])
        .build()
        .unwrap();
    creds.fetch_token().await.unwrap();
    let request = sts.last_request().unwrap();
    assert_eq!(
        request.options(),
        Some(json!({"userProject": "user-project"}))
    );
    // Quoted once by the reference's `urllib.parse.quote`, then form-encoded like any member.
    assert_eq!(
        request.form_value("options"),
        Some("%7B%22userProject%22%3A%20%22user-project%22%7D")
    );
    assert_eq!(request.scopes(), ["scope-a", "scope-b"]);
    assert_eq!(request.header("authorization"), None);
}

#[tokio::test]
async fn the_same_from_an_external_account_file() {
    let sts = FakeStsServer::builder()
        .with_audience(WORKFORCE)
        .with_subject_token(SUBJECT_TOKEN)
        .start()
        .await
        .unwrap();
    let file = token_file();
    let info = ExternalAccountInfo::from_json(&json!({
        "type": "external_account",
        "audience": WORKFORCE,
        "subject_token_type": JWT,
        "token_url": sts.token_url(),
        "workforce_pool_user_project": "user-project",
        "credential_source": {"file": file.path.to_str().unwrap()},
    }))
    .unwrap();
    let creds = info
        .builder()
        .with_transport(ReqwestTransport::new().unwrap())
        .with_clock(FakeClock::new())
        .build()
        .unwrap();
    creds.fetch_token().await.unwrap();
    let request = sts.last_request().unwrap();
    assert_eq!(
        request.options(),
        Some(json!({"userProject": "user-project"}))
    );
}

// The reference tests `if self._client_id:` both to authenticate the client and to leave
// `userProject` out: an empty `client_id` is no client at all.
#[tokio::test]
async fn an_empty_client_id_is_no_client() {
    let sts = FakeStsServer::start().await.unwrap();
    let file = token_file();
    let info = ExternalAccountInfo::from_json(&json!({
        "type": "external_account",
        "audience": WORKFORCE,
        "subject_token_type": JWT,
        "token_url": sts.token_url(),
        "client_id": "",
        "client_secret": "client-secret",
        "workforce_pool_user_project": "user-project",
        "credential_source": {"file": file.path.to_str().unwrap()},
    }))
    .unwrap();
    let creds = info
        .builder()
        .with_transport(ReqwestTransport::new().unwrap())
        .with_clock(FakeClock::new())
        .build()
        .unwrap();
    creds.fetch_token().await.unwrap();
    let request = sts.last_request().unwrap();
    assert_eq!(request.header("authorization"), None);
    assert_eq!(
        request.options(),
        Some(json!({"userProject": "user-project"}))
    );
}

// The reference writes `options` with `json.dumps`, whose `ensure_ascii` escapes every
// character outside ASCII (`\u00f6`) before `quote`; STS reads the same JSON either way, but the
// bytes on the wire differ from google-auth's (seen against it with this fake).
#[tokio::test]
async fn options_are_written_as_json_dumps_writes_them() {
    let sts = FakeStsServer::start().await.unwrap();
    let file = token_file();
    let clock = FakeClock::new();
    let creds = builder(WORKFORCE, &file, &sts, &clock)
        .with_workforce_pool_user_project("proj-\u{f6}")
        .build()
        .unwrap();
    creds.fetch_token().await.unwrap();
    let request = sts.last_request().unwrap();
    assert_eq!(
        request.options(),
        Some(json!({"userProject": "proj-\u{f6}"}))
    );
    assert_eq!(
        request.form_value("options"),
        Some("%7B%22userProject%22%3A%20%22proj-%5Cu00f6%22%7D")
    );
}

#[tokio::test]
async fn sts_s_refusals_name_its_error_and_description() {
    let file = token_file();
    let clock = FakeClock::new();
    let wrong_audience = FakeStsServer::builder()
        .with_audience(WORKFORCE)
        .start()
        .await
        .unwrap();
    let err = builder(WORKLOAD, &file, &wrong_audience, &clock)
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid_request: Invalid value for \"audience\""),
        "{err}"
    );
    assert_eq!(err.http_status(), Some(400));
    assert!(!err.is_transient());

    let wrong_token = FakeStsServer::builder()
        .with_subject_token("another-token")
        .start()
        .await
        .unwrap();
    let err = builder(WORKLOAD, &file, &wrong_token, &clock)
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid_grant: The subject token is invalid."
    );
    assert_eq!(err.oauth_error(), Some("invalid_grant"));
    assert_eq!(err.kind(), ErrorKind::TokenEndpoint);
}

#[tokio::test]
async fn no_error_shows_the_subject_token() {
    let sts = FakeStsServer::start().await.unwrap();
    sts.push_replies([
        StsReply::oauth_error(
            400,
            "invalid_grant",
            Some(&format!("Invalid JWT: {SUBJECT_TOKEN}")),
        ),
        StsReply::json(400, &json!({"error": SUBJECT_TOKEN})),
        StsReply::raw(400, "text/html", format!("<html>{SUBJECT_TOKEN}</html>")),
        StsReply::raw(
            200,
            "application/json",
            format!("{{\"nope\": \"{SUBJECT_TOKEN}\""),
        ),
        StsReply::oauth_error(503, "temporarily_unavailable", Some(SUBJECT_TOKEN)),
    ]);
    let file = token_file();
    let clock = FakeClock::new();
    let creds = builder(WORKLOAD, &file, &sts, &clock).build().unwrap();
    let payload = "subject-token-payload";
    for _ in 0..5 {
        let err = creds.fetch_token().await.unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(payload), "{shown}");
        }
    }
    let first = sts.requests()[0].clone();
    assert!(!format!("{first:?}").contains(payload));
    assert!(!format!("{creds:?}").contains(payload));
}

#[tokio::test]
async fn through_credentials_a_503_is_retried_and_a_400_is_not() {
    let sts = FakeStsServer::start().await.unwrap();
    sts.push_replies([
        StsReply::oauth_error(503, "temporarily_unavailable", None),
        StsReply::token("ya29.after-a-retry"),
    ]);
    let file = token_file();
    let clock = FakeClock::new().with_auto_advance(true);
    let credentials = Credentials::builder(builder(WORKLOAD, &file, &sts, &clock).build().unwrap())
        .build()
        .unwrap();
    let headers = credentials.headers().await.unwrap();
    assert_eq!(headers["authorization"], "Bearer ya29.after-a-retry");
    assert_eq!(sts.request_count(), 2);

    let refusing = FakeStsServer::builder()
        .with_subject_token("another-token")
        .start()
        .await
        .unwrap();
    let credentials =
        Credentials::builder(builder(WORKLOAD, &file, &refusing, &clock).build().unwrap())
            .build()
            .unwrap();
    credentials.headers().await.unwrap_err();
    assert_eq!(refusing.request_count(), 1);
}
