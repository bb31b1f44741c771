//! `external_account_authorized_user`: the file read with the reference's checks and texts, the
//! refresh-token grant at STS with HTTP basic client authentication (byte for byte as
//! google-auth sends it, against the same loopback `FakeStsServer`), the refresh token's
//! rotations kept through `Credentials` and its storage, failures, and secrets.
//!
//! The comparison with google-auth runs the Python of `CREDKIT_GOOGLE_AUTH_PYTHON`; without it
//! it prints `SKIPPED: ...` and passes, unless `CREDKIT_REQUIRE_GOOGLE_AUTH=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod authorized_user_support;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use authorized_user_support::{
    AUDIENCE, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, credentials, file, sts, with,
};
use credkit_core::time::OffsetDateTime;
use credkit_core::time::format_description::well_known::Rfc3339;
use credkit_core::{
    CredentialRecord, Credentials, ErrorKind, MemoryStorage, Storage as _, TokenSource,
};
use credkit_external_account::{
    EXTERNAL_ACCOUNT_AUTHORIZED_USER, ExternalAccountAuthorizedUserCredentials,
    ExternalAccountAuthorizedUserInfo,
};
use credkit_reqwest::ReqwestTransport;
use credkit_testing::contract::token_source::{Contract, Far};
use credkit_testing::{FAKE_CLOCK_START, FakeClock, FakeStsServer, FakeStsServerBuilder, StsReply};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

// ===== wire parity with google-auth =====

/// One comparison: the same file, STS and script for both libraries.
struct Case {
    name: &'static str,
    server: fn() -> FakeStsServerBuilder,
    replies: fn() -> Vec<StsReply>,
    info: fn(&FakeStsServer) -> Value,
    refreshes: usize,
}

const SPECIAL_SECRET: &str = "s3:cr/t+~* \u{e9}";
const SPECIAL_REFRESH: &str = "1//x~*+ &=\u{e9}%";

fn cases() -> Vec<Case> {
    let mut cases = refresh_cases();
    cases.extend(file_cases());
    cases
}

/// Refreshes: rotations, failures, encodings.
fn refresh_cases() -> Vec<Case> {
    vec![
        Case {
            name: "two refreshes, no rotation",
            server: || sts().with_refresh_token(REFRESH_TOKEN),
            replies: Vec::new,
            info: file,
            refreshes: 2,
        },
        Case {
            name: "strict rotation, three refreshes",
            server: || sts().with_strict_rotation(REFRESH_TOKEN),
            replies: Vec::new,
            info: file,
            refreshes: 3,
        },
        Case {
            name: "a scripted rotation, then a token without one",
            server: sts,
            replies: || {
                vec![
                    StsReply::rotation("at-1", "rt-rotated"),
                    StsReply::token_expiring_in("at-2", 60),
                ]
            },
            info: file,
            refreshes: 2,
        },
        Case {
            name: "invalid_grant, then a refresh with the same refresh token",
            server: sts,
            replies: || {
                vec![StsReply::oauth_error(
                    400,
                    "invalid_grant",
                    Some("Token has been expired or revoked."),
                )]
            },
            info: file,
            refreshes: 2,
        },
        Case {
            name: "a 503 without a description",
            server: sts,
            replies: || vec![StsReply::oauth_error(503, "temporarily_unavailable", None)],
            info: file,
            refreshes: 1,
        },
        Case {
            name: "characters to encode in the secret and the refresh token",
            server: || FakeStsServer::builder().with_client(CLIENT_ID, SPECIAL_SECRET),
            replies: Vec::new,
            info: |sts| {
                let info = with(file(sts), "client_secret", json!(SPECIAL_SECRET));
                with(info, "refresh_token", json!(SPECIAL_REFRESH))
            },
            refreshes: 1,
        },
    ]
}

