//! `credkit token --output-file FILE [--keep-fresh]`: the token in a file (no newline, mode
//! 0600, no temporary file left), rewritten over an older one, kept fresh by a process that
//! exits 0 on SIGTERM, and the errors. Nothing leaves loopback; no gcloud runs.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use credkit_testing::{FakeTokenServer, Reply};
use support::{CLIENT_SECRET, REFRESH_TOKEN, Sandbox, run, service_account_sandbox};

const TOKEN: &str = "ya29.token-file-test-token";

async fn setup() -> (Sandbox, FakeTokenServer, PathBuf, tempfile::TempDir) {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::token(TOKEN));
    let sandbox = Sandbox::new();
    let file = sandbox.credentials_file(&serde_json::json!({}));
    let out_dir = tempfile::tempdir().unwrap();
    (sandbox, server, file, out_dir)
}

fn token_args(file: &Path, server: &FakeTokenServer, output: &Path) -> Vec<String> {
    vec![
        "token".to_owned(),
        "--credentials".to_owned(),
        file.display().to_string(),
        "--token-uri".to_owned(),
        server.token_url(),
        "--no-cache".to_owned(),
        "--output-file".to_owned(),
        output.display().to_string(),
    ]
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_file_holds_the_token_alone_and_nothing_is_printed() {
    let (sandbox, server, file, out_dir) = setup().await;
    let output = out_dir.path().join("token");
    let out = run(sandbox.credkit(token_args(&file, &server, &output))).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
    assert_eq!(std::fs::read_to_string(&output).unwrap(), TOKEN);
    assert_eq!(names(out_dir.path()), ["token"]);
    #[cfg(unix)]
    assert_eq!(mode(&output), 0o600);
    out.assert_no_secret(&[TOKEN, REFRESH_TOKEN, CLIENT_SECRET]);
}

#[cfg(unix)]
#[tokio::test]
async fn a_rewrite_over_an_older_file_keeps_it_private() {
    use std::os::unix::fs::PermissionsExt;
    let (sandbox, server, file, out_dir) = setup().await;
    let output = out_dir.path().join("token");
    std::fs::write(&output, "ya29.older\n").unwrap();
    std::fs::set_permissions(&output, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(sandbox.credkit(token_args(&file, &server, &output))).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(std::fs::read_to_string(&output).unwrap(), TOKEN);
    assert_eq!(mode(&output), 0o600);
    assert_eq!(names(out_dir.path()), ["token"]);
}

#[tokio::test]
async fn an_id_token_file_too() {
    let email = "robot@credkit-test.iam.gserviceaccount.com";
    let server = FakeTokenServer::start().await.unwrap();
    let (sandbox, _key, _) = service_account_sandbox(&server, email);
    let out_dir = tempfile::tempdir().unwrap();
    let output = out_dir.path().join("id-token");
    let out = run(sandbox.credkit([
        "token",
        "--no-cache",
        "--id-token",
        "--audience",
        "https://service.example",
        "--output-file",
        output.to_str().unwrap(),
    ]))
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
    let token = std::fs::read_to_string(&output).unwrap();
    assert_eq!(token.split('.').count(), 3, "{token}");
    assert!(!token.ends_with('\n'));
}

#[tokio::test]
async fn a_directory_that_cannot_be_written_is_one_error_line() {
    let (sandbox, server, file, out_dir) = setup().await;
    let output = out_dir.path().join("missing").join("token");
    let out = run(sandbox.credkit(token_args(&file, &server, &output))).await;
    let message = out.assert_error();
    assert!(
        message.contains("could not write the token file"),
        "{message}"
    );
    out.assert_no_secret(&[TOKEN, REFRESH_TOKEN, CLIENT_SECRET]);
    assert!(names(out_dir.path()).is_empty());
}

#[tokio::test]
async fn a_token_that_cannot_be_had_writes_nothing() {
    let (sandbox, server, file, out_dir) = setup().await;
    let output = out_dir.path().join("token");
    let mut args = token_args(&file, &server, &output);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    args[4] = format!("http://127.0.0.1:{port}/token");
    args.extend(["--no-retry".to_owned(), "--keep-fresh".to_owned()]);
    let out = run(sandbox.credkit(args)).await;
    out.assert_error();
    out.assert_no_secret(&[REFRESH_TOKEN, CLIENT_SECRET]);
    assert!(names(out_dir.path()).is_empty());
}

#[tokio::test]
async fn keep_fresh_needs_an_output_file() {
    let (sandbox, server, file, _out_dir) = setup().await;
    let out = run(sandbox.credkit([
        "token",
        "--credentials",
        file.to_str().unwrap(),
        "--token-uri",
        &server.token_url(),
        "--keep-fresh",
    ]))
    .await;
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains("--output-file"), "{out:#?}");
    assert_eq!(server.request_count(), 0);
}

#[cfg(unix)]
#[tokio::test]
async fn keep_fresh_writes_the_file_stays_and_exits_0_on_sigterm() {
    let (sandbox, server, file, out_dir) = setup().await;
    let output = out_dir.path().join("token");
    let mut args = token_args(&file, &server, &output);
    args.push("--keep-fresh".to_owned());
    let mut child = sandbox
        .credkit(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The condition: the file appears (the deadline only guards against a hang).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !output.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "credkit exited before writing the file"
        );
        assert!(tokio::time::Instant::now() < deadline, "no token file");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(std::fs::read_to_string(&output).unwrap(), TOKEN);
    assert_eq!(mode(&output), 0o600);
    // Still running: it keeps the file fresh.
    assert!(child.try_wait().unwrap().is_none());

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "");
    assert_eq!(String::from_utf8(out.stderr).unwrap(), "");
    // The last file stays, and nothing else.
    assert_eq!(std::fs::read_to_string(&output).unwrap(), TOKEN);
    assert_eq!(names(out_dir.path()), ["token"]);
    assert_eq!(server.request_count(), 1);
}
