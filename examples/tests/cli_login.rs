//! `credkit login` and `credkit revoke`: the built binary signing in against
//! `FakeAuthorizationServer`, with the test as the browser (the authorization URL read from
//! standard error, its redirect followed by hand to the login's loopback listener), then the
//! file it wrote used by `credkit token` and revoked by `credkit revoke`.
// Test helpers outside `#[test]` functions: a failure must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use credkit_testing::{
    AuthorizationRequest, AuthorizeReply, DevicePoll, FAKE_CLIENT_ID, FAKE_CLIENT_SECRET,
    FAKE_USER_CODE, FakeAuthorizationServer, FakeAuthorizationServerBuilder, TokenReply,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use support::login::{LoginProcess, assert_login_error, entries, get, query_param, sign_in};
use support::{Run, Sandbox, run};

const DEFAULT_SCOPES: &str = "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/cloud-platform";

/// A sandbox with the fake's `client_secret.json` in it.
struct Setup {
    sandbox: Sandbox,
    server: FakeAuthorizationServer,
    secrets: PathBuf,
}

impl Setup {
    async fn new(builder: FakeAuthorizationServerBuilder) -> Self {
        let server = builder.start().await.unwrap();
        let sandbox = Sandbox::new();
        let secrets = sandbox.write(
            "client_secret.json",
            &server.client_secrets_json("installed"),
        );
        Self {
            sandbox,
            server,
            secrets,
        }
    }

    async fn plain() -> Self {
        Self::new(FakeAuthorizationServer::builder()).await
    }

    /// `credkit login --client-secrets <the fake's> <args>`.
    fn login(&self, args: &[&str]) -> Command {
        let mut command = self.sandbox.credkit(["login", "--client-secrets"]);
        command.arg(&self.secrets).args(args);
        command
    }

    /// Where Application Default Credentials look in the sandbox.
    fn adc_file(&self) -> PathBuf {
        self.sandbox
            .env()
            .gcloud_config_dir()
            .join("application_default_credentials.json")
    }

    /// A whole browser sign-in with `args`, which must succeed; returns the run.
    async fn signed_in(&self, args: &[&str]) -> Run {
        let mut login = LoginProcess::spawn(self.login(args));
        let url = login.authorization_url().await;
        let page = sign_in(&url).await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
        assert!(page.body.contains("You can close this tab"), "{page:?}");
        let out = login.finish().await;
        assert_eq!(out.code, Some(0), "{out:#?}");
        assert_eq!(out.stdout, "", "{out:#?}");
        out
    }

    /// The requests the fake received at `path`.
    fn requests_to(&self, path: &str) -> Vec<AuthorizationRequest> {
        self.server
            .requests()
            .into_iter()
            .filter(|request| request.path() == path)
            .collect()
    }

    /// The secrets no output may hold: the client secret and every token and code the fake
    /// issued or saw.
    fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![FAKE_CLIENT_SECRET.to_owned(), "fake-code-".to_owned()];
        secrets.extend(self.server.issued_refresh_tokens());
        secrets.push("fake-user-access-token".to_owned());
        secrets.push("fake-device-code".to_owned());
        secrets
    }

    fn assert_no_secret(&self, out: &Run) {
        let secrets = self.secrets();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        out.assert_no_secret(&secrets);
    }
}