/// Files: every member written back, and the checks of the constructor and the refresh.
fn file_cases() -> Vec<Case> {
    vec![
        Case {
            name: "every member, written back",
            server: sts,
            replies: Vec::new,
            info: |sts| {
                let mut info = file(sts);
                info.as_object_mut().unwrap().extend(
                    json!({
                        "token": "ya29.held",
                        "expiry": "2100-01-01T00:00:00.5Z",
                        "scopes": ["https://www.googleapis.com/auth/cloud-platform", "openid"],
                        "quota_project_id": "quota-\u{f6}",
                        "universe_domain": "googleapis.com",
                        "trust_boundary": {"locations": ["us-east1"], "encoded_locations": "0x1", "n": 2},
                    })
                    .as_object()
                    .unwrap()
                    .clone(),
                );
                info
            },
            refreshes: 1,
        },
        Case {
            name: "an empty universe domain and no type",
            server: sts,
            replies: Vec::new,
            info: |sts| {
                let info = with(file(sts), "universe_domain", json!(""));
                with(info, "type", Value::Null)
            },
            refreshes: 0,
        },
        Case {
            name: "a valid token, no client secret: the refresh cannot run",
            server: sts,
            replies: Vec::new,
            info: |sts| {
                let info = with(file(sts), "client_secret", Value::Null);
                let info = with(info, "token", json!("ya29.held"));
                with(info, "expiry", json!("2100-01-01T00:00:00Z"))
            },
            refreshes: 1,
        },
        Case {
            name: "an empty refresh token and a token without expiry",
            server: sts,
            replies: Vec::new,
            info: |sts| {
                let info = with(file(sts), "refresh_token", json!(""));
                with(info, "token", json!("ya29.forever"))
            },
            refreshes: 1,
        },
        Case {
            name: "neither a valid token nor the members to refresh",
            server: sts,
            replies: Vec::new,
            info: |sts| {
                let info = with(file(sts), "refresh_token", Value::Null);
                let info = with(info, "token", json!("ya29.old"));
                with(info, "expiry", json!("2000-01-01T00:00:00Z"))
            },
            refreshes: 1,
        },
    ]
}

async fn start(case: &Case) -> FakeStsServer {
    let server = (case.server)().start().await.unwrap();
    server.push_replies((case.replies)());
    server
}

