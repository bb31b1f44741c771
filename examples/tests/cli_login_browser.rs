//! `credkit login`, signed in by a real browser: headless Chromium (tests/support/browser.rs)
//! opens the URL that `credkit login --no-browser` prints, signs in at `FakeAuthorizationServer`,
//! which redirects it to credkit's loopback listener; the page it is then shown is checked and
//! saved as a screenshot in `$CARGO_TARGET_TMPDIR/cli_login_browser/`, and so is the file credkit
//! writes. Two cases drive credkit-login's `InstalledFlow` directly. Nothing leaves loopback.
//!
//! Without Debian's chromium and chromium-driver the tests print `SKIPPED` and pass, unless
//! `CREDKIT_REQUIRE_CHROMIUM=1` (CI sets it), when they fail.
#![cfg(unix)]
// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod support;

#[path = "support/browser.rs"]
mod browser;

use std::path::{Path, PathBuf};

use browser::Browser;
use credkit_login::{InstalledFlow, OAuthClient};
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{
    AuthorizeReply, FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FakeAuthorizationServer,
};
use serde_json::Value;
use support::Sandbox;
use support::login::{LoginProcess, assert_login_error, entries, mode};
use url::Url;

const SIGNED_IN: &str = "Signed in";
const SIGNED_IN_MESSAGE: &str =
    "You are signed in to credkit. You can close this tab and return to the terminal.";
const REFUSED: &str = "Sign-in refused";
const REFUSED_MESSAGE: &str = "The sign-in was refused, so no credentials were saved. The terminal says why; you can close this tab.";

/// Where a test's screenshots go: `$CARGO_TARGET_TMPDIR/cli_login_browser/<name>`.
fn screenshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli_login_browser")
        .join(name)
}

/// Starts `credkit login --no-browser --client-secrets <the fake's client> --output <out>` in
/// `sandbox` and reads the authorization URL it prints (a real condition: the line on its
/// standard error).
async fn start_login(
    sandbox: &Sandbox,
    server: &FakeAuthorizationServer,
    out: &Path,
) -> (LoginProcess, Url) {
    let secrets = sandbox.write(
        "client_secret.json",
        &server.client_secrets_json("installed"),
    );
    let mut command = sandbox.credkit(["login", "--no-browser", "--client-secrets"]);
    command.arg(&secrets).arg("--output").arg(out);
    let mut login = LoginProcess::spawn(command);
    let url = login.authorization_url().await;
    assert!(
        url.starts_with(&format!("{}?", server.authorize_url())),
        "{url}"
    );
    (login, Url::parse(&url).unwrap())
}

/// The `redirect_uri` in an authorization URL, checked to be a loopback listener's
/// (`http://127.0.0.1:PORT/`).
fn redirect_uri_of(url: &Url) -> Url {
    let (_, redirect) = url
        .query_pairs()
        .find(|(name, _)| name == "redirect_uri")
        .unwrap_or_else(|| panic!("no redirect_uri in {url}"));
    let redirect = Url::parse(&redirect).unwrap();
    assert_eq!(redirect.scheme(), "http", "{redirect}");
    assert_eq!(redirect.host_str(), Some("127.0.0.1"), "{redirect}");
    assert!(redirect.port().is_some_and(|port| port > 0), "{redirect}");
    redirect
}

/// Asserts that the browser is on credkit's listener (the redirect's target, with the
/// server's answer in the query) and shows `title` and `message`.
async fn assert_page(browser: &Browser, redirect_uri: &Url, title: &str, message: &str) {
    assert_eq!(browser.text_of("title").await, title);
    assert_eq!(browser.text_of("message").await, message);
    assert_eq!(browser.title().await, format!("{title} - credkit"));
    let shown = browser.current_url().await;
    assert_eq!(shown.origin(), redirect_uri.origin(), "{shown}");
    assert_eq!(shown.path(), redirect_uri.path(), "{shown}");
    assert!(
        shown.query_pairs().any(|(name, _)| name == "state"),
        "not the redirect: {shown}"
    );
}

/// Asserts that the fake's authorization endpoint was asked by Chromium (not by credkit).
fn assert_asked_by_chromium(server: &FakeAuthorizationServer) {
    let asked: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|request| request.path() == "/o/oauth2/auth")
        .collect();
    assert_eq!(asked.len(), 1, "{asked:#?}");
    let agent = asked[0].headers()["user-agent"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(agent.contains("HeadlessChrome/"), "{agent}");
}