/// The file at `path` as JSON.
fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The authorization request as the browser sent it (every member Google needs, the prompt
/// and the hint), and the code exchange: the same redirect URI, the client, and the verifier
/// whose S256 is the challenge.
fn assert_the_wire(setup: &Setup) -> u16 {
    let authorize = setup.requests_to("/o/oauth2/auth");
    assert_eq!(authorize.len(), 1);
    let request = &authorize[0];
    let redirect_uri = request.param("redirect_uri").unwrap().to_owned();
    let port: u16 = redirect_uri
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(port, 0);
    assert_eq!(request.param("response_type"), Some("code"));
    assert_eq!(request.param("client_id"), Some(FAKE_CLIENT_ID));
    assert_eq!(request.param("scope"), Some(DEFAULT_SCOPES));
    assert!(request.param("state").is_some_and(|s| s.len() >= 32));
    let challenge = request.param("code_challenge").unwrap().to_owned();
    assert_eq!(challenge.len(), 43);
    assert_eq!(request.param("code_challenge_method"), Some("S256"));
    assert_eq!(request.param("access_type"), Some("offline"));
    assert_eq!(request.param("prompt"), Some("consent"));
    assert_eq!(request.param("login_hint"), Some("user@example.com"));

    let token = setup.requests_to("/token");
    assert_eq!(token.len(), 1);
    let exchange = &token[0];
    assert_eq!(exchange.method(), "POST");
    assert_eq!(exchange.param("grant_type"), Some("authorization_code"));
    assert!(exchange.param("code").unwrap().starts_with("fake-code-"));
    assert_eq!(exchange.param("redirect_uri"), Some(redirect_uri.as_str()));
    assert_eq!(exchange.param("client_id"), Some(FAKE_CLIENT_ID));
    assert_eq!(exchange.param("client_secret"), Some(FAKE_CLIENT_SECRET));
    let verifier = exchange.param("code_verifier").unwrap();
    assert_eq!(
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        challenge
    );
    port
}

#[tokio::test]
async fn a_browser_sign_in_writes_application_default_credentials_that_refresh() {
    let setup = Setup::plain().await;
    let out = setup
        .signed_in(&[
            "--no-browser",
            "--prompt",
            "consent",
            "--login-hint",
            "user@example.com",
        ])
        .await;
    let adc = setup.adc_file();
    let refresh_tokens = setup.server.issued_refresh_tokens();
    assert_eq!(refresh_tokens.len(), 1);

    // The file: gcloud's members exactly, with the fake's token endpoint; mode 0600; alone.
    assert_eq!(
        read_json(&adc),
        json!({
            "account": "",
            "client_id": FAKE_CLIENT_ID,
            "client_secret": FAKE_CLIENT_SECRET,
            "refresh_token": refresh_tokens[0],
            "token_uri": setup.server.token_url(),
            "type": "authorized_user",
            "universe_domain": "googleapis.com",
        })
    );
    #[cfg(unix)]
    assert_eq!(support::login::mode(&adc), 0o600);
    assert_eq!(
        entries(adc.parent().unwrap()),
        ["application_default_credentials.json"]
    );

    // What it said.
    assert!(
        out.stderr
            .contains("Open this URL in a browser on this machine"),
        "{out:#?}"
    );
    assert!(out.stderr.contains("ssh -L "), "{out:#?}");
    assert!(
        out.stderr
            .contains("Waiting for the browser to come back (at most 300 s)..."),
        "{out:#?}"
    );
    assert!(
        out.stderr
            .contains(&format!("Saved the credentials to {}.\n", adc.display())),
        "{out:#?}"
    );
    assert!(
        out.stderr
            .contains(&format!("Granted scopes: {DEFAULT_SCOPES}\n")),
        "{out:#?}"
    );
    assert!(
        out.stderr.contains(
            "Application Default Credentials (and `credkit token`) now use these credentials."
        ),
        "{out:#?}"
    );
    assert!(!out.stderr.contains("warning:"), "{out:#?}");
    setup.assert_no_secret(&out);

    // The listener the browser came back to is the one the URL named.
    let port = assert_the_wire(&setup);
    assert!(
        out.stderr
            .contains(&format!("ssh -L {port}:127.0.0.1:{port} ")),
        "{out:#?}"
    );

    // `credkit token` with those Application Default Credentials refreshes at the fake.
    let token = run(setup.sandbox.credkit([
        "token",
        "--token-uri",
        &setup.server.token_url(),
        "--no-cache",
    ]))
    .await;
    assert_eq!(token.code, Some(0), "{token:#?}");
    assert!(
        token.stdout.starts_with("fake-user-access-token-"),
        "{token:#?}"
    );
    let refresh = setup.requests_to("/token");
    assert_eq!(refresh.len(), 2);
    assert_eq!(refresh[1].param("grant_type"), Some("refresh_token"));
    assert_eq!(
        refresh[1].param("refresh_token"),
        Some(refresh_tokens[0].as_str())
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_browser_is_opened_with_the_url_through_dollar_browser() {
    let setup = Setup::plain().await;
    let (script, record) = support::login::recording_browser(setup.sandbox.env().dir());
    let sandbox_browser = script.display().to_string();
    let mut command = setup.login(&["--scope", "openid", "--quota-project", "billing-project"]);
    command.env("BROWSER", sandbox_browser);
    let mut login = LoginProcess::spawn(command);
    let url = login.authorization_url().await;
    let page = sign_in(&url).await;
    assert!(page.body.contains("You can close this tab"), "{page:?}");
    let out = login.finish().await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stderr.starts_with(&format!(
            "Opening your browser; if it does not open, visit:\n\n    {url}\n"
        )),
        "{out:#?}"
    );
    // The browser program runs on its own: wait for its record (a guard, not a pause).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let opened = loop {
        let text = std::fs::read_to_string(&record).unwrap_or_default();
        if text.ends_with('\n') {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the browser was not run"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(opened, format!("{url}\n"));
    let file = read_json(&setup.adc_file());
    assert_eq!(file["quota_project_id"], "billing-project");
    assert!(out.stderr.contains("Granted scopes: openid\n"), "{out:#?}");
}

#[tokio::test]
async fn scopes_not_granted_are_a_warning() {
    let setup =
        Setup::new(FakeAuthorizationServer::builder().with_granted_scopes(["openid"])).await;
    let out = setup
        .signed_in(&["--no-browser", "--scope", "openid", "--scope", "email"])
        .await;
    assert!(out.stderr.contains("Granted scopes: openid\n"), "{out:#?}");
    assert!(
        out.stderr.contains(
            "warning: Not all requested scopes were granted by the authorization server, missing scopes email."
        ),
        "{out:#?}"
    );
    assert!(setup.adc_file().exists());
}

#[tokio::test]
async fn no_granted_scopes_are_said_plainly() {
    let setup =
        Setup::new(FakeAuthorizationServer::builder().with_granted_scopes(Vec::<String>::new()))
            .await;
    let out = setup
        .signed_in(&["--no-browser", "--scope", "openid"])
        .await;
    assert!(
        out.stderr
            .contains("The server did not say which scopes it granted.\n"),
        "{out:#?}"
    );
    assert!(!out.stderr.contains("Granted scopes:"), "{out:#?}");
}

#[tokio::test]
async fn a_relative_output_is_written_in_the_working_folder() {
    let setup = Setup::plain().await;
    let folder = setup.sandbox.path("work");
    std::fs::create_dir(&folder).unwrap();
    let mut command = setup.login(&["--no-browser", "--output", "adc.json"]);
    command.current_dir(&folder);
    let mut login = LoginProcess::spawn(command);
    let url = login.authorization_url().await;
    sign_in(&url).await;
    let out = login.finish().await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stderr.contains("Saved the credentials to adc.json.\n"),
        "{out:#?}"
    );
    assert_eq!(entries(&folder), ["adc.json"]);
    assert_eq!(
        read_json(&folder.join("adc.json"))["type"],
        "authorized_user"
    );
}

#[tokio::test]
async fn an_existing_file_is_kept_without_force_and_replaced_with_it() {
    let setup = Setup::plain().await;
    let output = setup.sandbox.path("mine/adc.json");
    std::fs::create_dir_all(output.parent().unwrap()).unwrap();
    std::fs::write(&output, "existing").unwrap();
    let output_arg = output.display().to_string();

    let refused = run(setup.login(&["--no-browser", "--output", &output_arg])).await;
    let message = refused.assert_error();
    assert_eq!(
        message,
        format!("{output_arg} exists; pass --force to replace it")
    );
    assert_eq!(std::fs::read_to_string(&output).unwrap(), "existing");
    // The flow never started: nobody was sent to sign in.
    assert!(setup.server.requests().is_empty());

    let out = setup
        .signed_in(&["--no-browser", "--output", &output_arg, "--force"])
        .await;
    assert_eq!(read_json(&output)["type"], "authorized_user");
    #[cfg(unix)]
    assert_eq!(support::login::mode(&output), 0o600);
    assert_eq!(entries(output.parent().unwrap()), ["adc.json"]);
    // Not the default location: nothing is said about Application Default Credentials.
    assert!(
        !out.stderr.contains("now use these credentials"),
        "{out:#?}"
    );
    assert!(!setup.adc_file().exists());
}

#[tokio::test]
async fn a_file_that_appears_during_the_sign_in_is_not_replaced() {
    let setup = Setup::plain().await;
    let output = setup.sandbox.path("adc.json");
    let mut login = LoginProcess::spawn(setup.login(&[
        "--no-browser",
        "--output",
        &output.display().to_string(),
    ]));
    let url = login.authorization_url().await;
    std::fs::write(&output, "written meanwhile").unwrap();
    let page = sign_in(&url).await;
    // The sign-in itself worked; the file is what could not be written.
    assert!(page.body.contains("You can close this tab"), "{page:?}");
    let out = login.finish().await;
    let message = assert_login_error(&out);
    assert_eq!(
        message,
        format!("{} exists; pass --force to replace it", output.display())
    );
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "written meanwhile"
    );
    assert!(
        entries(setup.sandbox.env().dir())
            .iter()
            .all(|name| !name.starts_with(".credkit-login-")),
        "{:?}",
        entries(setup.sandbox.env().dir())
    );
    setup.assert_no_secret(&out);
}

#[tokio::test]
async fn a_destination_that_cannot_be_written_leaves_nothing_behind() {
    let setup = Setup::plain().await;
    // A folder with something in it where the file should go: even --force cannot rename
    // over it.
    let output = setup.sandbox.path("taken/adc.json");
    std::fs::create_dir_all(&output).unwrap();
    std::fs::write(output.join("keep"), "x").unwrap();
    let mut login = LoginProcess::spawn(setup.login(&[
        "--no-browser",
        "--force",
        "--output",
        &output.display().to_string(),
    ]));
    let url = login.authorization_url().await;
    sign_in(&url).await;
    let out = login.finish().await;
    let message = assert_login_error(&out);
    assert!(
        message.starts_with(&format!(
            "could not write the credentials to {}: ",
            output.display()
        )),
        "{message}"
    );
    assert_eq!(entries(output.parent().unwrap()), ["adc.json"]);
    assert_eq!(entries(&output), ["keep"]);
    setup.assert_no_secret(&out);
}

#[tokio::test]
async fn missing_folders_are_made_private() {
    let setup = Setup::plain().await;
    let output = setup.sandbox.path("a/b/adc.json");
    setup
        .signed_in(&["--no-browser", "--output", &output.display().to_string()])
        .await;
    assert!(output.exists());
    #[cfg(unix)]
    {
        assert_eq!(support::login::mode(output.parent().unwrap()), 0o700);
        assert_eq!(support::login::mode(&setup.sandbox.path("a")), 0o700);
    }
}

#[tokio::test]
async fn the_client_may_come_from_the_environment() {
    let setup = Setup::plain().await;
    let secrets = setup.secrets.display().to_string();
    let sandbox = setup
        .sandbox
        .with_env(|env| env.with_var("CREDKIT_CLIENT_SECRETS", secrets));
    let mut login = LoginProcess::spawn(sandbox.credkit(["login", "--no-browser"]));
    let url = login.authorization_url().await;
    sign_in(&url).await;
    let out = login.finish().await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        sandbox
            .env()
            .gcloud_config_dir()
            .join("application_default_credentials.json")
            .exists()
    );
}

