//! `credkit metadata-server`: the built binary serving the metadata server's interface from an
//! `authorized_user` file refreshed against `FakeTokenServer`, asked over HTTP by reqwest and
//! by Google's own Python library (google-auth).
// Test helpers outside `#[test]` functions: a failure must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, Stdio};

use credkit_testing::{FakeMetadataServer, FakeTokenServer, Reply};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, Run, Sandbox, run};

const EMAIL: &str = "user@example.com";
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// A running `credkit metadata-server` and the `host:port` it printed.
struct Server {
    child: Child,
    host: String,
    stdout: String,
}

impl Server {
    /// Starts `credkit metadata-server --port 0 --credentials F --token-uri URL <extra>` in
    /// `sandbox` and waits for its environment lines (a real condition: the lines on its
    /// standard output; a server that dies instead ends the pipe and fails here).
    async fn start(sandbox: &Sandbox, tokens: &FakeTokenServer, extra: &[&str]) -> Self {
        let file = sandbox.credentials_file(&json!({ "account": EMAIL }));
        let mut args = vec![
            "metadata-server".to_owned(),
            "--port".to_owned(),
            "0".to_owned(),
            "--credentials".to_owned(),
            file.display().to_string(),
            "--token-uri".to_owned(),
            tokens.token_url(),
        ];
        args.extend(extra.iter().map(|&a| a.to_owned()));
        Self::spawn(sandbox.credkit(args)).await
    }

    async fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines, stdout) = tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stdout);
            let mut lines = String::new();
            for _ in 0..2 {
                reader.read_line(&mut lines).unwrap();
            }
            (lines, reader)
        })
        .await
        .unwrap();
        child.stdout = Some(stdout.into_inner());
        let host = lines
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("GCE_METADATA_HOST="))
            .unwrap_or_else(|| panic!("no environment lines: {lines:?}"))
            .to_owned();
        assert_eq!(
            lines,
            format!("GCE_METADATA_HOST={host}\nGCE_METADATA_IP={host}\n")
        );
        Self {
            child,
            host,
            stdout: lines,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.host)
    }

    /// `GET path` with `Metadata-Flavor: Google`.
    async fn get(&self, path: &str) -> reqwest::Response {
        client()
            .get(self.url(path))
            .header("Metadata-Flavor", "Google")
            .send()
            .await
            .unwrap()
    }

    async fn text(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.text().await.unwrap()
    }

    async fn json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json");
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    }

    /// Sends SIGTERM and waits for the exit; what it printed in all.
    async fn stop(mut self) -> Run {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        tokio::task::spawn_blocking(move || {
            let mut stdout = self.stdout;
            self.child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut stdout)
                .unwrap();
            let mut stderr = String::new();
            self.child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            let status = self.child.wait().unwrap();
            Run {
                code: status.code(),
                stdout,
                stderr,
            }
        })
        .await
        .unwrap()
    }
}

/// A client that never uses a proxy.
fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

const SA: &str = "/computeMetadata/v1/instance/service-accounts";

#[tokio::test]
async fn serves_tokens_the_account_and_the_project() {
    let sandbox = Sandbox::new();
    let tokens = FakeTokenServer::start().await.unwrap();
    tokens.push_reply(Reply::token("ya29.meta-default"));
    let server = Server::start(
        &sandbox,
        &tokens,
        &[
            "--scope",
            SCOPE,
            "--project",
            "proj-1",
            "--numeric-project-id",
            "42",
        ],
    )
    .await;
    assert!(server.host.starts_with("127.0.0.1:"), "{}", server.host);

    // The probe, without the header, answered with it.
    let probe = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(probe.status(), StatusCode::OK);
    assert_eq!(probe.headers()["metadata-flavor"], "Google");

    for account in ["default", EMAIL] {
        let token = server.json(&format!("{SA}/{account}/token")).await;
        assert_eq!(token["access_token"], "ya29.meta-default");
        assert_eq!(token["token_type"], "Bearer");
        let left = token["expires_in"].as_i64().unwrap();
        assert!((1..=3600).contains(&left), "{left}");
    }
    // One refresh: the rest came from the cached token.
    assert_eq!(tokens.request_count(), 1);
    assert_eq!(
        tokens.last_request().unwrap().form_value("scope"),
        Some(SCOPE)
    );
    // google-auth asks again with the scopes the account listed: the same token.
    let token = server
        .json(&format!("{SA}/default/token?scopes={SCOPE}"))
        .await;
    assert_eq!(token["access_token"], "ya29.meta-default");
    assert_eq!(tokens.request_count(), 1);

    assert_eq!(server.text(&format!("{SA}/default/email")).await, EMAIL);
    assert_eq!(
        server.text(&format!("{SA}/default/scopes")).await,
        format!("{SCOPE}\n")
    );
    assert_eq!(
        server.text(&format!("{SA}/")).await,
        format!("default/\n{EMAIL}/\n")
    );
    let info = json!({"aliases": ["default"], "email": EMAIL, "scopes": [SCOPE]});
    assert_eq!(
        server.json(&format!("{SA}/default/?recursive=true")).await,
        info
    );
    assert_eq!(
        server.json(&format!("{SA}/?recursive=true")).await,
        json!({"default": info, EMAIL: info})
    );
    assert_eq!(
        server.text("/computeMetadata/v1/project/project-id").await,
        "proj-1"
    );
    assert_eq!(
        server
            .text("/computeMetadata/v1/project/numeric-project-id")
            .await,
        "42"
    );
    assert_eq!(
        server
            .text("/computeMetadata/v1/universe/universe-domain")
            .await,
        "googleapis.com"
    );
    let unknown = server.get("/computeMetadata/v1/instance/zone").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    let out = server.stop().await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stderr, "");
    out.assert_no_secret(&["ya29.meta-default", CLIENT_SECRET, REFRESH_TOKEN]);
}

