//! The `credkit` token cache: a second run while the token is fresh makes no request, eight
//! processes at once make one, a lease holder killed mid-refresh is taken over without losing a
//! rotation (the server in strict-rotation mode), and nothing secret shows in names or `info`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use credkit_testing::{FakeTokenServer, Reply};
use serde_json::{Value, json};
use support::{CLIENT_SECRET, REFRESH_TOKEN, Sandbox, run};

/// `credkit <command> --credentials <file> --token-uri <server> --cache <dir> <extra...>`.
fn cached(sandbox: &Sandbox, server: &FakeTokenServer, command: &str, extra: &[&str]) -> Command {
    // Written by the test once: rewriting it here would race with the processes reading it.
    let file = sandbox.path("authorized_user.json");
    let mut args = vec![
        command.to_owned(),
        "--credentials".to_owned(),
        file.display().to_string(),
        "--token-uri".to_owned(),
        server.token_url(),
        "--cache".to_owned(),
        cache_dir(sandbox).display().to_string(),
    ];
    args.extend(extra.iter().map(|&a| a.to_owned()));
    sandbox.credkit(args)
}

fn cache_dir(sandbox: &Sandbox) -> PathBuf {
    sandbox.path("cache")
}

/// The files in `dir`, by name.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The one record in the cache, as JSON.
fn record(sandbox: &Sandbox) -> (PathBuf, Value) {
    let dir = cache_dir(sandbox);
    let name = files(&dir)
        .into_iter()
        .find(|n| Path::new(n).extension().is_some_and(|e| e == "json"))
        .expect("a cached record");
    let path = dir.join(name);
    let json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    (path, json)
}