#[tokio::test]
async fn a_credentials_variable_that_hides_the_file_is_a_warning() {
    let setup = Setup::plain().await;
    let other = setup
        .sandbox
        .write("other.json", "{}")
        .display()
        .to_string();
    let sandbox = setup
        .sandbox
        .with_env(|env| env.with_var("GOOGLE_APPLICATION_CREDENTIALS", other.clone()));
    let mut command = sandbox.credkit(["login", "--no-browser", "--client-secrets"]);
    command.arg(&setup.secrets);
    let mut login = LoginProcess::spawn(command);
    let url = login.authorization_url().await;
    sign_in(&url).await;
    let out = login.finish().await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stderr.ends_with(&format!(
            "warning: GOOGLE_APPLICATION_CREDENTIALS is set ({other}), and Application Default Credentials read that file first: unset it to use these\n"
        )),
        "{out:#?}"
    );
}

#[tokio::test]
async fn without_a_home_the_file_must_be_named() {
    let setup = Setup::plain().await;
    let sandbox = setup
        .sandbox
        .with_env(|env| env.without_var("HOME").without_var("CLOUDSDK_CONFIG"));
    let mut command = sandbox.credkit(["login", "--no-browser", "--client-secrets"]);
    command.arg(&setup.secrets);
    let message = run(command).await.assert_error().to_owned();
    assert_eq!(
        message,
        "cannot tell where Application Default Credentials look: neither CLOUDSDK_CONFIG nor HOME is set; give --output FILE"
    );
    assert!(setup.server.requests().is_empty());
}