/// What credkit does for a case, in the shape of the Python script's result.
async fn run_credkit(case: &Case, sts: &FakeStsServer) -> Value {
    let clock = FakeClock::new();
    let info = ExternalAccountAuthorizedUserInfo::from_json(&(case.info)(sts)).unwrap();
    let creds = match info
        .builder()
        .with_transport(ReqwestTransport::new().unwrap())
        .with_clock(clock)
        .build()
    {
        Ok(creds) => creds,
        Err(err) => return json!({"build_error": err.to_string()}),
    };
    let before = creds.to_json(&[]).to_string();
    let mut errors = Vec::new();
    for _ in 0..case.refreshes {
        errors.push(creds.fetch_token().await.err().map(|e| e.to_string()));
    }
    json!({
        "build_error": null,
        "to_json_before": before,
        "errors": errors,
        "refresh_token": creds.refresh_token().map(|t| t.expose_secret().to_owned()),
        "token": creds.token().map(|t| t.expose_secret().to_owned()),
        "to_json_after": creds.to_json(&["expiry"]).to_string(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_auth_refreshes_as_credkit_does() {
    let Some(python) = credkit_testing::google_auth_python(
        "google.auth.external_account_authorized_user, google.auth.transport.requests",
    ) else {
        return;
    };
    let cases = cases();
    let mut theirs_servers = Vec::new();
    let mut inputs = Vec::new();
    for case in &cases {
        let server = start(case).await;
        inputs.push(json!({"info": (case.info)(&server), "refreshes": case.refreshes}));
        theirs_servers.push(server);
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference/authorized_user_refresh.py");
    let input = Value::Array(inputs).to_string();
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(python)
            .arg(script)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "the google-auth script failed");
    let reference: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(reference.len(), cases.len());

    for ((case, theirs), their_server) in cases.iter().zip(&reference).zip(&theirs_servers) {
        let name = case.name;
        let our_server = start(case).await;
        let mut ours = run_credkit(case, &our_server).await;
        // The files name their own servers: one port for the other.
        let ours_text = ours
            .to_string()
            .replace(&our_server.url(), &their_server.url());
        ours = serde_json::from_str(&ours_text).unwrap();
        assert_eq!(ours["build_error"], theirs["build_error"], "{name}");
        for key in ["to_json_before", "refresh_token", "token", "to_json_after"] {
            assert_eq!(ours[key], theirs[key], "{name}: {key}");
        }
        let (our_errors, their_errors) = (
            ours["errors"].as_array().cloned().unwrap_or_default(),
            theirs["errors"].as_array().cloned().unwrap_or_default(),
        );
        assert_eq!(our_errors.len(), their_errors.len(), "{name}");
        for (mine, their) in our_errors.iter().zip(&their_errors) {
            match (mine.as_str(), their.as_str()) {
                (None, None) => {}
                // The reference says "Error code {error}: {description}" for STS's errors.
                (Some(mine), Some(their)) => assert!(
                    their == mine || their == format!("Error code {mine}"),
                    "{name}: {mine:?} / {their:?}"
                ),
                _ => panic!("{name}: errors differ: {mine} / {their}"),
            }
        }
        let (mine, their) = (our_server.requests(), their_server.requests());
        assert_eq!(mine.len(), their.len(), "{name}: the number of requests");
        for (mine, their) in mine.iter().zip(&their) {
            assert_eq!(mine.method(), their.method(), "{name}");
            assert_eq!(mine.path(), their.path(), "{name}");
            for header in ["content-type", "authorization"] {
                assert_eq!(
                    mine.header(header),
                    their.header(header),
                    "{name}: {header}"
                );
            }
            assert_eq!(
                String::from_utf8_lossy(mine.body()),
                String::from_utf8_lossy(their.body()),
                "{name}: the body"
            );
        }
    }
}

// ===== the refresh =====

#[tokio::test]
async fn the_refresh_is_the_grant_with_basic_auth_and_its_token_counts_from_the_send() {
    let sts = sts()
        .with_refresh_token(REFRESH_TOKEN)
        .start()
        .await
        .unwrap();
    let clock = FakeClock::new();
    let info = with(file(&sts), "quota_project_id", json!("billed"));
    let creds = credentials(&info, &clock);
    let token = creds.fetch_token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), "fake-sts-access-token-1");
    assert_eq!(
        token.expiry(),
        Some(FAKE_CLOCK_START + Duration::from_secs(3600))
    );
    assert_eq!(token.quota_project(), Some("billed"));
    assert!(token.rotated_refresh_token().is_none());
    let request = sts.last_request().unwrap();
    assert_eq!(request.path(), "/v1/oauth/token");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        request.body(),
        format!("grant_type=refresh_token&refresh_token={REFRESH_TOKEN}").as_bytes()
    );
    assert_eq!(
        request.basic_auth(),
        Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned()))
    );
    assert_eq!(
        creds.token().unwrap().expose_secret(),
        "fake-sts-access-token-1"
    );
    assert_eq!(creds.expiry(), token.expiry());
    assert_eq!(creds.name(), EXTERNAL_ACCOUNT_AUTHORIZED_USER);

    // The caching layer bills the project; an empty one bills none, as the reference.
    assert_eq!(TokenSource::quota_project(&creds), Some("billed"));
    let cached = Credentials::builder(creds).build().unwrap();
    let headers = cached.headers().await.unwrap();
    assert_eq!(headers["x-goog-user-project"], "billed");
    let unbilled = credentials(&with(file(&sts), "quota_project_id", json!("")), &clock);
    assert_eq!(TokenSource::quota_project(&unbilled), None);
    assert_eq!(unbilled.quota_project(), Some(""));
    let unbilled = Credentials::builder(unbilled).build().unwrap();
    assert!(
        unbilled
            .headers()
            .await
            .unwrap()
            .get("x-goog-user-project")
            .is_none()
    );
}