/// Starts the command; it runs alongside the test.
fn start(mut command: Command) -> Child {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for every child, off the runtime so the server keeps answering.
async fn finish(children: Vec<Child>) -> Vec<std::process::Output> {
    tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_second_token_while_fresh_makes_no_request_and_info_says_so() {
    let sandbox = Sandbox::new();
    sandbox.credentials_file(&json!({}));
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::token("ya29.cached"));

    let first = run(cached(&sandbox, &server, "token", &[])).await;
    let second = run(cached(&sandbox, &server, "token", &[])).await;
    let header = run(cached(&sandbox, &server, "header", &[])).await;
    assert_eq!(first.code, Some(0), "{first:#?}");
    assert_eq!(first.stdout, "ya29.cached\n");
    assert_eq!(second.stdout, "ya29.cached\n", "{second:#?}");
    assert_eq!(header.stdout, "authorization: Bearer ya29.cached\n");
    assert_eq!(server.request_count(), 1, "the cached token was not used");

    let info = run(cached(&sandbox, &server, "info", &[])).await;
    assert_eq!(info.code, Some(0), "{info:#?}");
    info.assert_no_secret(&["ya29.cached", CLIENT_SECRET, REFRESH_TOKEN]);
    let info: Value = serde_json::from_str(&info.stdout).unwrap();
    assert_eq!(info["cache"], cache_dir(&sandbox).display().to_string());
    assert_eq!(info["token_from_cache"], true);
    assert_eq!(info["token_state"], "fresh");
    assert_eq!(server.request_count(), 1);

    // No secret in a file name; the files are private.
    let names = files(&cache_dir(&sandbox));
    assert_eq!(names.len(), 2, "{names:?}"); // the record and its lock file
    for name in &names {
        for secret in ["ya29.cached", CLIENT_SECRET, REFRESH_TOKEN] {
            assert!(!name.contains(secret), "{name}");
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let dir = cache_dir(&sandbox);
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        for name in names {
            let mode = std::fs::metadata(dir.join(&name)).unwrap().mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }
}

#[tokio::test]
async fn no_cache_makes_a_request_each_time_and_writes_nothing() {
    let sandbox = Sandbox::new();
    sandbox.credentials_file(&json!({}));
    let server = FakeTokenServer::start().await.unwrap();
    for _ in 0..2 {
        let out = run(cached(&sandbox, &server, "token", &["--no-cache"])).await;
        // --cache and --no-cache together are a usage error.
        assert_eq!(out.code, Some(2), "{out:#?}");
    }
    let file = sandbox.credentials_file(&json!({}));
    for _ in 0..2 {
        let out = run(sandbox.credkit([
            "token",
            "--credentials",
            &file.display().to_string(),
            "--token-uri",
            &server.token_url(),
            "--no-cache",
        ]))
        .await;
        assert_eq!(out.code, Some(0), "{out:#?}");
    }
    assert_eq!(server.request_count(), 2);
    let info = run(sandbox.credkit([
        "info",
        "--credentials",
        &file.display().to_string(),
        "--token-uri",
        &server.token_url(),
        "--no-cache",
    ]))
    .await;
    let info: Value = serde_json::from_str(&info.stdout).unwrap();
    assert_eq!(info["cache"], Value::Null);
    assert_eq!(info["token_from_cache"], false);
    assert!(files(&sandbox.path("home/.cache/credkit")).is_empty());
}

#[tokio::test]
async fn the_default_cache_is_the_users_cache_directory() {
    let sandbox = Sandbox::new();
    sandbox.credentials_file(&json!({}));
    let server = FakeTokenServer::start().await.unwrap();
    let file = sandbox.credentials_file(&json!({}));
    let token = || {
        let mut command = sandbox.credkit([
            "token",
            "--credentials",
            &file.display().to_string(),
            "--token-uri",
            &server.token_url(),
        ]);
        command.env("XDG_CACHE_HOME", sandbox.path("xdg"));
        command
    };
    let first = run(token()).await;
    let second = run(token()).await;
    assert_eq!(first.stdout, second.stdout, "{second:#?}");
    assert_eq!(server.request_count(), 1);
    #[cfg(target_os = "linux")]
    assert_eq!(files(&sandbox.path("xdg/credkit")).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_on_an_empty_cache_make_one_request() {
    let sandbox = Sandbox::new();
    sandbox.credentials_file(&json!({}));
    let server = FakeTokenServer::start().await.unwrap();
    // A slow first reply, so that all eight are running while the first refresh is in flight.
    server.push_replies([
        Reply::token("ya29.shared").with_delay(std::time::Duration::from_millis(300)),
        Reply::token("ya29.a-second-request"),
    ]);
    let children: Vec<Child> = (0..8)
        .map(|_| start(cached(&sandbox, &server, "token", &[])))
        .collect();
    let outputs = finish(children).await;
    for out in &outputs {
        assert!(out.status.success(), "{out:#?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ya29.shared\n");
    }
    assert_eq!(server.request_count(), 1, "one refresh for eight processes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_lease_holder_is_taken_over_and_no_rotation_is_lost() {
    let sandbox = Sandbox::new();
    sandbox.credentials_file(&json!({}));
    let server = FakeTokenServer::start().await.unwrap();
    server.set_strict_rotation(REFRESH_TOKEN);
    // The first refresh never gets an answer (the holder is killed while it waits); then every
    // refresh is answered, each rotating the refresh token.
    server.push_replies([Reply::stall(), Reply::default_token()]);

    let mut holder = start(cached(&sandbox, &server, "token", &[]));
    // The holder took the lease and its request is at the server.
    server.wait_for_requests(1).await;
    let waiters: Vec<Child> = (0..7)
        .map(|_| start(cached(&sandbox, &server, "token", &[])))
        .collect();
    holder.kill().unwrap();
    holder.wait().unwrap();

    let outputs = finish(waiters).await;
    let first = String::from_utf8_lossy(&outputs[0].stdout).into_owned();
    for out in &outputs {
        assert!(out.status.success(), "{out:#?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), first);
    }
    assert_eq!(server.request_count(), 2, "one taker-over, no more");
    let (path, stored) = record(&sandbox);
    let valid = server.valid_refresh_token().unwrap();
    assert_eq!(valid, "fake-rotated-refresh-token-1");
    assert_eq!(
        stored["refresh_token"],
        valid.as_str(),
        "the rotation was lost"
    );

    // The token goes stale: the next run must refresh with the rotated refresh token, which it
    // only has from the cache (the file still holds the first one, now refused).
    let mut stale = stored.clone();
    stale["expiry"] = "2000-01-01T00:00:00Z".into();
    std::fs::write(&path, stale.to_string()).unwrap();
    let next = run(cached(&sandbox, &server, "token", &[])).await;
    assert_eq!(next.code, Some(0), "{next:#?}");
    assert_eq!(server.request_count(), 3);
    let last = server.last_request().unwrap();
    assert_eq!(last.form_value("refresh_token"), Some(valid.as_str()));
    let (_, stored) = record(&sandbox);
    assert_eq!(stored["refresh_token"], "fake-rotated-refresh-token-2");
}
