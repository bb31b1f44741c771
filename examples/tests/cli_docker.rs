//! `credkit docker-credential` and the `docker-credential-credkit` link: docker's credential
//! helper protocol, with the exact requests and answers of docker-credential-helpers, against
//! `FakeTokenServer` on loopback. No docker daemon.
// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use credkit_testing::{FakeTokenServer, Reply, TestKey};
use serde_json::{Value, json};
use support::{
    CLIENT_SECRET, REFRESH_TOKEN, Run, Sandbox, run, run_with_stdin, service_account_sandbox,
};

const NOT_FOUND: &str = "credentials not found in native keychain";
const EMAIL: &str = "robot@credkit-test.iam.gserviceaccount.com";

/// `credkit docker-credential <action> --credentials <file> --token-uri <server> <extra...>`.
fn helper(sandbox: &Sandbox, server: &FakeTokenServer, action: &str, extra: &[&str]) -> Command {
    let file = sandbox.credentials_file(&json!({}));
    let mut command = sandbox.credkit(["docker-credential", action, "--no-cache"]);
    command
        .arg("--credentials")
        .arg(file)
        .args(["--token-uri", &server.token_url()])
        .args(extra);
    command
}

/// Asserts the protocol's error: `message` and a newline on standard output, exit status 1,
/// and one `error:` line on standard error; returns that line's message.
fn assert_protocol_error<'a>(out: &'a Run, message: &str) -> &'a str {
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert_eq!(out.stdout, format!("{message}\n"), "{out:#?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
    out.stderr
        .trim_end()
        .strip_prefix("error: ")
        .unwrap_or_else(|| panic!("not an error line: {out:#?}"))
}

/// A link named `name` to the built binary, in the sandbox's folder.
fn link(sandbox: &Sandbox, name: &str) -> PathBuf {
    let path = sandbox.path(name);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_credkit"), &path).unwrap();
    path
}

/// A sandbox whose Application Default Credentials are a service-account key for `server`.
fn sandbox_with_key(server: &FakeTokenServer) -> (Sandbox, TestKey) {
    let (sandbox, key, _) = service_account_sandbox(server, EMAIL);
    (sandbox, key)
}

fn command_at(sandbox: &Sandbox, program: &Path, args: &[&str]) -> Command {
    let mut command = sandbox.env().command(program);
    command.args(args);
    command
}

// ===== get =====

#[tokio::test]
async fn get_answers_a_google_registry_with_the_token() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::token("ya29.docker-token"));
    for url in ["gcr.io", "https://us-docker.pkg.dev", "eu.gcr.io"] {
        let out = run_with_stdin(helper(&sandbox, &server, "get", &[]), format!("{url}\n")).await;
        assert_eq!(out.code, Some(0), "{out:#?}");
        assert_eq!(out.stderr, "", "{out:#?}");
        assert!(out.stdout.ends_with("}\n"), "{out:#?}");
        let answer: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(
            answer,
            json!({"ServerURL": url, "Username": "oauth2accesstoken", "Secret": "ya29.docker-token"})
        );
        out.assert_no_secret(&[CLIENT_SECRET, REFRESH_TOKEN]);
    }
}

#[tokio::test]
async fn get_declines_another_registry_without_a_request() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    for url in [
        "registry.example.com",
        "https://index.docker.io/v1/",
        "http://gcr.io",
    ] {
        let out = run_with_stdin(helper(&sandbox, &server, "get", &[]), url).await;
        let line = assert_protocol_error(&out, NOT_FOUND);
        assert!(line.starts_with(NOT_FOUND), "{line}");
        assert!(line.contains("--host"), "{line}");
    }
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn host_and_the_environment_add_registries() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::token("ya29.mine"));
    let out = run_with_stdin(
        helper(
            &sandbox,
            &server,
            "get",
            &["--host", "registry.example.com"],
        ),
        "registry.example.com",
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap()["Secret"],
        "ya29.mine"
    );

    let mut command = helper(&sandbox, &server, "get", &[]);
    command.env("CREDKIT_HELPER_HOSTS", " other.example , 127.0.0.1:5000");
    let out = run_with_stdin(command, "http://127.0.0.1:5000").await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap()["ServerURL"],
        "http://127.0.0.1:5000"
    );
    // Plain http only on loopback, whatever is named.
    let out = run_with_stdin(
        helper(
            &sandbox,
            &server,
            "get",
            &["--host", "registry.example.com"],
        ),
        "http://registry.example.com",
    )
    .await;
    assert_protocol_error(&out, NOT_FOUND);
}