#[tokio::test]
async fn without_a_client_it_is_a_usage_error_saying_how_to_get_one() {
    let sandbox = Sandbox::new();
    let out = run(sandbox.credkit(["login"])).await;
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert_eq!(out.stdout, "");
    for needed in [
        "--client-secrets FILE",
        "CREDKIT_CLIENT_SECRETS",
        "APIs & Services, Credentials",
        "OAuth client ID",
        "\"Desktop app\"",
    ] {
        assert!(out.stderr.contains(needed), "{needed}: {out:#?}");
    }
    assert!(entries(&sandbox.env().gcloud_config_dir()).is_empty());
}

#[tokio::test]
async fn a_broken_client_secrets_file_is_one_error_line() {
    let sandbox = Sandbox::new();
    let secrets = sandbox.write("client_secret.json", r#"{"other": {}}"#);
    let out = run(sandbox.credkit([
        "login",
        "--no-browser",
        "--client-secrets",
        &secrets.display().to_string(),
    ]))
    .await;
    let message = out.assert_error();
    assert!(
        message.contains("no \"installed\" or \"web\" client"),
        "{message}"
    );
}

/// A login whose browser round trip (when `visit`) ends in the page `page`, and which fails
/// with a message holding `expected`: no file or temporary file is left, and no secret shown.
async fn fails(builder: FakeAuthorizationServerBuilder, visit: bool, page: &str, expected: &str) {
    let setup = Setup::new(builder).await;
    let mut login = LoginProcess::spawn(setup.login(&["--no-browser", "--login-timeout", "30"]));
    let url = login.authorization_url().await;
    if visit {
        let consent = get(&url).await;
        assert_eq!(consent.status, StatusCode::FOUND, "{consent:?}");
        let shown = get(&consent.location.unwrap()).await;
        assert!(shown.body.contains(page), "{page}: {shown:?}");
    }
    let out = login.finish().await;
    let message = assert_login_error(&out);
    assert!(message.contains(expected), "{expected}: {message}");
    assert!(entries(&setup.sandbox.env().gcloud_config_dir()).is_empty());
    setup.assert_no_secret(&out);
}

#[tokio::test]
async fn a_refusal_is_an_error() {
    fails(
        FakeAuthorizationServer::builder()
            .with_authorize_replies([AuthorizeReply::Error("access_denied".to_owned())]),
        true,
        "The sign-in was refused",
        "the authorization server refused the sign-in: access_denied",
    )
    .await;
}

#[tokio::test]
async fn a_wrong_state_is_refused() {
    fails(
        FakeAuthorizationServer::builder().with_authorize_replies([AuthorizeReply::WrongState]),
        true,
        "does not belong to the sign-in",
        "a state that is not this login's",
    )
    .await;
}

#[tokio::test]
async fn a_redirect_without_a_code_is_refused() {
    fails(
        FakeAuthorizationServer::builder().with_authorize_replies([AuthorizeReply::NoCode]),
        true,
        "carried no single authorization code",
        "the sign-in redirect carried no code",
    )
    .await;
}

#[tokio::test]
async fn a_redirect_with_two_codes_is_refused() {
    fails(
        FakeAuthorizationServer::builder().with_authorize_replies([AuthorizeReply::RepeatedCode]),
        true,
        "carried no single authorization code",
        "the sign-in redirect carried more than one code",
    )
    .await;
}

#[tokio::test]
async fn a_token_endpoint_answering_garbage_is_an_error() {
    fails(
        FakeAuthorizationServer::builder().with_token_replies([TokenReply::Garbage]),
        true,
        "did not accept the authorization code",
        "the token endpoint answered HTTP 200 with a text/html body that is not a token response",
    )
    .await;
}

#[tokio::test]
async fn an_answer_without_a_refresh_token_is_an_error() {
    fails(
        FakeAuthorizationServer::builder().with_token_replies([TokenReply::NoRefreshToken]),
        true,
        "did not accept the authorization code",
        "issued no refresh token",
    )
    .await;
}

#[tokio::test]
async fn nobody_coming_back_times_out() {
    // The one test that waits on the real clock: a second, in the child.
    let setup = Setup::plain().await;
    let out = run(setup.login(&["--no-browser", "--login-timeout", "1"])).await;
    let message = assert_login_error(&out);
    assert!(
        message.contains("nobody completed the sign-in within 1 s"),
        "{message}"
    );
    assert!(entries(&setup.sandbox.env().gcloud_config_dir()).is_empty());
    assert!(setup.server.requests().is_empty());
}

#[tokio::test]
async fn a_port_in_use_is_an_error() {
    let setup = Setup::plain().await;
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let out = run(setup.login(&["--no-browser", "--port", &port])).await;
    let message = out.assert_error();
    assert!(message.contains("the port is in use"), "{message}");
    assert!(message.contains(&port), "{message}");
    assert!(setup.server.requests().is_empty());
    assert!(entries(&setup.sandbox.env().gcloud_config_dir()).is_empty());
}

#[tokio::test]
async fn a_chosen_port_is_the_redirect_uris() {
    let setup = Setup::plain().await;
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let mut login =
        LoginProcess::spawn(setup.login(&["--no-browser", "--port", &port.to_string()]));
    let url = login.authorization_url().await;
    assert_eq!(
        query_param(&url, "redirect_uri"),
        Some(format!("http://127.0.0.1:{port}/"))
    );
    sign_in(&url).await;
    let out = login.finish().await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stderr
            .contains(&format!("ssh -L {port}:127.0.0.1:{port} ")),
        "{out:#?}"
    );
}