#[tokio::test]
async fn other_scopes_get_a_token_of_their_own() {
    let sandbox = Sandbox::new();
    let tokens = FakeTokenServer::start().await.unwrap();
    // The fake plays its replies in order (the last one repeats).
    tokens.push_replies([
        Reply::token("ya29.meta-default"),
        Reply::token("ya29.meta-other"),
    ]);
    let server = Server::start(&sandbox, &tokens, &["--scope", SCOPE]).await;
    let token = server.json(&format!("{SA}/default/token")).await;
    assert_eq!(token["access_token"], "ya29.meta-default");

    let path = format!("{SA}/default/token?scopes=scope-b,scope-a");
    let token = server.json(&path).await;
    assert_eq!(token["access_token"], "ya29.meta-other");
    assert_eq!(
        tokens.last_request().unwrap().form_value("scope"),
        Some("scope-a scope-b")
    );
    // Kept: the same set (in any order) is not fetched again, nor is the default.
    let token = server
        .json(&format!("{SA}/default/token?scopes=scope-a,scope-b"))
        .await;
    assert_eq!(token["access_token"], "ya29.meta-other");
    let token = server.json(&format!("{SA}/default/token")).await;
    assert_eq!(token["access_token"], "ya29.meta-default");
    assert_eq!(tokens.request_count(), 2);

    let out = server.stop().await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    out.assert_no_secret(&["ya29.meta-default", "ya29.meta-other", CLIENT_SECRET]);
}

#[tokio::test]
async fn id_tokens_for_an_audience() {
    let sandbox = Sandbox::new();
    let tokens = FakeTokenServer::start().await.unwrap();
    let id_token = jwt(&json!({
        "aud": CLIENT_ID,
        "iat": time::OffsetDateTime::now_utc().unix_timestamp(),
        "exp": time::OffsetDateTime::now_utc().unix_timestamp() + 3600,
    }));
    tokens.push_reply(Reply::json(
        200,
        json!({
            "access_token": "ya29.with-id",
            "id_token": id_token,
            "expires_in": 3600,
            "token_type": "Bearer",
        }),
    ));
    let server = Server::start(&sandbox, &tokens, &[]).await;

    let missing = server.get(&format!("{SA}/default/identity")).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let response = server
        .get(&format!(
            "{SA}/default/identity?audience=https://svc&format=full"
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), id_token);

    let out = server.stop().await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    out.assert_no_secret(&[&id_token, "ya29.with-id", CLIENT_SECRET]);
}

/// A JWT-shaped token with `claims` (unsigned: nothing here verifies it).
fn jwt(claims: &Value) -> String {
    use base64::Engine as _;
    let encode =
        |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    format!(
        "{}.{}.c2lnbmF0dXJl",
        encode(&json!({"alg": "RS256", "typ": "JWT"})),
        encode(claims)
    )
}

#[tokio::test]
async fn another_bind_address_is_printed_and_served() {
    let sandbox = Sandbox::new();
    let tokens = FakeTokenServer::start().await.unwrap();
    // Every address of 127.0.0.0/8 is on the loopback interface.
    let server = Server::start(&sandbox, &tokens, &["--bind", "127.0.0.2"]).await;
    assert!(server.host.starts_with("127.0.0.2:"), "{}", server.host);
    assert_eq!(server.text(&format!("{SA}/default/email")).await, EMAIL);
    assert_eq!(server.stop().await.code, Some(0));

    // Every interface: the address printed is the one this machine's programs reach.
    let server = Server::start(&sandbox, &tokens, &["--bind", "0.0.0.0"]).await;
    assert!(server.host.starts_with("127.0.0.1:"), "{}", server.host);
    assert_eq!(server.text(&format!("{SA}/default/email")).await, EMAIL);
    assert_eq!(server.stop().await.code, Some(0));
}

