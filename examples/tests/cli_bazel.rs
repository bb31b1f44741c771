//! `credkit credential-helper` and the `credkit-credential-helper` link: the credential-helper
//! spec of Bazel and uv, with its exact request and answer shapes, against `FakeTokenServer`
//! on loopback.
// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;
use std::time::Duration;

use credkit_testing::{FakeTokenServer, Reply};
use serde_json::{Value, json};
use support::{
    CLIENT_SECRET, REFRESH_TOKEN, Sandbox, run, run_with_stdin, service_account_sandbox,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const EMAIL: &str = "robot@credkit-test.iam.gserviceaccount.com";

/// `credkit credential-helper get --credentials <file> --token-uri <server> <extra...>`.
fn helper(sandbox: &Sandbox, server: &FakeTokenServer, extra: &[&str]) -> Command {
    let file = sandbox.credentials_file(&json!({}));
    let mut command = sandbox.credkit(["credential-helper", "get", "--no-cache"]);
    command
        .arg("--credentials")
        .arg(file)
        .args(["--token-uri", &server.token_url()])
        .args(extra);
    command
}

fn request(uri: &str) -> String {
    json!({ "uri": uri }).to_string()
}

#[tokio::test]
async fn get_answers_google_apis_with_the_headers_and_their_expiry() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::token("ya29.bazel-token"));
    let before = OffsetDateTime::now_utc();
    let out = run_with_stdin(
        helper(&sandbox, &server, &["--quota-project", "billing-project"]),
        request("https://storage.googleapis.com/bucket/archive.tar.gz"),
    )
    .await;
    let after = OffsetDateTime::now_utc();
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stderr, "", "{out:#?}");
    assert!(out.stdout.ends_with("}\n"), "{out:#?}");
    let answer: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        answer["headers"],
        json!({
            "Authorization": ["Bearer ya29.bazel-token"],
            "x-goog-user-project": ["billing-project"],
        })
    );
    // The fake's token lives an hour from its issue, within this run.
    let expires = OffsetDateTime::parse(answer["expires"].as_str().unwrap(), &Rfc3339).unwrap();
    assert!(
        answer["expires"].as_str().unwrap().ends_with('Z'),
        "{answer}"
    );
    let hour = Duration::from_secs(3600);
    assert!(
        expires >= before + hour - Duration::from_secs(1),
        "{expires}"
    );
    assert!(expires <= after + hour, "{expires}");
    out.assert_no_secret(&[CLIENT_SECRET, REFRESH_TOKEN]);
}

#[tokio::test]
async fn grpcs_for_the_remote_cache_is_served_too() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::token("ya29.remote"));
    let out = run_with_stdin(
        helper(&sandbox, &server, &[]),
        request("grpcs://remotebuildexecution.googleapis.com"),
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    let answer: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        answer["headers"],
        json!({"Authorization": ["Bearer ya29.remote"]})
    );
}

#[tokio::test]
async fn other_hosts_get_no_credentials_and_no_request_is_made() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    for uri in [
        "https://github.com/org/repo/archive/v1.tar.gz",
        "http://storage.googleapis.com/bucket/object",
        "https://storage.googleapis.com.evil.example/",
        "ftp://storage.googleapis.com/x",
    ] {
        let out = run_with_stdin(helper(&sandbox, &server, &[]), request(uri)).await;
        assert_eq!(out.code, Some(0), "{out:#?}");
        assert_eq!(out.stdout, "{}\n", "{uri}");
        assert_eq!(out.stderr, "", "{out:#?}");
    }
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn host_adds_a_loopback_cache() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::token("ya29.local"));
    let out = run_with_stdin(
        helper(&sandbox, &server, &["--host", "127.0.0.1:9092"]),
        request("grpc://127.0.0.1:9092"),
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    let answer: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        answer["headers"]["Authorization"],
        json!(["Bearer ya29.local"])
    );
}

#[tokio::test]
async fn malformed_requests_are_errors_that_never_quote_the_uri() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    for (input, says) in [
        ("not json".to_owned(), "not a JSON object"),
        ("{}".to_owned(), "not a JSON object"),
        (request("/relative/secret-path"), "not an absolute URL"),
    ] {
        let out = run_with_stdin(helper(&sandbox, &server, &[]), input).await;
        let message = out.assert_error();
        assert!(message.contains(says), "{message}");
        out.assert_no_secret(&["secret-path"]);
    }
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn no_command_or_another_is_an_error() {
    let sandbox = Sandbox::new();
    let out = run(sandbox.credkit(["credential-helper"])).await;
    assert!(out.assert_error().starts_with("usage: "), "{out:#?}");
    let out = run(sandbox.credkit(["credential-helper", "store"])).await;
    assert_eq!(
        out.assert_error(),
        "unknown command `store`: the one command is get"
    );
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_one_error_line_without_a_secret() {
    let sandbox = Sandbox::new();
    let command = sandbox.credkit_unreachable(&["credential-helper", "get"]);
    let out = run_with_stdin(command, request("https://storage.googleapis.com/b/o")).await;
    assert!(!out.assert_error().is_empty());
    out.assert_no_secret(&[CLIENT_SECRET, REFRESH_TOKEN]);
}

#[tokio::test]
async fn the_link_runs_the_helper_with_application_default_credentials() {
    let server = FakeTokenServer::start().await.unwrap();
    let (sandbox, key, _) = service_account_sandbox(&server, EMAIL);
    server.push_reply(Reply::token("ya29.through-the-link"));
    let program = sandbox.path("credkit-credential-helper");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_credkit"), &program).unwrap();
    let command = |host_env: Option<&str>| {
        let mut command = sandbox.env().command(&program);
        command.arg("get");
        if let Some(hosts) = host_env {
            command.env("CREDKIT_HELPER_HOSTS", hosts);
        }
        command
    };

    let out = run_with_stdin(command(None), request("https://storage.googleapis.com/b/o")).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    let answer: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        answer["headers"]["Authorization"],
        json!(["Bearer ya29.through-the-link"])
    );
    assert!(answer["expires"].is_string(), "{answer}");
    out.assert_no_secret(&[key.private_key_pem()]);

    let out = run_with_stdin(command(None), request("https://cache.example.com/x")).await;
    assert_eq!(out.stdout, "{}\n", "{out:#?}");
    let out = run_with_stdin(
        command(Some("cache.example.com")),
        request("https://cache.example.com/x"),
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.contains("Bearer "), "{out:#?}");

    let mut no_command = sandbox.env().command(&program);
    no_command.env_remove("CREDKIT_HELPER_HOSTS");
    assert!(run(no_command).await.assert_error().starts_with("usage: "));
}