// ===== the device flow =====

/// `credkit login --device` against `setup`'s device endpoint, with `scopes`.
fn device_login(setup: &Setup, extra: &[&str]) -> Command {
    let mut args = vec!["--device", "--device-authorization-uri"];
    let device_url = setup.server.device_url();
    args.push(&device_url);
    args.extend_from_slice(&["--scope", "openid", "--scope", "email"]);
    args.extend_from_slice(extra);
    setup.login(&args)
}

#[tokio::test]
async fn the_device_flow_polls_until_approved() {
    let setup = Setup::new(
        FakeAuthorizationServer::builder()
            .with_device_interval(1)
            .with_device_polls([
                DevicePoll::Pending,
                DevicePoll::SlowDown,
                DevicePoll::Approve,
            ]),
    )
    .await;
    let mut login = LoginProcess::spawn(device_login(&setup, &[]));
    let line = login
        .line(|line| line.starts_with("On another device"))
        .await;
    assert_eq!(
        line,
        format!(
            "On another device, visit {}/device and enter code {FAKE_USER_CODE}",
            setup.server.url()
        )
    );
    let out = login.finish().await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    let polls = setup.requests_to("/token");
    assert_eq!(polls.len(), 3);
    for poll in &polls {
        assert_eq!(
            poll.param("grant_type"),
            Some("urn:ietf:params:oauth:grant-type:device_code")
        );
    }
    let file = read_json(&setup.adc_file());
    assert_eq!(
        file["refresh_token"],
        setup.server.issued_refresh_tokens()[0]
    );
    assert!(
        out.stderr.contains("Granted scopes: openid email\n"),
        "{out:#?}"
    );
    setup.assert_no_secret(&out);
}