#[tokio::test]
async fn requests_as_the_real_server_refuses_them() {
    let sandbox = Sandbox::new();
    let tokens = FakeTokenServer::start().await.unwrap();
    let server = Server::start(&sandbox, &tokens, &[]).await;
    let token = format!("{SA}/default/token");

    let no_flavor = client().get(server.url(&token)).send().await.unwrap();
    assert_eq!(no_flavor.status(), StatusCode::FORBIDDEN);
    assert_eq!(no_flavor.headers()["metadata-flavor"], "Google");
    assert_eq!(
        no_flavor.text().await.unwrap(),
        "Missing Metadata-Flavor:Google header.\n"
    );
    let forwarded = client()
        .get(server.url(&token))
        .header("Metadata-Flavor", "Google")
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status(), StatusCode::FORBIDDEN);
    let post = client()
        .post(server.url(&token))
        .header("Metadata-Flavor", "Google")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    // Nothing was fetched for them.
    assert_eq!(tokens.request_count(), 0);

    let out = server.stop().await;
    assert_eq!(out.code, Some(0), "{out:#?}");
}

#[tokio::test]
async fn a_failed_refresh_is_a_5xx_and_the_server_keeps_serving() {
    let sandbox = Sandbox::new();
    let tokens = FakeTokenServer::start().await.unwrap();
    tokens.push_reply(Reply::json(
        400,
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
    ));
    let server = Server::start(&sandbox, &tokens, &["--no-retry"]).await;

    for _ in 0..2 {
        let failed = server.get(&format!("{SA}/default/token")).await;
        assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let message = failed.text().await.unwrap();
        assert!(message.contains("invalid_grant"), "{message}");
    }
    // Still serving.
    assert_eq!(server.text(&format!("{SA}/default/email")).await, EMAIL);
    let probe = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(probe.status(), StatusCode::OK);

    let out = server.stop().await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    // Each failure is one warning line with the path, never the query or a secret.
    assert_eq!(out.stderr.lines().count(), 2, "{out:#?}");
    for line in out.stderr.lines() {
        assert!(
            line.starts_with(&format!("warning: GET {SA}/default/token: 500 ")),
            "{out:#?}"
        );
    }
    out.assert_no_secret(&[CLIENT_SECRET, REFRESH_TOKEN]);
}

#[tokio::test]
async fn a_port_in_use_is_one_error_line() {
    let sandbox = Sandbox::new();
    let tokens = FakeTokenServer::start().await.unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let file = sandbox.credentials_file(&json!({}));
    let out = run(sandbox.credkit([
        "metadata-server",
        "--port",
        &port,
        "--credentials",
        &file.display().to_string(),
        "--token-uri",
        &tokens.token_url(),
    ]))
    .await;
    let message = out.assert_error();
    assert!(
        message.starts_with(&format!("could not listen on 127.0.0.1:{port}: ")),
        "{message}"
    );
    out.assert_no_secret(&[CLIENT_SECRET, REFRESH_TOKEN]);
}

#[tokio::test]
async fn bad_credentials_are_one_error_line() {
    let sandbox = Sandbox::new();
    let missing = sandbox.path("missing.json");
    let out = run(sandbox.credkit([
        "metadata-server",
        "--credentials",
        &missing.display().to_string(),
    ]))
    .await;
    let message = out.assert_error();
    assert!(message.contains("missing.json"), "{message}");
}