#[tokio::test]
async fn a_bad_host_pattern_is_an_error() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    let out = run_with_stdin(
        helper(&sandbox, &server, "get", &["--host", "a b"]),
        "gcr.io",
    )
    .await;
    let line = assert_protocol_error(&out, out.stdout.trim_end());
    assert!(line.contains("'a b' is not a host pattern"), "{line}");
    assert!(line.starts_with("--host or CREDKIT_HELPER_HOSTS"), "{line}");
}

#[tokio::test]
async fn get_without_a_server_url_is_the_protocol_error() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    let out = run_with_stdin(helper(&sandbox, &server, "get", &[]), "\n").await;
    assert_eq!(
        assert_protocol_error(&out, "no credentials server URL"),
        "no credentials server URL"
    );
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_an_error_without_a_secret() {
    let sandbox = Sandbox::new();
    let command = sandbox.credkit_unreachable(&["docker-credential", "get"]);
    let out = run_with_stdin(command, "gcr.io").await;
    assert_eq!(out.code, Some(1), "{out:#?}");
    let line = assert_protocol_error(&out, out.stdout.trim_end());
    assert_eq!(out.stdout.lines().count(), 1, "{out:#?}");
    assert_eq!(out.stdout.trim_end(), line);
    out.assert_no_secret(&[CLIENT_SECRET, REFRESH_TOKEN]);
}

// ===== store, erase, list, version =====

#[tokio::test]
async fn store_and_erase_accept_a_google_registry_and_keep_nothing() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    let store = json!({"ServerURL": "https://gcr.io", "Username": "oauth2accesstoken", "Secret": "ya29.hunter2"});
    let out = run_with_stdin(helper(&sandbox, &server, "store", &[]), store.to_string()).await;
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (Some(0), "", "")
    );
    let out = run_with_stdin(helper(&sandbox, &server, "erase", &[]), "https://gcr.io\n").await;
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (Some(0), "", "")
    );
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn store_refuses_another_registry_and_erase_finds_nothing() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    let store = json!({"ServerURL": "registry.example.com", "Username": "me", "Secret": "hunter2"});
    let out = run_with_stdin(helper(&sandbox, &server, "store", &[]), store.to_string()).await;
    let line = assert_protocol_error(&out, out.stdout.trim_end());
    assert!(line.contains("keeps no password"), "{line}");
    out.assert_no_secret(&["hunter2"]);

    let out = run_with_stdin(
        helper(&sandbox, &server, "erase", &[]),
        "registry.example.com",
    )
    .await;
    assert_protocol_error(&out, NOT_FOUND);
}

#[tokio::test]
async fn malformed_store_input_is_the_protocol_error_without_the_secret() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    for (input, message) in [
        (
            json!({"Username": "u", "Secret": "hunter2"}).to_string(),
            "no credentials server URL",
        ),
        (
            json!({"ServerURL": "gcr.io", "Secret": "hunter2"}).to_string(),
            "no credentials username",
        ),
    ] {
        let out = run_with_stdin(helper(&sandbox, &server, "store", &[]), input).await;
        assert_eq!(assert_protocol_error(&out, message), message);
        out.assert_no_secret(&["hunter2"]);
    }
    let out = run_with_stdin(
        helper(&sandbox, &server, "store", &[]),
        "{\"Secret\": \"hunter2",
    )
    .await;
    let line = assert_protocol_error(&out, out.stdout.trim_end());
    assert!(line.contains("not a JSON object"), "{line}");
    out.assert_no_secret(&["hunter2"]);
}

