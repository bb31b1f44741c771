//! The installed-application flow end to end on loopback: the test plays the browser against
//! the real listener, and a scripted token endpoint answers the code exchange.
// Test helpers outside #[test] functions unwrap and panic as the tests do.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use credkit_core::{Error, ErrorKind};
use credkit_login::{InstalledFlow, OAuthClient, PendingLogin, Prompt};
use credkit_refresh_token::UserCredentials;
use credkit_testing::{FakeClock, FakeTokenEndpoint, Reply};
use secrecy::ExposeSecret;
use serde_json::json;
use tokio::task::JoinHandle;
use url::Url;

const AUTH_URI: &str = "https://accounts.example.com/o/oauth2/auth";

fn client(endpoint: &FakeTokenEndpoint) -> OAuthClient {
    OAuthClient::new("cid.apps", Some("csecret".into()))
        .with_auth_uri(AUTH_URI)
        .with_token_uri(endpoint.token_url())
}

fn issued() -> Reply {
    Reply::json(
        200,
        json!({"access_token": "ya29.first", "expires_in": 3599, "refresh_token": "1//refresh",
               "scope": "openid https://www.googleapis.com/auth/cloud-platform", "token_type": "Bearer",
               "id_token": "eyJ.id.token"}),
    )
}

fn flow(endpoint: &FakeTokenEndpoint, clock: &FakeClock) -> InstalledFlow {
    InstalledFlow::new(client(endpoint), endpoint.clone()).with_clock(clock.clone())
}

/// The authorization request's query members.
fn query(login: &PendingLogin) -> Vec<(String, String)> {
    Url::parse(login.authorization_url())
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn member<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map_or_else(|| panic!("no {name}"), |(_, v)| v.as_str())
}

/// One HTTP request as a browser (or anyone on this machine) would send it; the status code
/// and the body.
fn send(addr: SocketAddr, head: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    (status, answer)
}