#[tokio::test]
async fn a_rotation_is_kept_by_the_source_and_written_back() {
    let sts = sts()
        .with_strict_rotation(REFRESH_TOKEN)
        .start()
        .await
        .unwrap();
    let clock = FakeClock::new();
    let creds = credentials(&file(&sts), &clock);
    let token = creds.fetch_token().await.unwrap();
    assert_eq!(
        token.rotated_refresh_token().unwrap().expose_secret(),
        "fake-sts-refresh-token-1"
    );
    creds.fetch_token().await.unwrap();
    assert_eq!(
        creds.refresh_token().unwrap().expose_secret(),
        "fake-sts-refresh-token-2"
    );
    let written: Value = serde_json::from_str(&creds.to_json(&[])).unwrap();
    assert_eq!(written["refresh_token"], "fake-sts-refresh-token-2");
    assert_eq!(written["token"], "fake-sts-access-token-2");
    assert_eq!(written["expiry"], "2026-01-01T01:00:00Z");
    // Read back, the file is the same credentials.
    let again = credentials(&written, &clock);
    assert_eq!(again.to_json(&[]).as_str(), creds.to_json(&[]).as_str());
}

#[tokio::test]
async fn through_credentials_with_storage_the_rotation_is_stored_and_survives_a_restart() {
    let sts = sts()
        .with_strict_rotation(REFRESH_TOKEN)
        .start()
        .await
        .unwrap();
    let clock = FakeClock::new();
    let storage = MemoryStorage::new();
    let first = Credentials::builder(credentials(&file(&sts), &clock))
        .with_storage(storage.clone(), "user")
        .build()
        .unwrap();
    let headers = first.headers().await.unwrap();
    assert_eq!(headers["authorization"], "Bearer fake-sts-access-token-1");
    let record = storage.load("user").await.unwrap().unwrap();
    assert_eq!(
        record.refresh_token().unwrap().expose_secret(),
        "fake-sts-refresh-token-1"
    );
    drop(first);

    // Another process, from the same file (the old refresh token), sharing the storage: it
    // adopts the stored rotation, or strict rotation would refuse it.
    clock.advance(Duration::from_secs(2 * 3600));
    let second_source = credentials(&file(&sts), &clock);
    let second = Credentials::builder(second_source.clone())
        .with_storage(storage.clone(), "user")
        .build()
        .unwrap();
    let headers = second.headers().await.unwrap();
    assert_eq!(headers["authorization"], "Bearer fake-sts-access-token-2");
    assert_eq!(
        second_source.refresh_token().unwrap().expose_secret(),
        "fake-sts-refresh-token-2"
    );
    let sent: Vec<String> = sts
        .requests()
        .iter()
        .map(|r| r.form_value("refresh_token").unwrap().to_owned())
        .collect();
    assert_eq!(sent, [REFRESH_TOKEN, "fake-sts-refresh-token-1"]);
    let record = storage.load("user").await.unwrap().unwrap();
    assert_eq!(
        record.refresh_token().unwrap().expose_secret(),
        "fake-sts-refresh-token-2"
    );

    // A restart from the record alone.
    clock.advance(Duration::from_secs(2 * 3600));
    let resumed = credentials(&file(&sts), &clock).with_record(&record);
    assert_eq!(
        resumed.refresh_token().unwrap().expose_secret(),
        "fake-sts-refresh-token-2"
    );
    assert_eq!(
        resumed.token().unwrap().expose_secret(),
        "fake-sts-access-token-2"
    );
    assert_eq!(resumed.expiry(), record.access_token().unwrap().expiry());
    resumed.fetch_token().await.unwrap();
    assert_eq!(sts.request_count(), 3);
}