#[tokio::test]
async fn the_metadata_server_pointing_back_at_itself_is_refused() {
    // Application Default Credentials find the metadata server: the probe (GCE_METADATA_IP)
    // finds a fake, and data requests (GCE_METADATA_HOST) would go to the port this server
    // is told to listen on.
    let fake = FakeMetadataServer::builder().start().await.unwrap();
    let port = {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        free.local_addr().unwrap().port()
    };
    let own = format!("127.0.0.1:{port}");
    let sandbox = Sandbox::new().with_env(|env| {
        env.with_metadata_host(fake.host())
            .with_var("GCE_METADATA_HOST", own.clone())
    });
    let port = port.to_string();
    let impersonating = [
        "--impersonate-service-account",
        "sa@proj.iam.gserviceaccount.com",
    ];
    for extra in [&[][..], &impersonating[..]] {
        let mut args = vec!["metadata-server", "--port", &port];
        args.extend(extra);
        // A regression would serve (and never exit): the deadline fails the test instead of
        // hanging it, and the child is killed when its handle drops.
        let mut child = tokio::process::Command::from(sandbox.credkit(args));
        child
            .kill_on_drop(true)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let output = tokio::time::timeout(
            std::time::Duration::from_secs(120),
            child.spawn().unwrap().wait_with_output(),
        )
        .await
        .expect("the server refused to start within the deadline")
        .unwrap();
        let out = Run::of(output);
        let message = out.assert_error();
        assert!(
            message.starts_with(&format!(
                "the credentials found are the metadata server's at {own} (GCE_METADATA_HOST), which is this server"
            )),
            "{message}"
        );
    }
    // Nothing was asked of the fake but its probe.
    assert!(
        fake.requests().iter().all(|request| request.path() == "/"),
        "{:#?}",
        fake.requests()
    );
}

#[tokio::test]
async fn the_metadata_server_elsewhere_is_served() {
    let fake = FakeMetadataServer::builder()
        .with_access_token(&[], "ya29.from-upstream")
        .start()
        .await
        .unwrap();
    let sandbox = Sandbox::new().with_env(|env| env.with_metadata_host(fake.host()));
    let server = Server::spawn(sandbox.credkit(["metadata-server"])).await;
    let token = server.json(&format!("{SA}/default/token")).await;
    assert_eq!(token["access_token"], "ya29.from-upstream");
    assert_eq!(
        server.text(&format!("{SA}/default/email")).await,
        credkit_testing::FAKE_METADATA_EMAIL
    );
    assert_eq!(
        server.text("/computeMetadata/v1/project/project-id").await,
        credkit_testing::FAKE_METADATA_PROJECT
    );
    let out = server.stop().await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    out.assert_no_secret(&["ya29.from-upstream"]);
}

/// google-auth's compute-engine credentials and `google.auth.default()`, pointed at the
/// server, get the token the fake token endpoint issued, the account and the project.
const GOOGLE_AUTH_SCRIPT: &str = r#"
import hashlib, os, sys
import google.auth
import google.auth.compute_engine
import google.auth.transport.requests

request = google.auth.transport.requests.Request()
credentials = google.auth.compute_engine.Credentials()
credentials.refresh(request)
digest = lambda token: hashlib.sha256(token.encode()).hexdigest()
print("token", digest(credentials.token) == digest(os.environ["EXPECTED_TOKEN"]))
print("email", credentials.service_account_email)
print("expiry", credentials.expiry is not None)
found, project = google.auth.default()
print("default", type(found).__module__ + "." + type(found).__name__, project)
found.refresh(request)
print("default-token", found.token == os.environ["EXPECTED_TOKEN"])
"#;

#[tokio::test]
async fn google_auth_gets_its_token_from_the_server() {
    let Some(python) = credkit_testing::google_auth_python(
        "google.auth.compute_engine, google.auth.transport.requests",
    ) else {
        return;
    };
    let sandbox = Sandbox::new();
    let tokens = FakeTokenServer::start().await.unwrap();
    tokens.push_reply(Reply::token("ya29.for-python"));
    let server = Server::start(
        &sandbox,
        &tokens,
        &["--scope", SCOPE, "--project", "py-proj"],
    )
    .await;

    // Only the server's address: no GOOGLE_APPLICATION_CREDENTIALS, an empty home, and no
    // route off loopback (the tests run in a network namespace of their own).
    let env = sandbox.env();
    let mut command = Command::new(python);
    command
        .args(["-c", GOOGLE_AUTH_SCRIPT])
        .env_clear()
        .env("HOME", env.home())
        .env("CLOUDSDK_CONFIG", env.gcloud_config_dir())
        .env("GCE_METADATA_HOST", &server.host)
        .env("GCE_METADATA_IP", &server.host)
        .env("NO_PROXY", "*")
        .env("EXPECTED_TOKEN", "ya29.for-python");
    let out = run(command).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(
        out.stdout,
        format!(
            "token True\nemail {EMAIL}\nexpiry True\n\
             default google.auth.compute_engine.credentials.Credentials py-proj\n\
             default-token True\n"
        ),
        "{out:#?}"
    );
    // One refresh served every request.
    assert_eq!(tokens.request_count(), 1);

    let out = server.stop().await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    out.assert_no_secret(&["ya29.for-python", CLIENT_SECRET, REFRESH_TOKEN]);
}