#[tokio::test]
async fn list_names_the_registries_and_version_the_helper() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    let out = run(helper(
        &sandbox,
        &server,
        "list",
        &["--host", "127.0.0.1:5000", "--host", "*.example.com"],
    ))
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    let listed: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        listed,
        json!({
            "https://gcr.io": "oauth2accesstoken",
            "https://us.gcr.io": "oauth2accesstoken",
            "https://eu.gcr.io": "oauth2accesstoken",
            "https://asia.gcr.io": "oauth2accesstoken",
            "https://marketplace.gcr.io": "oauth2accesstoken",
            "https://127.0.0.1:5000": "oauth2accesstoken",
        })
    );
    let out = run(helper(&sandbox, &server, "version", &[])).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(
        out.stdout,
        format!(
            "docker-credential-credkit (credkit) {}\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn version_answers_whatever_the_host_patterns_and_list_checks_them() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    let out = run(helper(
        &sandbox,
        &server,
        "version",
        &["--host", "not a host"],
    ))
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stdout
            .starts_with("docker-credential-credkit (credkit) "),
        "{out:#?}"
    );
    let out = run(helper(&sandbox, &server, "list", &["--host", "not a host"])).await;
    let line = assert_protocol_error(&out, out.stdout.trim_end());
    assert!(
        line.starts_with("--host or CREDKIT_HELPER_HOSTS: "),
        "{line}"
    );
}

#[tokio::test]
async fn an_unknown_action_or_none_is_the_protocol_error() {
    let sandbox = Sandbox::new();
    let out = run(sandbox.credkit(["docker-credential", "fetch"])).await;
    assert_protocol_error(&out, "Unknown credential action `fetch`");
    let out = run(sandbox.credkit(["docker-credential"])).await;
    assert_protocol_error(
        &out,
        "Usage: docker-credential-credkit <store|get|erase|list|version>",
    );
}

// ===== the link =====

#[tokio::test]
async fn the_link_is_the_helper_with_application_default_credentials() {
    let server = FakeTokenServer::start().await.unwrap();
    let (sandbox, key) = sandbox_with_key(&server);
    server.push_reply(Reply::token("ya29.through-the-link"));
    let program = link(&sandbox, "docker-credential-credkit");

    let out = run_with_stdin(
        command_at(&sandbox, &program, &["get"]),
        "us-docker.pkg.dev",
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap(),
        json!({"ServerURL": "us-docker.pkg.dev", "Username": "oauth2accesstoken", "Secret": "ya29.through-the-link"})
    );
    out.assert_no_secret(&[key.private_key_pem()]);
    let grant = server.last_request().unwrap();
    assert_eq!(
        grant.form_value("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );

    // A link gets its hosts from the environment.
    let out = run_with_stdin(
        command_at(&sandbox, &program, &["get"]),
        "registry.example.com",
    )
    .await;
    assert_protocol_error(&out, NOT_FOUND);
    let mut command = command_at(&sandbox, &program, &["get"]);
    command.env("CREDKIT_HELPER_HOSTS", "registry.example.com");
    let out = run_with_stdin(command, "registry.example.com").await;
    assert_eq!(out.code, Some(0), "{out:#?}");

    let out = run(command_at(&sandbox, &program, &["version"])).await;
    assert!(
        out.stdout
            .starts_with("docker-credential-credkit (credkit) "),
        "{out:#?}"
    );
    let out = run(command_at(&sandbox, &program, &[])).await;
    assert_protocol_error(
        &out,
        "Usage: docker-credential-credkit <store|get|erase|list|version>",
    );
}

#[tokio::test]
async fn the_link_with_no_credentials_is_an_error_on_both_streams() {
    let sandbox = Sandbox::new();
    let program = link(&sandbox, "docker-credential-credkit");
    let out = run_with_stdin(command_at(&sandbox, &program, &["get"]), "gcr.io").await;
    let line = assert_protocol_error(&out, out.stdout.trim_end());
    assert!(!line.is_empty());
}