#[tokio::test]
async fn to_record_seeds_a_storage_without_the_client_secret() {
    let sts = sts().start().await.unwrap();
    let clock = FakeClock::new();
    let info = with(file(&sts), "token", json!("ya29.held"));
    let info = with(info, "expiry", json!("2026-01-01T00:30:00Z"));
    let creds = credentials(&info, &clock);
    let record = creds.to_record();
    assert_eq!(
        record.refresh_token().unwrap().expose_secret(),
        REFRESH_TOKEN
    );
    assert_eq!(
        record.access_token().unwrap().expiry(),
        Some(OffsetDateTime::parse("2026-01-01T00:30:00Z", &Rfc3339).unwrap())
    );
    assert_eq!(record.provider_fields()["audience"], AUDIENCE);
    let stored = String::from_utf8(record.to_json().unwrap().to_vec()).unwrap();
    assert!(!stored.contains(CLIENT_SECRET), "{stored}");
    // A record without a refresh token leaves the current one.
    let kept = creds.with_record(&CredentialRecord::new());
    assert_eq!(kept.refresh_token().unwrap().expose_secret(), REFRESH_TOKEN);
}

#[tokio::test]
async fn the_files_token_is_served_until_stale_then_refreshed() {
    let sts = sts().start().await.unwrap();
    let clock = FakeClock::new();
    assert!(credentials(&file(&sts), &clock).initial_token().is_none());
    let info = with(file(&sts), "token", json!("ya29.from-the-file"));
    let info = with(info, "expiry", json!("2026-01-01T00:30:00Z"));
    let info = with(info, "quota_project_id", json!("billed"));
    let source = credentials(&info, &clock);
    let initial = source.initial_token().unwrap();
    assert_eq!(initial.secret().expose_secret(), "ya29.from-the-file");
    assert_eq!(initial.quota_project(), Some("billed"));
    assert_eq!(
        initial.expiry(),
        Some(OffsetDateTime::parse("2026-01-01T00:30:00Z", &Rfc3339).unwrap())
    );
    let credentials = Credentials::builder(source).build().unwrap();
    let headers = credentials.headers().await.unwrap();
    assert_eq!(headers["authorization"], "Bearer ya29.from-the-file");
    assert_eq!(sts.request_count(), 0);
    clock.advance(Duration::from_secs(30 * 60));
    let headers = credentials.headers().await.unwrap();
    assert_eq!(headers["authorization"], "Bearer fake-sts-access-token-1");
    assert_eq!(sts.request_count(), 1);
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_old_refresh_token() {
    let sts = sts().start().await.unwrap();
    sts.push_replies([
        StsReply::oauth_error(503, "temporarily_unavailable", Some("busy")),
        StsReply::raw(200, "text/html", "<html>not a token</html>"),
        StsReply::rotation("at", "rt-new"),
    ]);
    let clock = FakeClock::new();
    let creds = credentials(&file(&sts), &clock);
    let busy = creds.fetch_token().await.unwrap_err();
    assert!(busy.is_transient(), "{busy}");
    assert_eq!(busy.to_string(), "temporarily_unavailable: busy");
    let garbage = creds.fetch_token().await.unwrap_err();
    assert_eq!(garbage.kind(), ErrorKind::InvalidResponse, "{garbage}");
    assert_eq!(
        creds.refresh_token().unwrap().expose_secret(),
        REFRESH_TOKEN
    );
    creds.fetch_token().await.unwrap();
    assert_eq!(creds.refresh_token().unwrap().expose_secret(), "rt-new");
    let sent: Vec<String> = sts
        .requests()
        .iter()
        .map(|r| r.form_value("refresh_token").unwrap().to_owned())
        .collect();
    assert_eq!(sent, [REFRESH_TOKEN; 3]);
}

#[tokio::test]
async fn invalid_grant_is_permanent_and_not_retried() {
    let sts = sts()
        .with_refresh_token("another-refresh-token")
        .start()
        .await
        .unwrap();
    let clock = FakeClock::new().with_auto_advance(true);
    let credentials = Credentials::builder(credentials(&file(&sts), &clock))
        .build()
        .unwrap();
    let err = credentials.headers().await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert_eq!(err.oauth_error(), Some("invalid_grant"));
    assert_eq!(err.http_status(), Some(400));
    assert_eq!(
        err.to_string(),
        "invalid_grant: Token has been expired or revoked."
    );
    assert_eq!(sts.request_count(), 1);
}

#[tokio::test]
async fn a_wrong_client_is_sts_s_invalid_client() {
    let sts = FakeStsServer::builder()
        .with_client(CLIENT_ID, "the-real-secret")
        .start()
        .await
        .unwrap();
    let clock = FakeClock::new();
    let err = credentials(&file(&sts), &clock)
        .fetch_token()
        .await
        .unwrap_err();
    assert_eq!(err.oauth_error(), Some("invalid_client"));
    assert_eq!(err.http_status(), Some(401));
    assert!(!err.is_transient());
}

#[tokio::test]
async fn a_refresh_without_the_members_fails_with_the_references_text_and_sends_nothing() {
    let sts = sts().start().await.unwrap();
    let clock = FakeClock::new();
    for missing in ["refresh_token", "client_id", "client_secret", "token_url"] {
        for absent in [Value::Null, json!("")] {
            let info = with(file(&sts), missing, absent.clone());
            let info = with(info, "token", json!("ya29.held"));
            let creds = credentials(&info, &clock);
            assert!(!creds.can_refresh());
            let err = creds.fetch_token().await.unwrap_err();
            assert_eq!(
                err.to_string(),
                "The credentials do not contain the necessary fields need to refresh the access token. You must specify refresh_token, token_url, client_id, and client_secret.",
                "{missing} {absent}"
            );
            assert_eq!(err.kind(), ErrorKind::Configuration);
            assert!(!err.is_transient());
        }
    }
    assert_eq!(sts.request_count(), 0);
}

// ===== the file =====

fn parse_error(info: &Value) -> String {
    ExternalAccountAuthorizedUserInfo::from_json(info)
        .unwrap_err()
        .to_string()
}

#[tokio::test]
async fn the_file_is_read_with_the_references_checks() {
    let sts = sts().start().await.unwrap();
    let info = ExternalAccountAuthorizedUserInfo::from_json(&file(&sts)).unwrap();
    assert_eq!(info.audience(), Some(AUDIENCE));
    assert_eq!(info.client_id(), Some(CLIENT_ID));
    assert!(info.can_refresh());
    for missing in ["refresh_token", "client_id", "client_secret", "token_url"] {
        let info =
            ExternalAccountAuthorizedUserInfo::from_json(&with(file(&sts), missing, json!("")));
        assert!(!info.unwrap().can_refresh(), "{missing}");
    }
    assert!(!info.has_token());
    assert_eq!(
        info.revoke_url(),
        Some(format!("{}/v1/oauth/revoke", sts.url()).as_str())
    );
    assert_eq!(
        parse_error(&json!(["a list"])),
        "the external_account_authorized_user credentials are not a JSON object"
    );
    assert_eq!(
        parse_error(&with(file(&sts), "type", json!("authorized_user"))),
        "the credentials' type is authorized_user, not external_account_authorized_user"
    );
    assert_eq!(
        parse_error(&with(file(&sts), "client_id", json!(7))),
        "client_id must be a string"
    );
    assert_eq!(
        parse_error(&with(file(&sts), "refresh_token", json!({"a": 1}))),
        "refresh_token must be a string"
    );
    assert_eq!(
        parse_error(&with(file(&sts), "scopes", json!(["a", 1]))),
        "scopes must be a list of strings"
    );
    assert!(
        parse_error(&with(file(&sts), "expiry", json!("tomorrow")))
            .starts_with("expiry must be a time such as 2024-01-01T00:00:00Z"),
    );
    assert!(
        ExternalAccountAuthorizedUserInfo::from_json_str("{\"refresh_token\": \"secret-rt")
            .unwrap_err()
            .to_string()
            .starts_with("the external_account_authorized_user credentials are not valid JSON")
    );
    // No type at all is accepted, as the reference accepts it; an empty expiry is none.
    let info = with(file(&sts), "type", Value::Null);
    ExternalAccountAuthorizedUserInfo::from_json(&with(info, "expiry", json!(""))).unwrap();
}

#[tokio::test]
async fn the_file_is_read_from_disk() {
    let sts = sts().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("eaau.json");
    std::fs::write(&path, file(&sts).to_string()).unwrap();
    let info = ExternalAccountAuthorizedUserInfo::from_file(&path).unwrap();
    assert_eq!(info.audience(), Some(AUDIENCE));
    let missing =
        ExternalAccountAuthorizedUserInfo::from_file(dir.path().join("nope.json")).unwrap_err();
    assert!(missing.to_string().contains("was not found"), "{missing}");
}

#[tokio::test]
async fn credentials_neither_valid_nor_refreshable_do_not_build() {
    let sts = sts().start().await.unwrap();
    let clock = FakeClock::new();
    let build = |info: &Value| {
        ExternalAccountAuthorizedUserInfo::from_json(info)
            .unwrap()
            .builder()
            .with_transport(ReqwestTransport::new().unwrap())
            .with_clock(clock.clone())
            .build()
    };
    let text = "Token should be created with fields to make it valid (`token` and `expiry`), or fields to allow it to refresh (`refresh_token`, `token_url`, `client_id`, `client_secret`).";
    let no_refresh = with(file(&sts), "refresh_token", Value::Null);
    assert_eq!(build(&no_refresh).unwrap_err().to_string(), text);
    // A token inside the reference's margin (3 min 45 s) is not valid, by the builder's clock.
    let stale = with(no_refresh.clone(), "token", json!("ya29.t"));
    let stale = with(stale, "expiry", json!("2026-01-01T00:03:45Z"));
    assert_eq!(build(&stale).unwrap_err().to_string(), text);
    let fresh = with(stale, "expiry", json!("2026-01-01T00:03:46Z"));
    build(&fresh).unwrap();
    let forever = with(no_refresh, "token", json!("ya29.t"));
    build(&forever).unwrap();
    // A transport is wanted; a token URL must be a URL.
    let err = ExternalAccountAuthorizedUserCredentials::builder()
        .with_token("t")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("transport"), "{err}");
    let err = ExternalAccountAuthorizedUserInfo::from_json(&with(
        file(&sts),
        "token_url",
        json!("not a url"),
    ))
    .unwrap()
    .builder()
    .with_transport(ReqwestTransport::new().unwrap())
    .build()
    .unwrap_err();
    assert_eq!(err.to_string(), "token_url must be an absolute https URL");
}