fn get(addr: SocketAddr, target: &str) -> (u16, String) {
    send(
        addr,
        &format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
}

/// Runs `finish` in the background.
fn finish(login: PendingLogin) -> JoinHandle<Result<UserCredentials, Error>> {
    tokio::spawn(login.finish())
}

/// The browser's visit to the redirect, off the runtime's threads.
async fn visit(addr: SocketAddr, target: String) -> (u16, String) {
    tokio::task::spawn_blocking(move || get(addr, &target))
        .await
        .unwrap()
}

/// The authorization request's members (RFC 6749 section 4.1.1, RFC 7636 section 4.3, and
/// Google's); its `state` and `code_challenge`.
fn check_authorization_request(login: &PendingLogin) -> (String, String) {
    let addr = login.local_addr();
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 0);
    assert_eq!(
        login.redirect_uri(),
        format!("http://127.0.0.1:{}/", addr.port())
    );
    assert!(login.authorization_url().starts_with(AUTH_URI));
    let pairs = query(login);
    assert_eq!(member(&pairs, "response_type"), "code");
    assert_eq!(member(&pairs, "client_id"), "cid.apps");
    assert_eq!(member(&pairs, "redirect_uri"), login.redirect_uri());
    assert_eq!(
        member(&pairs, "scope"),
        "openid https://www.googleapis.com/auth/cloud-platform"
    );
    assert_eq!(member(&pairs, "code_challenge_method"), "S256");
    assert_eq!(member(&pairs, "access_type"), "offline");
    assert_eq!(member(&pairs, "prompt"), "consent");
    assert_eq!(member(&pairs, "login_hint"), "user@example.com");
    assert_eq!(member(&pairs, "include_granted_scopes"), "true");
    let state = member(&pairs, "state").to_owned();
    let challenge = member(&pairs, "code_challenge").to_owned();
    assert_eq!(state.len(), 43);
    assert_eq!(challenge.len(), 43);
    let debug = format!("{login:?}");
    assert!(!debug.contains(&state), "{debug}");
    assert!(
        debug.starts_with("PendingLogin") && debug.contains(login.redirect_uri()),
        "{debug}"
    );

    (state, challenge)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_user_gets_credentials_and_a_page_saying_so() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(issued());
    let clock = FakeClock::new();
    let login = flow(&endpoint, &clock)
        .with_scopes(["openid", "https://www.googleapis.com/auth/cloud-platform"])
        .with_prompt(Prompt::Consent)
        .with_login_hint("user@example.com")
        .with_include_granted_scopes(true)
        .start()
        .unwrap();
    let addr = login.local_addr();
    let (state, challenge) = check_authorization_request(&login);
    let redirect_uri = login.redirect_uri().to_owned();
    let task = finish(login);
    // A browser asks for the favicon too: not the redirect, and the login goes on waiting.
    let (status, _) = visit(addr, "/favicon.ico".into()).await;
    assert_eq!(status, 404);
    let (status, page) = visit(
        addr,
        format!("/?state={state}&code=4%2F0AcodE&scope=openid"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("<h1 id=\"title\">Signed in</h1>"), "{page}");
    assert!(page.contains("You can close this tab"));
    assert!(page.contains("Cache-Control: no-store"));
    assert!(page.contains("Referrer-Policy: no-referrer"));
    assert!(!page.contains("4/0AcodE"));
    let user = task.await.unwrap().unwrap();

    assert_eq!(user.refresh_token().unwrap().expose_secret(), "1//refresh");
    assert_eq!(user.token().unwrap().expose_secret(), "ya29.first");
    assert_eq!(user.id_token().unwrap().expose_secret(), "eyJ.id.token");
    assert_eq!(
        user.granted_scopes().unwrap(),
        ["openid", "https://www.googleapis.com/auth/cloud-platform"]
    );
    assert_eq!(user.client_id(), Some("cid.apps"));
    assert_eq!(user.client_secret().unwrap().expose_secret(), "csecret");
    assert_eq!(user.token_uri(), Some(endpoint.token_url().as_str()));
    assert_eq!(
        user.expiry(),
        Some(credkit_testing::FAKE_CLOCK_START + time::Duration::seconds(3599))
    );

    // The exchange, as RFC 6749 section 4.1.3 and RFC 7636 section 4.5 want it.
    let exchange = endpoint.last_request().unwrap();
    assert_eq!(exchange.path(), "/token");
    assert_eq!(
        exchange.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        exchange.form_keys(),
        [
            "grant_type",
            "code",
            "redirect_uri",
            "code_verifier",
            "client_id",
            "client_secret"
        ]
    );
    assert_eq!(
        exchange.form_value("grant_type"),
        Some("authorization_code")
    );
    assert_eq!(exchange.form_value("code"), Some("4/0AcodE"));
    assert_eq!(
        exchange.form_value("redirect_uri"),
        Some(redirect_uri.as_str())
    );
    let verifier = exchange.form_value("code_verifier").unwrap();
    assert_eq!(verifier.len(), 64);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    assert_eq!(
        URL_SAFE_NO_PAD.encode(digest),
        challenge,
        "the verifier proves the challenge"
    );

    // The listener is closed once the answer is in.
    assert!(TcpStream::connect(addr).is_err());
}

/// Starts a login, sends `target` (with this login's state put in for `{state}`), and returns
/// the page's status and text and the login's error.
async fn failing_visit(endpoint: &FakeTokenEndpoint, target: &str) -> (u16, String, Error) {
    let login = flow(endpoint, &FakeClock::new()).start().unwrap();
    let state = member(&query(&login), "state").to_owned();
    let addr = login.local_addr();
    let task = finish(login);
    let (status, page) = visit(addr, target.replace("{state}", &state)).await;
    let err = task.await.unwrap().unwrap_err();
    (status, page, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_consent_ends_the_login_with_the_servers_error() {
    let endpoint = FakeTokenEndpoint::new();
    let (status, page, err) = failing_visit(
        &endpoint,
        "/?error=access_denied&error_description=The+user+denied&state={state}",
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("Sign-in refused"), "{page}");
    assert!(
        !page.contains("The user denied"),
        "nothing from the request is echoed"
    );
    assert_eq!(err.oauth_error(), Some("access_denied"));
    assert_eq!(
        err.to_string(),
        "the authorization server refused the sign-in: access_denied: The user denied"
    );
    assert_eq!(endpoint.request_count(), 0, "nothing was exchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_state_is_refused_and_its_code_never_exchanged() {
    let endpoint = FakeTokenEndpoint::new();
    let (status, page, err) =
        failing_visit(&endpoint, "/?state={state}-tampered&code=stolen").await;
    assert_eq!(status, 400);
    assert!(page.contains("does not belong to the sign-in"), "{page}");
    assert_eq!(err.kind(), ErrorKind::Provider);
    assert!(
        err.to_string().contains("a state that is not this login's"),
        "{err}"
    );
    assert!(!err.to_string().contains("stolen"));
    assert_eq!(endpoint.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_repeated_code_is_refused() {
    for (target, said) in [
        ("/?state={state}", "no code"),
        ("/?state={state}&code=a&code=b", "more than one code"),
    ] {
        let endpoint = FakeTokenEndpoint::new();
        let (status, page, err) = failing_visit(&endpoint, target).await;
        assert_eq!(status, 400);
        assert!(page.contains("no single authorization code"), "{page}");
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        assert!(err.to_string().contains(said), "{err}");
        assert_eq!(endpoint.request_count(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_endpoint_answering_garbage_fails_the_login_and_the_page_says_so() {
    for (reply, kind, said) in [
        (
            Reply::html(200, "<html>captive portal</html>"),
            ErrorKind::InvalidResponse,
            "not a token response",
        ),
        (
            Reply::oauth_error(400, "invalid_grant", Some("Bad code 4/0Acode")),
            ErrorKind::TokenEndpoint,
            "invalid_grant",
        ),
        (
            Reply::token("ya29.alone"),
            ErrorKind::InvalidResponse,
            "no refresh token",
        ),
    ] {
        let endpoint = FakeTokenEndpoint::new();
        endpoint.push_reply(reply);
        let (status, page, err) = failing_visit(&endpoint, "/?state={state}&code=4%2F0Acode").await;
        assert_eq!(status, 200);
        assert!(page.contains("Sign-in failed"), "{page}");
        assert_eq!(err.kind(), kind, "{err}");
        assert!(err.to_string().contains(said), "{err}");
        for secret in ["4/0Acode", "captive", "ya29.alone", "csecret"] {
            assert!(!err.to_string().contains(secret), "{err}");
        }
        assert_eq!(endpoint.request_count(), 1);
    }
}

#[tokio::test]
async fn a_port_in_use_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let endpoint = FakeTokenEndpoint::new();
    let err = flow(&endpoint, &FakeClock::new())
        .with_port(port)
        .start()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(
        err.to_string(),
        format!(
            "cannot listen for the sign-in redirect on 127.0.0.1:{port}: the port is in use by another program; choose another port, or none to take a free one"
        )
    );
}

#[tokio::test]
async fn a_chosen_free_port_is_used() {
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let endpoint = FakeTokenEndpoint::new();
    let login = flow(&endpoint, &FakeClock::new())
        .with_port(port)
        .start()
        .unwrap();
    assert_eq!(login.local_addr().port(), port);
    assert_eq!(login.redirect_uri(), format!("http://127.0.0.1:{port}/"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_coming_back_times_out_on_the_clock_and_closes_the_port() {
    let endpoint = FakeTokenEndpoint::new();
    let clock = FakeClock::new();
    let login = flow(&endpoint, &clock)
        .with_timeout(Duration::from_secs(120))
        .start()
        .unwrap();
    let addr = login.local_addr();
    let task = finish(login);
    while clock.pending_sleeps() == 0 {
        tokio::task::yield_now().await;
    }
    clock.advance(Duration::from_secs(119));
    assert!(!task.is_finished());
    clock.advance(Duration::from_secs(1));
    let err = task.await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(!err.is_transient());
    assert_eq!(
        err.to_string(),
        "nobody completed the sign-in within 120 s: run the login again and open the URL it prints"
    );
    assert!(TcpStream::connect(addr).is_err(), "the port is closed");
}

#[tokio::test]
async fn dropping_the_pending_login_closes_the_port() {
    let endpoint = FakeTokenEndpoint::new();
    let login = flow(&endpoint, &FakeClock::new()).start().unwrap();
    let addr = login.local_addr();
    drop(login);
    assert!(TcpStream::connect(addr).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_are_not_a_browsers_get_from_loopback_are_refused_without_ending_the_login() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(issued());
    let login = flow(&endpoint, &FakeClock::new()).start().unwrap();
    let state = member(&query(&login), "state").to_owned();
    let addr = login.local_addr();
    let task = finish(login);
    let target = format!("/?state={state}&code=c");
    let refused = [
        format!("POST {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n"),
        format!(
            "GET {target} HTTP/1.1\r\nHost: evil.example:{}\r\n\r\n",
            addr.port()
        ),
        "NOT HTTP AT ALL\r\n\r\n".to_owned(),
        format!(
            "GET /{} HTTP/1.1\r\nHost: {addr}\r\n\r\n",
            "a".repeat(20_000)
        ),
    ];
    for head in refused {
        let (status, page) = tokio::task::spawn_blocking(move || send(addr, &head))
            .await
            .unwrap();
        assert_eq!(status, 400, "{page}");
        assert!(!task.is_finished());
    }
    // A connection that closes without a request changes nothing either.
    drop(TcpStream::connect(addr).unwrap());
    let (status, _) = visit(addr, target.clone()).await;
    assert_eq!(status, 200);
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_first_redirect_counts() {
    let endpoint = FakeTokenEndpoint::new();
    // The exchange waits until the second visit has its answer.
    let clock = FakeClock::new();
    endpoint.push_reply(issued().with_delay(Duration::from_secs(1)));
    let endpoint = endpoint.with_clock(clock.clone());
    let login = flow(&endpoint, &clock).start().unwrap();
    let state = member(&query(&login), "state").to_owned();
    let addr = login.local_addr();
    let task = finish(login);
    let first = tokio::spawn(visit(addr, format!("/?state={state}&code=first")));
    while endpoint.request_count() == 0 {
        tokio::task::yield_now().await;
    }
    let (status, page) = visit(addr, format!("/?state={state}&code=second")).await;
    assert_eq!(status, 410);
    assert!(page.contains("already finished"), "{page}");
    clock.advance(Duration::from_secs(1));
    assert_eq!(first.await.unwrap().0, 200);
    task.await.unwrap().unwrap();
    assert_eq!(endpoint.request_count(), 1);
    assert_eq!(
        endpoint.last_request().unwrap().form_value("code"),
        Some("first")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_client_listens_on_its_registered_loopback_uri() {
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(issued());
    let json = json!({"web": {"client_id": "web.apps", "client_secret": "s",
        "auth_uri": AUTH_URI, "token_uri": endpoint.token_url(),
        "redirect_uris": ["https://app.example.com/cb", "http://localhost/no-port", format!("http://localhost:{port}/oauth2callback")]}});
    let client = OAuthClient::from_client_secrets_json(json.to_string().as_bytes()).unwrap();
    let login = InstalledFlow::new(client, endpoint.clone())
        .with_clock(FakeClock::new())
        .start()
        .unwrap();
    assert_eq!(
        login.redirect_uri(),
        format!("http://localhost:{port}/oauth2callback")
    );
    assert_eq!(login.local_addr().port(), port);
    let state = member(&query(&login), "state").to_owned();
    let addr = login.local_addr();
    let task = finish(login);
    assert_eq!(visit(addr, format!("/?state={state}&code=c")).await.0, 404);
    let (status, _) = visit(addr, format!("/oauth2callback?state={state}&code=c")).await;
    assert_eq!(status, 200);
    task.await.unwrap().unwrap();
    assert_eq!(
        endpoint.last_request().unwrap().form_value("redirect_uri"),
        Some(format!("http://localhost:{port}/oauth2callback").as_str())
    );
}

#[tokio::test]
async fn only_plain_http_loopback_uris_with_a_port_and_no_query_are_listened_on() {
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let endpoint = FakeTokenEndpoint::new();
    let start = |uris: Vec<String>| {
        let json = json!({"web": {"client_id": "web.apps", "client_secret": "s", "auth_uri": AUTH_URI, "redirect_uris": uris}});
        let client = OAuthClient::from_client_secrets_json(json.to_string().as_bytes()).unwrap();
        InstalledFlow::new(client, endpoint.clone()).start()
    };
    for refused in [
        format!("https://localhost:{port}/"),
        format!("http://localhost:{port}/cb?x=1"),
        format!("http://example.com:{port}/"),
        format!("http://10.0.0.1:{port}/"),
        format!("http://[2001:db8::1]:{port}/"),
        "http://127.0.0.1/".to_owned(),
    ] {
        let err = start(vec![refused.clone()]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("this is a \"web\" OAuth client"),
            "{refused}: {err}"
        );
    }
    let login = start(vec![format!("http://127.0.0.1:{port}/cb")]).unwrap();
    assert_eq!(login.redirect_uri(), format!("http://127.0.0.1:{port}/cb"));
    assert_eq!(login.local_addr(), SocketAddr::from(([127, 0, 0, 1], port)));
    drop(login);
    // IPv6 loopback, where this machine has it.
    if TcpListener::bind("[::1]:0").is_ok() {
        let login = start(vec![format!("http://[::1]:{port}/")]).unwrap();
        assert_eq!(login.redirect_uri(), format!("http://[::1]:{port}/"));
        assert!(login.local_addr().ip().is_loopback() && login.local_addr().is_ipv6());
    }
}

#[tokio::test]
async fn a_web_client_without_a_loopback_uri_or_with_another_port_is_refused() {
    let endpoint = FakeTokenEndpoint::new();
    let json = json!({"web": {"client_id": "web.apps", "client_secret": "s",
        "redirect_uris": ["https://app.example.com/cb", "http://localhost:8085/"]}});
    let client = OAuthClient::from_client_secrets_json(json.to_string().as_bytes()).unwrap();
    let err = InstalledFlow::new(client.clone(), endpoint.clone())
        .with_port(9999)
        .start()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains("web"), "{err}");
    let json =
        json!({"web": {"client_id": "web.apps", "redirect_uris": ["https://app.example.com/cb"]}});
    let client = OAuthClient::from_client_secrets_json(json.to_string().as_bytes()).unwrap();
    assert!(InstalledFlow::new(client, endpoint).start().is_err());
}

#[tokio::test]
async fn bad_settings_are_refused_before_listening() {
    let endpoint = FakeTokenEndpoint::new();
    let err = flow(&endpoint, &FakeClock::new())
        .with_scopes(Vec::<String>::new())
        .start()
        .unwrap_err();
    assert!(err.to_string().contains("at least one scope"));
    let err = InstalledFlow::new(
        client(&endpoint).with_auth_uri("http://accounts.example.com/auth"),
        endpoint.clone(),
    )
    .start()
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the authorization endpoint is not an https:// URL"),
        "{err}"
    );
    let err = InstalledFlow::new(
        client(&endpoint).with_token_uri("http://oauth2.example.com/token"),
        endpoint.clone(),
    )
    .start()
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the token endpoint is not an https:// URL"),
        "{err}"
    );
}

#[test]
fn the_default_scopes_are_identity_and_cloud() {
    let endpoint = FakeTokenEndpoint::new();
    let login = InstalledFlow::new(client(&endpoint), endpoint.clone())
        .start()
        .unwrap();
    assert_eq!(
        member(&query(&login), "scope"),
        "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/cloud-platform"
    );
    let pairs = query(&login);
    assert!(
        pairs
            .iter()
            .all(|(n, _)| n != "prompt" && n != "login_hint")
    );
    assert!(format!("{:?}", InstalledFlow::new(client(&endpoint), endpoint)).contains("cid.apps"));
}