#[tokio::test]
async fn the_device_flow_shows_the_complete_uri_when_given() {
    let setup = Setup::new(
        FakeAuthorizationServer::builder()
            .with_device_interval(1)
            .with_rfc_device_names(),
    )
    .await;
    let out = run(device_login(&setup, &[])).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stderr.contains(&format!(
            "(or open {}/device?user_code={FAKE_USER_CODE}, which holds the code)",
            setup.server.url()
        )),
        "{out:#?}"
    );
}

#[tokio::test]
async fn a_denied_device_sign_in_is_an_error() {
    let setup = Setup::new(
        FakeAuthorizationServer::builder()
            .with_device_interval(1)
            .with_device_polls([DevicePoll::Deny]),
    )
    .await;
    let out = run(device_login(&setup, &[])).await;
    let message = assert_login_error(&out);
    assert!(message.contains("access_denied"), "{message}");
    assert!(entries(&setup.sandbox.env().gcloud_config_dir()).is_empty());
    setup.assert_no_secret(&out);
}

#[tokio::test]
async fn an_expired_device_code_is_an_error() {
    let setup = Setup::new(
        FakeAuthorizationServer::builder()
            .with_device_interval(1)
            .with_device_polls([DevicePoll::Expire]),
    )
    .await;
    let out = run(device_login(&setup, &[])).await;
    let message = assert_login_error(&out);
    assert!(message.contains("the device code expired"), "{message}");
    assert!(entries(&setup.sandbox.env().gcloud_config_dir()).is_empty());
}

