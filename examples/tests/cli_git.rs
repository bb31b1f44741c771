//! `credkit git-credential` (and `git-credential-credkit`): git's credential helper, run by a
//! real `git clone` against a loopback git server (git's "dumb" HTTP protocol: the files of a
//! bare repository) that demands Basic auth with the token the fake token endpoint issued;
//! and the protocol's edge cases, run directly. Nothing leaves loopback; no gcloud runs.
//!
//! Without git on PATH the git tests print `SKIPPED: git not installed` and pass, unless
//! `CREDKIT_REQUIRE_GIT=1`, when they fail.
#![allow(clippy::unwrap_used, clippy::panic, clippy::print_stderr)]

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use credkit_testing::{FakeTokenServer, JwtBearerCheck, Reply, TestKey};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use support::{CLIENT_SECRET, REFRESH_TOKEN, Run, Sandbox, run, run_with_stdin};
use tokio::net::TcpListener;

const TOKEN: &str = "ya29.git-helper-test-token";
const EMAIL: &str = "robot@credkit-test.iam.gserviceaccount.com";
const GOOGLE_GET: &str = "protocol=https\nhost=source.developers.google.com\npath=p/x/r/repo\n\n";

// ===== a git server on loopback =====

/// A loopback server of a bare repository's files (git's dumb HTTP protocol) that answers
/// 401 unless the request carries Basic auth whose password is `password`. It records the
/// user and password of every authorization it saw.
struct GitServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<(String, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

struct Served {
    root: PathBuf,
    password: String,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl GitServer {
    async fn start(root: &Path, password: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let served = Arc::new(Served {
            root: root.to_owned(),
            password: password.to_owned(),
            seen: Arc::clone(&seen),
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let served = Arc::clone(&served);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let response = answer(&request, &served);
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, seen, task }
    }

    /// The host git names in its credential request: `127.0.0.1:PORT`.
    fn host(&self) -> String {
        self.addr.to_string()
    }

    fn url(&self) -> String {
        format!("http://{}/repo.git", self.addr)
    }

    fn seen(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(request: &Request<Incoming>, served: &Served) -> Response<Full<Bytes>> {
    let credentials = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|pair| {
            pair.split_once(':')
                .map(|(user, password)| (user.to_owned(), password.to_owned()))
        });
    if let Some(pair) = &credentials {
        served.seen.lock().unwrap().push(pair.clone());
    }
    if credentials.is_none_or(|(_, password)| password != served.password) {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("www-authenticate", "Basic realm=\"credkit-test\"")
            .body(Full::new(Bytes::new()))
            .unwrap();
    }
    let relative = request.uri().path().trim_start_matches('/');
    if relative.split('/').any(|part| part == "..") {
        return status(StatusCode::FORBIDDEN);
    }
    match std::fs::read(served.root.join(relative)) {
        Ok(bytes) => Response::builder()
            .header("content-type", "application/octet-stream")
            .body(Full::new(Bytes::from(bytes)))
            .unwrap(),
        Err(_) => status(StatusCode::NOT_FOUND),
    }
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

// ===== git itself =====

/// git on the test's PATH; `None` (after a loud `SKIPPED` line) when it is not installed,
/// unless `CREDKIT_REQUIRE_GIT=1`.
fn git_program() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("git"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CREDKIT_REQUIRE_GIT").as_deref() != Ok("1"),
            "git is not installed and CREDKIT_REQUIRE_GIT=1"
        );
        // Past the harness's capture: a skip must be seen.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"SKIPPED: git is not installed (apt-get install git); set CREDKIT_REQUIRE_GIT=1 to fail instead\n",
        );
    }
    found
}

/// git in the sandbox: its `HOME`, no system configuration, no prompts, no askpass, and a
/// `PATH` of the sandbox's `bin` folder (where a `git-credential-credkit` link may be) and
/// git's own folder.
fn git(sandbox: &Sandbox, program: &Path) -> Command {
    let mut command = sandbox.env().command(program);
    let bin = sandbox.env().dir().join("bin");
    let path = std::env::join_paths([bin.as_path(), program.parent().unwrap()]).unwrap();
    command
        .env("PATH", path)
        .env("HOME", sandbox.env().home())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_ASKPASS")
        .env_remove("SSH_ASKPASS");
    command
}

/// A bare repository with one commit, ready to serve over dumb HTTP, in `dir/repo.git`.
fn make_repo(sandbox: &Sandbox, program: &Path, dir: &Path) {
    let work = dir.join("work");
    let step = |args: &[&str]| {
        let out = git(sandbox, program)
            .args(args)
            .env("GIT_AUTHOR_NAME", "credkit test")
            .env("GIT_AUTHOR_EMAIL", "test@credkit.invalid")
            .env("GIT_COMMITTER_NAME", "credkit test")
            .env("GIT_COMMITTER_EMAIL", "test@credkit.invalid")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    let work_arg = work.to_str().unwrap();
    step(&["init", "-q", "-b", "main", work_arg]);
    std::fs::write(work.join("README"), "served by a test\n").unwrap();
    step(&["-C", work_arg, "add", "README"]);
    step(&["-C", work_arg, "commit", "-q", "-m", "the commit"]);
    let bare = dir.join("repo.git");
    step(&["clone", "-q", "--bare", work_arg, bare.to_str().unwrap()]);
    step(&["-C", bare.to_str().unwrap(), "update-server-info"]);
}

/// Clones the server's repository with `helper` as git's only credential helper, into
/// `dest`.
async fn clone(sandbox: &Sandbox, program: &Path, helper: &str, url: &str, dest: &Path) -> Run {
    let mut command = git(sandbox, program);
    command.args([
        "-c",
        "credential.helper=",
        "-c",
        &format!("credential.helper={helper}"),
        "clone",
        "-q",
        url,
        dest.to_str().unwrap(),
    ]);
    run(command).await
}

/// An `authorized_user` file, and the fake endpoint that issues [`TOKEN`] for it.
async fn user_setup(sandbox: &Sandbox) -> (FakeTokenServer, PathBuf) {
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::token(TOKEN));
    let file = sandbox.credentials_file(&serde_json::json!({}));
    (server, file)
}

#[tokio::test]
async fn git_clones_with_the_helper_given_as_a_command() {
    let Some(program) = git_program() else {
        return;
    };
    let sandbox = Sandbox::new();
    let (tokens, file) = user_setup(&sandbox).await;
    let repos = tempfile::tempdir().unwrap();
    make_repo(&sandbox, &program, repos.path());
    let server = GitServer::start(repos.path(), TOKEN).await;
    let helper = format!(
        "!'{}' git-credential --host {} --credentials '{}' --token-uri {} --no-cache",
        env!("CARGO_BIN_EXE_credkit"),
        server.host(),
        file.display(),
        tokens.token_url()
    );
    let dest = sandbox.path("clone");
    let out = clone(&sandbox, &program, &helper, &server.url(), &dest).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(
        std::fs::read_to_string(dest.join("README")).unwrap(),
        "served by a test\n"
    );
    // Every authorization git sent carried the endpoint's token, as oauth2accesstoken.
    let seen = server.seen();
    assert!(!seen.is_empty());
    for (user, password) in seen {
        assert_eq!(
            (user.as_str(), password.as_str()),
            ("oauth2accesstoken", TOKEN)
        );
    }
    assert!(tokens.request_count() >= 1);
    out.assert_no_secret(&[TOKEN, REFRESH_TOKEN, CLIENT_SECRET]);
}

#[cfg(unix)]
#[tokio::test]
async fn git_clones_with_the_helper_linked_as_git_credential_credkit() {
    let Some(program) = git_program() else {
        return;
    };
    let key = TestKey::generate().unwrap();
    let tokens = FakeTokenServer::start().await.unwrap();
    tokens.accept_jwt_bearer(JwtBearerCheck::new(&key, EMAIL));
    tokens.push_reply(Reply::token(TOKEN));
    let sandbox = Sandbox::new();
    let key_file = sandbox.write(
        "key.json",
        &key.service_account_json(EMAIL, &tokens.token_url()),
    );
    let repos = tempfile::tempdir().unwrap();
    make_repo(&sandbox, &program, repos.path());
    let server = GitServer::start(repos.path(), TOKEN).await;
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_credkit"),
        sandbox
            .env()
            .dir()
            .join("bin")
            .join("git-credential-credkit"),
    )
    .unwrap();
    let sandbox = sandbox.with_env(|env| {
        env.with_var(
            "GOOGLE_APPLICATION_CREDENTIALS",
            key_file.display().to_string(),
        )
        .with_var(
            "CREDKIT_HELPER_HOSTS",
            format!("git.example.com,{}", server.host()),
        )
    });
    let dest = sandbox.path("clone");
    let out = clone(&sandbox, &program, "credkit", &server.url(), &dest).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(dest.join("README").is_file());
    // The service account's e-mail address is the user name.
    let seen = server.seen();
    assert!(!seen.is_empty());
    for (user, password) in seen {
        assert_eq!((user.as_str(), password.as_str()), (EMAIL, TOKEN));
    }
    out.assert_no_secret(&[TOKEN, key.private_key_pem()]);
}

#[tokio::test]
async fn git_gets_no_token_for_a_host_that_is_not_listed() {
    let Some(program) = git_program() else {
        return;
    };
    let sandbox = Sandbox::new();
    let (tokens, file) = user_setup(&sandbox).await;
    let repos = tempfile::tempdir().unwrap();
    make_repo(&sandbox, &program, repos.path());
    let server = GitServer::start(repos.path(), TOKEN).await;
    // No --host: 127.0.0.1 is not a Google git host.
    let helper = format!(
        "!'{}' git-credential --credentials '{}' --token-uri {} --no-cache",
        env!("CARGO_BIN_EXE_credkit"),
        file.display(),
        tokens.token_url()
    );
    let dest = sandbox.path("clone");
    let out = clone(&sandbox, &program, &helper, &server.url(), &dest).await;
    assert_ne!(out.code, Some(0), "{out:#?}");
    assert!(!dest.join("README").exists());
    assert!(server.seen().iter().all(|(_, password)| password != TOKEN));
    assert_eq!(tokens.request_count(), 0);
    out.assert_no_secret(&[TOKEN]);
}

// ===== the protocol, run directly =====

fn helper_args(file: &Path, tokens: &FakeTokenServer, operation: &str) -> Vec<String> {
    vec![
        "git-credential".to_owned(),
        "--credentials".to_owned(),
        file.display().to_string(),
        "--token-uri".to_owned(),
        tokens.token_url(),
        "--no-cache".to_owned(),
        operation.to_owned(),
    ]
}

/// The answer's `key=value` lines, in order.
fn lines(out: &Run) -> Vec<(String, String)> {
    out.stdout
        .lines()
        .map(|line| {
            let (key, value) = line.split_once('=').unwrap();
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn get_answers_a_google_host_with_the_token_and_its_expiry() {
    let sandbox = Sandbox::new();
    let (tokens, file) = user_setup(&sandbox).await;
    let before = time::OffsetDateTime::now_utc().unix_timestamp();
    let out = run_with_stdin(
        sandbox.credkit(helper_args(&file, &tokens, "get")),
        GOOGLE_GET,
    )
    .await;
    let after = time::OffsetDateTime::now_utc().unix_timestamp();
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stderr, "");
    let answer = lines(&out);
    let keys: Vec<&str> = answer.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["username", "password", "password_expiry_utc"]);
    assert_eq!(answer[0].1, "oauth2accesstoken");
    assert_eq!(answer[1].1, TOKEN);
    // The token's expiry: expires_in (3600 s) from the refresh.
    let expiry: i64 = answer[2].1.parse().unwrap();
    assert!(
        (before + 3600..=after + 3600).contains(&expiry),
        "{expiry} not in {before}+3600..={after}+3600"
    );
    assert_eq!(tokens.request_count(), 1);

    // The account's e-mail address, when the file names it, is the user name.
    let file = sandbox.credentials_file(&serde_json::json!({"account": "me@example.com"}));
    let input = "protocol=https\nhost=chromium.googlesource.com\n";
    let out = run_with_stdin(sandbox.credkit(helper_args(&file, &tokens, "get")), input).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(
        lines(&out)[0],
        ("username".to_owned(), "me@example.com".to_owned())
    );
}

#[tokio::test]
async fn get_answers_nothing_for_other_hosts_and_loads_no_credentials() {
    let sandbox = Sandbox::new();
    let (tokens, file) = user_setup(&sandbox).await;
    for input in [
        "protocol=https\nhost=github.com\n\n",
        // Plain http to a Google host: anyone on the path could read the token.
        "protocol=http\nhost=source.developers.google.com\n\n",
        "protocol=ssh\nhost=source.developers.google.com\n\n",
        "host=source.developers.google.com\n\n",
        "url=https://evil.example/x.googlesource.com\n\n",
        "",
    ] {
        let out = run_with_stdin(sandbox.credkit(helper_args(&file, &tokens, "get")), input).await;
        assert_eq!(out.code, Some(0), "{input:?}: {out:#?}");
        assert_eq!(out.stdout, "", "{input:?}");
        assert_eq!(out.stderr, "", "{input:?}");
    }
    // Even a missing credentials file is not looked at.
    let missing = sandbox.path("missing.json");
    let out = run_with_stdin(
        sandbox.credkit(helper_args(&missing, &tokens, "get")),
        "protocol=https\nhost=github.com\n",
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(tokens.request_count(), 0);
}

#[tokio::test]
async fn store_erase_and_other_operations_are_read_and_ignored() {
    let sandbox = Sandbox::new();
    let (tokens, file) = user_setup(&sandbox).await;
    let stored = format!("{GOOGLE_GET}username=oauth2accesstoken\npassword={TOKEN}\n");
    for operation in ["store", "erase", "capability"] {
        let out = run_with_stdin(
            sandbox.credkit(helper_args(&file, &tokens, operation)),
            stored.replace("\n\n", "\n"),
        )
        .await;
        assert_eq!(out.code, Some(0), "{operation}: {out:#?}");
        assert_eq!(out.stdout, "", "{operation}");
        assert_eq!(out.stderr, "", "{operation}");
    }
    assert_eq!(tokens.request_count(), 0);
}

#[tokio::test]
async fn malformed_input_is_one_error_line_without_what_it_held() {
    let sandbox = Sandbox::new();
    let (tokens, file) = user_setup(&sandbox).await;
    let long = format!(
        "protocol=https\nhost=source.developers.google.com\npath={}\n",
        "x".repeat(70_000)
    );
    let cases = [
        ("protocol=https\npassword hunter2\n\n".to_owned(), "line 2"),
        ("protocol=https\npassword=hunter2\0\n".to_owned(), "NUL"),
        (long, "over 65536 bytes"),
    ];
    for (input, expected) in cases {
        for operation in ["get", "store"] {
            let out = run_with_stdin(
                sandbox.credkit(helper_args(&file, &tokens, operation)),
                input.clone(),
            )
            .await;
            let message = out.assert_error();
            assert!(message.contains(expected), "{message}");
            out.assert_no_secret(&["hunter2", TOKEN]);
        }
    }
    assert_eq!(tokens.request_count(), 0);
}

#[tokio::test]
async fn a_token_endpoint_that_cannot_be_reached_is_one_error_line() {
    let sandbox = Sandbox::new();
    let command = sandbox.credkit_unreachable(&["git-credential", "get"]);
    let out = run_with_stdin(command, GOOGLE_GET).await;
    let message = out.assert_error();
    assert!(!message.is_empty());
    out.assert_no_secret(&[REFRESH_TOKEN, CLIENT_SECRET]);
}

#[tokio::test]
async fn a_bad_host_pattern_is_an_error() {
    let sandbox = Sandbox::new();
    let (tokens, file) = user_setup(&sandbox).await;
    let mut args = helper_args(&file, &tokens, "get");
    args.insert(1, "--host=a b".to_owned());
    let out = run_with_stdin(sandbox.credkit(args), GOOGLE_GET).await;
    assert!(out.assert_error().contains("host pattern"));
    let sandbox = sandbox.with_env(|env| env.with_var("CREDKIT_HELPER_HOSTS", "ok.example,*"));
    let out = run_with_stdin(
        sandbox.credkit(helper_args(&file, &tokens, "get")),
        GOOGLE_GET,
    )
    .await;
    assert!(out.assert_error().contains("'*' is not a host pattern"));
    // store and erase need no hosts: they succeed all the same.
    let out = run_with_stdin(
        sandbox.credkit(helper_args(&file, &tokens, "store")),
        GOOGLE_GET,
    )
    .await;
    assert_eq!((out.code, out.stderr.as_str()), (Some(0), ""), "{out:#?}");
    assert_eq!(tokens.request_count(), 0);
}

#[cfg(unix)]
#[tokio::test]
async fn the_link_name_runs_the_helper_with_the_hosts_of_the_variable() {
    let sandbox = Sandbox::new();
    let (tokens, file) = user_setup(&sandbox).await;
    let link = sandbox.path("git-credential-credkit");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_credkit"), &link).unwrap();
    let sandbox = sandbox.with_env(|env| env.with_var("CREDKIT_HELPER_HOSTS", "git.example.com"));
    let helper = |operation: &str| {
        let mut command = sandbox.env().command(&link);
        command.args([
            "--credentials",
            file.to_str().unwrap(),
            "--token-uri",
            &tokens.token_url(),
            "--no-cache",
            operation,
        ]);
        command
    };
    let out = run_with_stdin(helper("get"), "protocol=https\nhost=git.example.com\n").await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(lines(&out)[1], ("password".to_owned(), TOKEN.to_owned()));
    let out = run_with_stdin(helper("get"), "protocol=https\nhost=other.example.com\n").await;
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), ""));
}