#[tokio::test]
async fn every_member_is_kept_and_to_builder_copies_the_current_state() {
    let sts = sts()
        .with_strict_rotation(REFRESH_TOKEN)
        .start()
        .await
        .unwrap();
    let clock = FakeClock::new();
    let mut info = file(&sts);
    info.as_object_mut().unwrap().extend(
        json!({
            "scopes": "scope-a scope-b",
            "quota_project_id": "billed",
            "universe_domain": "example.goog",
            "token": "ya29.held",
            "expiry": "2026-01-01T00:30:00Z",
        })
        .as_object()
        .unwrap()
        .clone(),
    );
    let parsed = ExternalAccountAuthorizedUserInfo::from_json(&info).unwrap();
    assert_eq!(
        parsed.token_url(),
        Some(format!("{}/v1/oauth/token", sts.url()).as_str())
    );
    assert_eq!(
        parsed.token_info_url(),
        Some(format!("{}/v1/introspect", sts.url()).as_str())
    );
    assert_eq!(parsed.quota_project(), Some("billed"));
    assert_eq!(parsed.scopes().unwrap(), ["scope-a", "scope-b"]);
    assert_eq!(parsed.universe_domain(), Some("example.goog"));
    assert_eq!(
        parsed.expiry(),
        Some(OffsetDateTime::parse("2026-01-01T00:30:00Z", &Rfc3339).unwrap())
    );
    assert!(parsed.has_token());
    let creds = credentials(&info, &clock);
    assert_eq!(creds.audience(), Some(AUDIENCE));
    assert_eq!(creds.token_url(), parsed.token_url());
    assert_eq!(creds.token_info_url(), parsed.token_info_url());
    assert_eq!(creds.revoke_url(), parsed.revoke_url());
    assert_eq!(creds.client_id(), Some(CLIENT_ID));
    assert_eq!(
        creds.client_secret().unwrap().expose_secret(),
        CLIENT_SECRET
    );
    assert_eq!(creds.scopes().unwrap(), ["scope-a", "scope-b"]);
    assert_eq!(creds.quota_project(), Some("billed"));
    assert_eq!(creds.universe_domain(), "example.goog");
    assert!(creds.is_user());
    assert!(creds.can_refresh());

    creds.fetch_token().await.unwrap();
    let copy = creds
        .to_builder()
        .with_quota_project("other")
        .build()
        .unwrap();
    assert_eq!(copy.quota_project(), Some("other"));
    assert_eq!(creds.quota_project(), Some("billed"));
    // Everything else, the state included, is the original's.
    assert_eq!(
        copy.to_json(&["quota_project_id"]).as_str(),
        creds.to_json(&["quota_project_id"]).as_str()
    );
    assert_eq!(
        copy.refresh_token().unwrap().expose_secret(),
        "fake-sts-refresh-token-1"
    );
    // The copy is independent: its refresh rotates its own refresh token, not the original's.
    copy.fetch_token().await.unwrap();
    assert_eq!(
        creds.refresh_token().unwrap().expose_secret(),
        "fake-sts-refresh-token-1"
    );
    assert_eq!(
        copy.refresh_token().unwrap().expose_secret(),
        "fake-sts-refresh-token-2"
    );
    // Its requests go through the same transport and token URL.
    assert_eq!(sts.request_count(), 2);
}