// ===== revoke =====

#[tokio::test]
async fn revoke_signs_out_of_application_default_credentials() {
    let setup = Setup::plain().await;
    setup.signed_in(&["--no-browser"]).await;
    let adc = setup.adc_file();
    let copy = setup.sandbox.path("copy.json");
    std::fs::copy(&adc, &copy).unwrap();
    let refresh_token = setup.server.issued_refresh_tokens()[0].clone();
    let cache = setup.sandbox.path("cache").display().to_string();
    let token_uri = setup.server.token_url();

    // A token cached for the file's own scopes.
    let token = run(setup
        .sandbox
        .credkit(["token", "--token-uri", &token_uri, "--cache", &cache]))
    .await;
    assert_eq!(token.code, Some(0), "{token:#?}");

    let out = run(setup.sandbox.credkit([
        "revoke",
        "--revoke-uri",
        &setup.server.revoke_url(),
        "--token-uri",
        &token_uri,
        "--cache",
        &cache,
    ]))
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(
        setup.server.revoked_tokens(),
        std::slice::from_ref(&refresh_token)
    );
    assert!(!adc.exists());
    assert!(
        out.stderr.contains("Revoked the refresh token of"),
        "{out:#?}"
    );
    assert!(
        out.stderr.contains("Removed 1 cached token record(s)"),
        "{out:#?}"
    );
    assert!(
        out.stderr.contains(&format!(
            "Deleted {}: Application Default Credentials no longer find these credentials.",
            adc.display()
        )),
        "{out:#?}"
    );
    setup.assert_no_secret(&out);

    // The copy no longer works, and its cached token is gone too.
    let copy_arg = copy.display().to_string();
    let after = run(setup.sandbox.credkit([
        "token",
        "--credentials",
        &copy_arg,
        "--token-uri",
        &token_uri,
        "--cache",
        &cache,
        "--no-retry",
    ]))
    .await;
    let message = after.assert_error();
    assert!(message.contains("invalid_grant"), "{message}");

    // Revoking it again: no longer valid, not an error; the named file is kept.
    let again = run(setup.sandbox.credkit([
        "revoke",
        "--credentials",
        &copy_arg,
        "--revoke-uri",
        &setup.server.revoke_url(),
        "--no-cache",
    ]))
    .await;
    assert_eq!(again.code, Some(0), "{again:#?}");
    assert!(again.stderr.contains("was no longer valid"), "{again:#?}");
    assert!(
        again
            .stderr
            .contains(&format!("Kept {copy_arg}, which no longer works")),
        "{again:#?}"
    );
    assert!(copy.exists());
    assert_eq!(setup.server.revoked_tokens(), [refresh_token]);
}