#[tokio::test]
async fn a_browser_signs_in_and_credkit_login_writes_the_credentials() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = FakeAuthorizationServer::start().await.unwrap();
    let sandbox = Sandbox::new();
    let out = sandbox.path("adc.json");
    let (login, url) = start_login(&sandbox, &server, &out).await;
    let redirect_uri = redirect_uri_of(&url);

    browser.open(url.as_str()).await;
    assert_page(&browser, &redirect_uri, SIGNED_IN, SIGNED_IN_MESSAGE).await;
    browser.screenshot(&screenshot_path("signed_in.png")).await;
    browser.close().await;

    let run = login.finish().await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert_asked_by_chromium(&server);
    let issued = server.issued_refresh_tokens();
    assert_eq!(issued.len(), 1, "{issued:?}");
    run.assert_no_secret(&[&issued[0], FAKE_CLIENT_SECRET]);
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(written["type"], "authorized_user", "{written}");
    assert_eq!(written["client_id"], FAKE_CLIENT_ID);
    assert_eq!(written["client_secret"], FAKE_CLIENT_SECRET);
    assert_eq!(written["refresh_token"], issued[0].as_str());
    assert_eq!(mode(&out), 0o600);
}

#[tokio::test]
async fn a_refused_sign_in_shows_the_refusal_and_credkit_login_fails() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = FakeAuthorizationServer::builder()
        .with_authorize_replies([AuthorizeReply::Error("access_denied".into())])
        .start()
        .await
        .unwrap();
    let sandbox = Sandbox::new();
    let out = sandbox.path("adc.json");
    let (login, url) = start_login(&sandbox, &server, &out).await;
    let redirect_uri = redirect_uri_of(&url);
    let before = entries(out.parent().unwrap());

    browser.open(url.as_str()).await;
    assert_page(&browser, &redirect_uri, REFUSED, REFUSED_MESSAGE).await;
    let shown = browser.current_url().await;
    assert!(
        shown
            .query_pairs()
            .any(|(name, value)| name == "error" && value == "access_denied"),
        "{shown}"
    );
    browser.screenshot(&screenshot_path("refused.png")).await;
    browser.close().await;

    let run = login.finish().await;
    let message = assert_login_error(&run);
    assert!(message.contains("access_denied"), "{message}");
    assert_asked_by_chromium(&server);
    assert!(server.issued_refresh_tokens().is_empty());
    assert!(!out.exists(), "{} was written", out.display());
    // Nothing left behind: no file, no temporary file beside it.
    assert_eq!(entries(out.parent().unwrap()), before);
}

/// Runs credkit-login's `InstalledFlow` for the fake's client while Chromium opens its URL;
/// asserts that the browser ends on the listener showing `title` and `message`, saves the
/// screenshot `name`, and returns what the login returned.
async fn library_login(
    browser: &Browser,
    server: &FakeAuthorizationServer,
    title: &str,
    message: &str,
    name: &str,
) -> credkit_core::Result<credkit_refresh_token::UserCredentials> {
    let client =
        OAuthClient::from_client_secrets_json(server.client_secrets_json("installed").as_bytes())
            .unwrap();
    let login = InstalledFlow::new(client, ReqwestTransport::new().unwrap())
        .start()
        .unwrap();
    let url = Url::parse(login.authorization_url()).unwrap();
    let redirect_uri = redirect_uri_of(&url);
    assert_eq!(redirect_uri.as_str(), login.redirect_uri());
    assert_eq!(redirect_uri.port(), Some(login.local_addr().port()));
    // The listener's answer waits for the exchange, which `finish` makes: both run at once.
    let (result, ()) = tokio::join!(login.finish(), async {
        browser.open(url.as_str()).await;
        assert_page(browser, &redirect_uri, title, message).await;
        browser.screenshot(&screenshot_path(name)).await;
    });
    assert_asked_by_chromium(server);
    result
}

#[tokio::test]
async fn a_browser_signs_in_through_the_library() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = FakeAuthorizationServer::start().await.unwrap();
    let result = library_login(
        &browser,
        &server,
        SIGNED_IN,
        SIGNED_IN_MESSAGE,
        "library_signed_in.png",
    )
    .await;
    browser.close().await;

    let credentials = result.unwrap();
    let issued = server.issued_refresh_tokens();
    assert_eq!(issued.len(), 1, "{issued:?}");
    let written: Value = serde_json::from_str(&credentials.to_json(&[])).unwrap();
    assert_eq!(written["client_id"], FAKE_CLIENT_ID, "{written}");
    assert_eq!(written["refresh_token"], issued[0].as_str());
}

#[tokio::test]
async fn a_refused_sign_in_through_the_library_shows_the_refusal() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = FakeAuthorizationServer::builder()
        .with_authorize_replies([AuthorizeReply::Error("access_denied".into())])
        .start()
        .await
        .unwrap();
    let result = library_login(
        &browser,
        &server,
        REFUSED,
        REFUSED_MESSAGE,
        "library_refused.png",
    )
    .await;
    browser.close().await;

    let err = result.unwrap_err();
    assert_eq!(err.oauth_error(), Some("access_denied"), "{err}");
    assert!(server.issued_refresh_tokens().is_empty());
}