// ===== secrets =====

#[tokio::test]
async fn debug_and_errors_never_show_a_secret() {
    let sts = sts().start().await.unwrap();
    sts.push_reply(StsReply::oauth_error(
        400,
        "invalid_grant",
        Some(&format!("bad {REFRESH_TOKEN} for {CLIENT_SECRET}")),
    ));
    let clock = FakeClock::new();
    let info_json = with(file(&sts), "token", json!("ya29.held-secret"));
    let info = ExternalAccountAuthorizedUserInfo::from_json(&info_json).unwrap();
    let builder = info.builder();
    let creds = credentials(&info_json, &clock);
    let err = creds.fetch_token().await.unwrap_err();
    let shown = [
        format!("{info:?}"),
        format!("{builder:?}"),
        format!("{creds:?}"),
        format!("{err}"),
        format!("{err:?}"),
        format!("{:?}", sts.last_request().unwrap()),
    ];
    for text in &shown {
        for secret in [REFRESH_TOKEN, CLIENT_SECRET, "ya29.held-secret"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    // What they do show: the client and the audience, and that the secrets are there.
    for text in &shown[..3] {
        assert!(text.contains(CLIENT_ID), "{text}");
        assert!(text.contains(AUDIENCE), "{text}");
        assert!(text.contains("[REDACTED]"), "{text}");
    }
}

// ===== the contract =====

fn contract_source(far: &Far) -> ExternalAccountAuthorizedUserCredentials {
    ExternalAccountAuthorizedUserCredentials::builder()
        .with_audience(AUDIENCE)
        .with_refresh_token(REFRESH_TOKEN)
        .with_client_id(CLIENT_ID)
        .with_client_secret(CLIENT_SECRET)
        .with_token_url(far.token_url())
        .with_transport(far.endpoint().clone())
        .with_clock(far.clock().clone())
        .build()
        .unwrap()
}

#[test]
fn external_account_authorized_user_keeps_the_contract() {
    Contract::new(contract_source)
        .with_secret(REFRESH_TOKEN)
        .with_secret(CLIENT_SECRET)
        .check();
}