#[tokio::test]
async fn revoke_forgets_the_tokens_of_a_named_scope_set() {
    let setup = Setup::plain().await;
    setup
        .signed_in(&[
            "--no-browser",
            "--output",
            &setup.sandbox.path("u.json").display().to_string(),
        ])
        .await;
    let file = setup.sandbox.path("u.json").display().to_string();
    let cache = setup.sandbox.path("cache").display().to_string();
    let token_uri = setup.server.token_url();
    for scopes in [&[][..], &["--scope", "openid"][..]] {
        let mut args = vec![
            "token",
            "--credentials",
            &file,
            "--token-uri",
            &token_uri,
            "--cache",
            &cache,
        ];
        args.extend_from_slice(scopes);
        let token = run(setup.sandbox.credkit(args)).await;
        assert_eq!(token.code, Some(0), "{token:#?}");
    }
    let out = run(setup.sandbox.credkit([
        "revoke",
        "--credentials",
        &file,
        "--revoke-uri",
        &setup.server.revoke_url(),
        "--token-uri",
        &token_uri,
        "--cache",
        &cache,
        "--scope",
        "openid",
    ]))
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stderr.contains("Removed 2 cached token record(s)"),
        "{out:#?}"
    );
    assert!(setup.sandbox.path("u.json").exists());
}

#[tokio::test]
async fn revoke_without_credentials_is_an_error() {
    let sandbox = Sandbox::new();
    let out = run(sandbox.credkit(["revoke", "--no-cache"])).await;
    let message = out.assert_error();
    assert!(
        message.starts_with("there are no Application Default Credentials to revoke:"),
        "{message}"
    );
}

#[tokio::test]
async fn revoke_refuses_other_credential_types() {
    let sandbox = Sandbox::new();
    let file = sandbox.write(
        "sa.json",
        r#"{"type": "service_account", "client_email": "a@b.iam.gserviceaccount.com"}"#,
    );
    let out = run(sandbox.credkit([
        "revoke",
        "--credentials",
        &file.display().to_string(),
        "--no-cache",
    ]))
    .await;
    let message = out.assert_error();
    assert!(
        message.contains("holds service_account credentials"),
        "{message}"
    );
    assert!(file.exists());
}

#[tokio::test]
async fn a_failed_revocation_changes_nothing() {
    let setup = Setup::plain().await;
    setup.signed_in(&["--no-browser"]).await;
    // A revocation endpoint that is not one: the fake answers 404.
    let out = run(setup.sandbox.credkit([
        "revoke",
        "--revoke-uri",
        &format!("{}/nowhere", setup.server.url()),
        "--no-cache",
    ]))
    .await;
    out.assert_error();
    assert!(setup.adc_file().exists());
    assert!(setup.server.revoked_tokens().is_empty());
}
