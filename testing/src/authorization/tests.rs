//! The fake authorization server over a real socket, with hyper's client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

use super::*;

const FORM: &str = "application/x-www-form-urlencoded";
const REDIRECT: &str = "http://127.0.0.1:8765/callback";
/// RFC 7636 Appendix B's verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// An answer: status, headers, body.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }

    fn error(&self) -> (u16, String, String) {
        let body = self.json();
        (
            self.status,
            body["error"].as_str().unwrap().to_owned(),
            body["error_description"].as_str().unwrap().to_owned(),
        )
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// The redirect's target.
    fn location(&self) -> url::Url {
        assert_eq!(self.status, 302, "{}", self.body);
        url::Url::parse(self.header("location").unwrap()).unwrap()
    }

    /// The redirect's query members.
    fn redirected(&self) -> Vec<(String, String)> {
        self.location().query_pairs().into_owned().collect()
    }

    /// The first value of the redirect's query member `name`.
    fn redirected_param(&self, name: &str) -> Option<String> {
        self.redirected()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

async fn send(
    server: &FakeAuthorizationServer,
    method: &str,
    target: &str,
    content_type: Option<&str>,
    body: String,
) -> Answer {
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let mut request = http::Request::builder()
        .method(method)
        .uri(target)
        .header("host", server.addr.to_string());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = sender
        .send_request(request.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

fn encode(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn post(server: &FakeAuthorizationServer, path: &str, form: &[(&str, &str)]) -> Answer {
    send(server, "POST", path, Some(FORM), encode(form)).await
}

/// An authorization request's members, to change one at a time.
#[derive(Clone)]
struct Authorize<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Authorize<'a> {
    fn new() -> Self {
        Self(vec![
            ("client_id", FAKE_CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid email"),
            ("state", "st-1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("access_type", "offline"),
        ])
    }

    fn set(mut self, name: &'a str, value: &'a str) -> Self {
        self.0.retain(|(k, _)| *k != name);
        self.0.push((name, value));
        self
    }

    fn without(mut self, name: &str) -> Self {
        self.0.retain(|(k, _)| *k != name);
        self
    }

    async fn send(&self, server: &FakeAuthorizationServer) -> Answer {
        let target = format!("/o/oauth2/auth?{}", encode(&self.0));
        send(server, "GET", &target, None, String::new()).await
    }

    /// The code of the redirect.
    async fn code(&self, server: &FakeAuthorizationServer) -> String {
        self.send(server).await.redirected_param("code").unwrap()
    }
}

/// The exchange of `code` with the right client, redirect URI and verifier.
fn exchange(code: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("client_id", FAKE_CLIENT_ID),
        ("client_secret", FAKE_CLIENT_SECRET),
        ("code_verifier", VERIFIER),
    ]
}

fn set<'a>(
    mut form: Vec<(&'a str, &'a str)>,
    name: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    form.retain(|(k, _)| *k != name);
    form.push((name, value));
    form
}

fn without<'a>(mut form: Vec<(&'a str, &'a str)>, name: &str) -> Vec<(&'a str, &'a str)> {
    form.retain(|(k, _)| *k != name);
    form
}

fn refresh(token: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", token),
        ("client_id", FAKE_CLIENT_ID),
        ("client_secret", FAKE_CLIENT_SECRET),
    ]
}

fn poll(device_code: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", serve::DEVICE_GRANT),
        ("device_code", device_code),
        ("client_id", FAKE_CLIENT_ID),
        ("client_secret", FAKE_CLIENT_SECRET),
    ]
}

fn claims(id_token: &Value) -> Value {
    let payload = id_token.as_str().unwrap().split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn device_code(server: &FakeAuthorizationServer) -> String {
    let answer = post(
        server,
        "/device/code",
        &[("client_id", FAKE_CLIENT_ID), ("scope", "openid email")],
    )
    .await;
    answer.json()["device_code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_urls_and_the_client_secrets_file_name_this_server() {
    let server = FakeAuthorizationServer::builder()
        .with_client("my-id", "my-secret")
        .start()
        .await
        .unwrap();
    let url = server.url();
    assert_eq!(url, format!("http://{}", server.addr));
    assert!(url.starts_with("http://127.0.0.1:"));
    assert_eq!(server.authorize_url(), format!("{url}/o/oauth2/auth"));
    assert_eq!(server.token_url(), format!("{url}/token"));
    assert_eq!(server.device_url(), format!("{url}/device/code"));
    assert_eq!(server.revoke_url(), format!("{url}/revoke"));
    for kind in ["installed", "web"] {
        let secrets: Value = serde_json::from_str(&server.client_secrets_json(kind)).unwrap();
        assert_eq!(
            secrets,
            json!({ kind: {
                "client_id": "my-id",
                "project_id": "fake-project",
                "auth_uri": server.authorize_url(),
                "token_uri": server.token_url(),
                "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
                "client_secret": "my-secret",
                "redirect_uris": ["http://localhost"],
            }})
        );
    }
    let shown = format!("{server:?}");
    assert!(shown.contains("my-id"), "{shown}");
    assert!(!shown.contains("my-secret"), "{shown}");
}

#[tokio::test]
async fn a_code_and_its_verifier_get_tokens_with_a_refresh_token_when_offline() {
    let server = FakeAuthorizationServer::start().await.unwrap();
    let answer = Authorize::new().send(&server).await;
    let location = answer.location();
    assert_eq!(
        location.as_str().split('?').next(),
        Some("http://127.0.0.1:8765/callback")
    );
    let members = answer.redirected();
    let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["code", "state", "scope"]);
    assert_eq!(answer.redirected_param("state").unwrap(), "st-1");
    assert_eq!(answer.redirected_param("scope").unwrap(), "openid email");
    let code = answer.redirected_param("code").unwrap();
    assert!(code.starts_with("fake-code-1-"), "{code}");
    assert_eq!(code.len(), "fake-code-1-".len() + 16, "{code}");

    let tokens = post(&server, "/token", &exchange(&code)).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(
        tokens.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let body = tokens.json();
    assert_eq!(body["access_token"], "fake-user-access-token-1");
    assert_eq!(body["refresh_token"], "fake-user-refresh-token-1");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["scope"], "openid email");
    assert_eq!(body["token_type"], "Bearer");
    let claims = claims(&body["id_token"]);
    assert_eq!(claims["aud"], FAKE_CLIENT_ID);
    assert_eq!(claims["azp"], FAKE_CLIENT_ID);
    assert_eq!(claims["email"], FAKE_USER_EMAIL);
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["iss"], "https://accounts.google.com");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(
        server.issued_refresh_tokens(),
        ["fake-user-refresh-token-1"]
    );

    // A second flow: new, different code and tokens.
    let second = Authorize::new().code(&server).await;
    assert!(second.starts_with("fake-code-2-"), "{second}");
    let body = post(&server, "/token", &exchange(&second)).await.json();
    assert_eq!(body["access_token"], "fake-user-access-token-2");
    assert_eq!(
        server.issued_refresh_tokens(),
        ["fake-user-refresh-token-1", "fake-user-refresh-token-2"]
    );
}

#[tokio::test]
async fn without_offline_access_there_is_no_refresh_token_and_without_openid_no_id_token() {
    let server = FakeAuthorizationServer::start().await.unwrap();
    let code = Authorize::new()
        .without("access_type")
        .set("scope", "email profile")
        .code(&server)
        .await;
    let body = post(&server, "/token", &exchange(&code)).await.json();
    assert_eq!(body["access_token"], "fake-user-access-token-1");
    assert_eq!(body["scope"], "email profile");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body.get("id_token").is_none(), "{body}");
    assert!(server.issued_refresh_tokens().is_empty());

    let online = Authorize::new()
        .set("access_type", "online")
        .code(&server)
        .await;
    let body = post(&server, "/token", &exchange(&online)).await.json();
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body.get("id_token").is_some(), "{body}");
}

#[tokio::test]
async fn the_client_and_the_redirect_uri_are_refused_with_a_page_never_a_redirect() {
    let server = FakeAuthorizationServer::builder()
        .with_authorize_replies([AuthorizeReply::NoCode])
        .start()
        .await
        .unwrap();
    let cases = [
        (Authorize::new().without("client_id"), "invalid_request"),
        (
            Authorize::new().set("client_id", "other.apps.googleusercontent.com"),
            "invalid_request",
        ),
        (Authorize::new().without("redirect_uri"), "invalid_request"),
        (
            Authorize::new().set("redirect_uri", "https://127.0.0.1:8765/"),
            "redirect_uri_mismatch",
        ),
        (
            Authorize::new().set("redirect_uri", "http://example.com/"),
            "redirect_uri_mismatch",
        ),
        (
            Authorize::new().set("redirect_uri", "http://127.0.0.2:80/"),
            "redirect_uri_mismatch",
        ),
        (
            Authorize::new().set("redirect_uri", "http://[::2]:80/"),
            "redirect_uri_mismatch",
        ),
        (
            Authorize::new().set("redirect_uri", "http://127.0.0.1:80/#f"),
            "redirect_uri_mismatch",
        ),
        (
            Authorize::new().set("redirect_uri", "not a uri"),
            "redirect_uri_mismatch",
        ),
        (
            Authorize::new().set("redirect_uri", "urn:ietf:wg:oauth:2.0:oob"),
            "redirect_uri_mismatch",
        ),
    ];
    for (request, error) in cases {
        let answer = request.send(&server).await;
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert!(answer.header("location").is_none());
        assert!(
            answer
                .header("content-type")
                .unwrap()
                .starts_with("text/html")
        );
        assert!(
            answer.body.contains(&format!("Error 400: {error}")),
            "{}",
            answer.body
        );
    }
    // No refusal used the scripted reply.
    let answer = Authorize::new().send(&server).await;
    assert_eq!(answer.redirected_param("code"), None);
    assert_eq!(answer.redirected_param("state").as_deref(), Some("st-1"));
}

#[tokio::test]
async fn every_loopback_host_and_port_is_a_redirect_uri_and_its_query_is_kept() {
    let server = FakeAuthorizationServer::start().await.unwrap();
    for uri in [
        "http://127.0.0.1:1/",
        "http://localhost:65535/cb",
        "http://LOCALHOST/",
        "http://[::1]:4000/x/y",
    ] {
        let answer = Authorize::new()
            .set("redirect_uri", uri)
            .send(&server)
            .await;
        let location = answer.location();
        assert_eq!(
            location.as_str().split('?').next().unwrap(),
            url::Url::parse(uri).unwrap().as_str()
        );
        assert!(answer.redirected_param("code").is_some());
    }
    let answer = Authorize::new()
        .set("redirect_uri", "http://127.0.0.1:9/cb?keep=1")
        .without("state")
        .send(&server)
        .await;
    let keys: Vec<String> = answer.redirected().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["keep", "code", "scope"]);
}

#[tokio::test]
async fn the_rest_of_the_request_is_refused_with_a_redirect_carrying_the_state() {
    let server = FakeAuthorizationServer::builder()
        .with_authorize_replies([AuthorizeReply::NoCode])
        .start()
        .await
        .unwrap();
    let long = "a".repeat(129);
    let longest = "a".repeat(128);
    let shortest = "a".repeat(43);
    let short = "a".repeat(42);
    let cases = [
        (Authorize::new().without("response_type"), "response_type"),
        (
            Authorize::new().set("response_type", "token"),
            "response_type",
        ),
        (Authorize::new().without("scope"), "scope"),
        (Authorize::new().set("scope", "  "), "scope"),
        (Authorize::new().without("code_challenge"), "code_challenge"),
        (
            Authorize::new().set("code_challenge", &short),
            "code_challenge",
        ),
        (
            Authorize::new().set("code_challenge", &long),
            "code_challenge",
        ),
        (
            Authorize::new().set(
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
            ),
            "code_challenge",
        ),
        (
            Authorize::new().set(
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw/cM",
            ),
            "code_challenge",
        ),
        (
            Authorize::new().without("code_challenge_method"),
            "code_challenge_method",
        ),
        (
            Authorize::new().set("code_challenge_method", "plain"),
            "code_challenge_method",
        ),
    ];
    for (request, about) in cases {
        let answer = request.send(&server).await;
        let members = answer.redirected();
        let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["error", "error_description", "state"]);
        assert_eq!(answer.redirected_param("error").unwrap(), "invalid_request");
        assert_eq!(answer.redirected_param("state").unwrap(), "st-1");
        assert!(
            answer
                .redirected_param("error_description")
                .unwrap()
                .contains(about),
            "{members:?}"
        );
    }
    // Challenges of 43 and 128 unreserved characters pass (and the first uses the reply).
    for challenge in [&shortest, &longest, &"-._~aZ09".repeat(6)] {
        let answer = Authorize::new()
            .set("code_challenge", challenge)
            .send(&server)
            .await;
        assert_eq!(answer.redirected_param("error"), None);
    }
}

#[tokio::test]
async fn the_authorize_replies_come_in_order_then_codes() {
    let server = FakeAuthorizationServer::builder()
        .with_authorize_replies([
            AuthorizeReply::Error("access_denied".to_owned()),
            AuthorizeReply::WrongState,
            AuthorizeReply::NoCode,
            AuthorizeReply::RepeatedCode,
            AuthorizeReply::NoRedirect,
        ])
        .start()
        .await
        .unwrap();
    let denied = Authorize::new().send(&server).await;
    let members = denied.redirected();
    let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["error", "error_description", "state"]);
    assert_eq!(denied.redirected_param("error").unwrap(), "access_denied");
    assert_eq!(denied.redirected_param("state").unwrap(), "st-1");

    let tampered = Authorize::new().send(&server).await;
    assert_eq!(tampered.redirected_param("state").unwrap(), "st-1-tampered");
    let code = tampered.redirected_param("code").unwrap();
    // The code itself is good: only the state is wrong.
    let tokens = post(&server, "/token", &exchange(&code)).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);

    let no_code = Authorize::new().send(&server).await;
    assert_eq!(
        no_code.redirected(),
        [("state".to_owned(), "st-1".to_owned())]
    );

    let repeated = Authorize::new().send(&server).await;
    let members = repeated.redirected();
    let codes: Vec<&str> = members
        .iter()
        .filter(|(k, _)| k == "code")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(codes.len(), 2);
    assert_ne!(codes[0], codes[1]);
    assert_eq!(repeated.redirected_param("state").unwrap(), "st-1");
    for code in codes {
        assert_eq!(post(&server, "/token", &exchange(code)).await.status, 200);
    }

    let stuck = Authorize::new().send(&server).await;
    assert_eq!(stuck.status, 200);
    assert!(stuck.header("location").is_none());
    assert!(
        stuck
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(stuck.body.contains("<html"), "{}", stuck.body);

    // The queue is empty: codes again.
    let code = Authorize::new().code(&server).await;
    assert_eq!(post(&server, "/token", &exchange(&code)).await.status, 200);
}

#[tokio::test]
async fn a_tampered_state_without_a_state_is_just_the_suffix() {
    let server = FakeAuthorizationServer::builder()
        .with_authorize_replies([AuthorizeReply::WrongState])
        .start()
        .await
        .unwrap();
    let answer = Authorize::new().without("state").send(&server).await;
    assert_eq!(answer.redirected_param("state").unwrap(), "-tampered");
}

#[tokio::test]
async fn granted_scopes_replace_the_requested_ones() {
    let server = FakeAuthorizationServer::builder()
        .with_granted_scopes(["email"])
        .start()
        .await
        .unwrap();
    let answer = Authorize::new().send(&server).await;
    assert_eq!(answer.redirected_param("scope").unwrap(), "email");
    let code = answer.redirected_param("code").unwrap();
    let body = post(&server, "/token", &exchange(&code)).await.json();
    assert_eq!(body["scope"], "email");
    assert!(body.get("id_token").is_none(), "{body}");
    let device = device_code(&server).await;
    let body = post(&server, "/token", &poll(&device)).await.json();
    assert_eq!(body["scope"], "email");
}

#[tokio::test]
async fn the_exchange_is_checked_in_order_and_the_code_is_used_by_the_first_check_on_it() {
    let server = FakeAuthorizationServer::start().await.unwrap();
    let code = Authorize::new().code(&server).await;
    // The client first: the code stays unused.
    let client_cases = [
        set(exchange(&code), "client_id", "other"),
        without(exchange(&code), "client_id"),
        set(exchange(&code), "client_secret", "wrong-secret"),
        without(exchange(&code), "client_secret"),
    ];
    for form in client_cases {
        let (status, error, _) = post(&server, "/token", &form).await.error();
        assert_eq!((status, error.as_str()), (401, "invalid_client"));
    }
    let (status, error, description) = post(&server, "/token", &without(exchange(&code), "code"))
        .await
        .error();
    assert_eq!(
        (status, error.as_str(), description.as_str()),
        (400, "invalid_grant", "Malformed auth code.")
    );
    let (_, error, description) = post(&server, "/token", &exchange("fake-code-9-0000"))
        .await
        .error();
    assert_eq!(
        (error.as_str(), description.as_str()),
        ("invalid_grant", "Malformed auth code.")
    );
    // A wrong redirect URI uses the code up.
    let answer = post(
        &server,
        "/token",
        &set(
            exchange(&code),
            "redirect_uri",
            "http://127.0.0.1:8765/other",
        ),
    )
    .await;
    assert_eq!(answer.error().0, 400);
    assert_eq!(answer.error().1, "redirect_uri_mismatch");
    let (status, error, description) = post(&server, "/token", &exchange(&code)).await.error();
    assert_eq!(
        (status, error.as_str(), description.as_str()),
        (400, "invalid_grant", "Bad Request")
    );

    // A missing redirect URI too.
    let code = Authorize::new().code(&server).await;
    let answer = post(&server, "/token", &without(exchange(&code), "redirect_uri")).await;
    assert_eq!(answer.error().1, "redirect_uri_mismatch");
    assert_eq!(
        post(&server, "/token", &exchange(&code)).await.error().2,
        "Bad Request"
    );

    // A wrong or missing verifier too.
    for wrong in [
        set(
            exchange("x"),
            "code_verifier",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
        ),
        without(exchange("x"), "code_verifier"),
        set(exchange("x"), "code_verifier", CHALLENGE),
    ] {
        let code = Authorize::new().code(&server).await;
        let form = set(wrong, "code", &code);
        let answer = post(&server, "/token", &form).await;
        let (status, error, description) = answer.error();
        assert_eq!(
            (status, error.as_str(), description.as_str()),
            (400, "invalid_grant", "Invalid code verifier.")
        );
        for secret in [code.as_str(), VERIFIER, FAKE_CLIENT_SECRET] {
            assert!(!answer.body.contains(secret), "{}", answer.body);
        }
        assert_eq!(
            post(&server, "/token", &exchange(&code)).await.error().2,
            "Bad Request"
        );
    }
    assert!(server.issued_refresh_tokens().is_empty());
}

#[tokio::test]
async fn a_code_is_single_use() {
    let server = FakeAuthorizationServer::start().await.unwrap();
    let code = Authorize::new().code(&server).await;
    assert_eq!(post(&server, "/token", &exchange(&code)).await.status, 200);
    let answer = post(&server, "/token", &exchange(&code)).await;
    assert_eq!(
        answer.error(),
        (400, "invalid_grant".to_owned(), "Bad Request".to_owned())
    );
    assert!(!answer.body.contains(&code));
    assert_eq!(server.issued_refresh_tokens().len(), 1);
}

#[tokio::test]
async fn the_token_replies_come_in_order_and_only_issue_checks() {
    let server = FakeAuthorizationServer::builder()
        .with_token_replies([
            TokenReply::Garbage,
            TokenReply::Json(503, r#"{"error":"temporarily_unavailable"}"#.to_owned()),
            TokenReply::Json(1000, "{}".to_owned()),
            TokenReply::NoRefreshToken,
            TokenReply::NoRefreshToken,
        ])
        .start()
        .await
        .unwrap();
    let code = Authorize::new().code(&server).await;
    // Garbage and Json check nothing (a wrong client, say) and leave the code unused.
    let garbage = post(&server, "/token", &set(exchange(&code), "client_id", "x")).await;
    assert_eq!(garbage.status, 200);
    assert_eq!(garbage.header("content-type"), Some("text/html"));
    assert_eq!(garbage.body, "<html>oops</html>");
    let json = post(&server, "/token", &without(exchange(&code), "code")).await;
    assert_eq!(json.status, 503);
    assert_eq!(
        json.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(json.body, r#"{"error":"temporarily_unavailable"}"#);
    let invalid = post(&server, "/token", &exchange(&code)).await;
    assert_eq!(invalid.status, 500);
    // NoRefreshToken checks, and leaves out the refresh token though offline was asked.
    let wrong = post(
        &server,
        "/token",
        &without(exchange(&code), "code_verifier"),
    )
    .await;
    assert_eq!(wrong.error().2, "Invalid code verifier.");
    let code = Authorize::new().code(&server).await;
    let body = post(&server, "/token", &exchange(&code)).await.json();
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body.get("access_token").is_some(), "{body}");
    assert!(server.issued_refresh_tokens().is_empty());
    // Then Issue.
    let code = Authorize::new().code(&server).await;
    let body = post(&server, "/token", &exchange(&code)).await.json();
    assert!(body.get("refresh_token").is_some(), "{body}");
}

#[tokio::test]
async fn the_token_replies_serve_only_the_code_grant() {
    let server = FakeAuthorizationServer::builder()
        .with_token_replies([TokenReply::Garbage])
        .start()
        .await
        .unwrap();
    let device = device_code(&server).await;
    let body = post(&server, "/token", &poll(&device)).await.json();
    let refresh_token = body["refresh_token"].as_str().unwrap();
    assert_eq!(
        post(&server, "/token", &refresh(refresh_token))
            .await
            .status,
        200
    );
    let code = Authorize::new().code(&server).await;
    assert_eq!(
        post(&server, "/token", &exchange(&code)).await.body,
        "<html>oops</html>"
    );
}

#[tokio::test]
async fn an_issued_refresh_token_refreshes_until_it_is_revoked() {
    let server = FakeAuthorizationServer::start().await.unwrap();
    let code = Authorize::new().code(&server).await;
    let body = post(&server, "/token", &exchange(&code)).await.json();
    let refresh_token = body["refresh_token"].as_str().unwrap().to_owned();

    let refreshed = post(&server, "/token", &refresh(&refresh_token)).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let refreshed = refreshed.json();
    assert_eq!(refreshed["access_token"], "fake-user-access-token-2");
    assert_eq!(refreshed["scope"], "openid email");
    assert_eq!(refreshed["expires_in"], 3599);
    assert_eq!(refreshed["token_type"], "Bearer");
    assert_eq!(claims(&refreshed["id_token"])["email"], FAKE_USER_EMAIL);
    assert!(refreshed.get("refresh_token").is_none(), "{refreshed}");
    assert_eq!(
        server.issued_refresh_tokens(),
        std::slice::from_ref(&refresh_token)
    );

    for form in [
        set(refresh(&refresh_token), "client_id", "other"),
        set(refresh(&refresh_token), "client_secret", "wrong"),
    ] {
        assert_eq!(
            post(&server, "/token", &form).await.error().1,
            "invalid_client"
        );
    }
    for form in [
        refresh("fake-user-refresh-token-9"),
        refresh("fake-user-access-token-1"),
        without(refresh(&refresh_token), "refresh_token"),
    ] {
        let answer = post(&server, "/token", &form).await;
        assert_eq!(
            answer.error(),
            (
                400,
                "invalid_grant".to_owned(),
                "Token has been expired or revoked.".to_owned()
            )
        );
    }

    let revoked = post(&server, "/revoke", &[("token", &refresh_token)]).await;
    assert_eq!((revoked.status, revoked.json()), (200, json!({})));
    let answer = post(&server, "/token", &refresh(&refresh_token)).await;
    assert_eq!(answer.error().1, "invalid_grant");
    assert!(!answer.body.contains(&refresh_token));
    assert_eq!(server.revoked_tokens(), [refresh_token]);
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_access_tokens_and_nothing_twice() {
    let server = FakeAuthorizationServer::start().await.unwrap();
    let first = Authorize::new().code(&server).await;
    let first = post(&server, "/token", &exchange(&first)).await.json();
    let second = Authorize::new().code(&server).await;
    let second = post(&server, "/token", &exchange(&second)).await.json();
    let refresh_token = first["refresh_token"].as_str().unwrap();
    let refreshed = post(&server, "/token", &refresh(refresh_token))
        .await
        .json();

    let missing = post(&server, "/revoke", &[("token_type_hint", "refresh_token")]).await;
    assert_eq!(missing.error().0, 400);
    assert_eq!(missing.error().1, "invalid_request");
    let unknown = post(
        &server,
        "/revoke",
        &[("token", "fake-user-refresh-token-9")],
    )
    .await;
    assert_eq!(
        unknown.error(),
        (
            400,
            "invalid_token".to_owned(),
            "Token expired or revoked".to_owned()
        )
    );
    assert!(!unknown.body.contains("fake-user-refresh-token-9"));

    let answer = post(
        &server,
        "/revoke",
        &[
            ("token", refresh_token),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    for token in [
        refresh_token,
        first["access_token"].as_str().unwrap(),
        refreshed["access_token"].as_str().unwrap(),
    ] {
        let answer = post(&server, "/revoke", &[("token", token)]).await;
        assert_eq!(answer.error().1, "invalid_token", "{token}");
    }
    // The other flow's tokens are untouched; an access token is revoked alone.
    let access_token = second["access_token"].as_str().unwrap();
    assert_eq!(
        post(&server, "/revoke", &[("token", access_token)])
            .await
            .status,
        200
    );
    let second_refresh = second["refresh_token"].as_str().unwrap();
    assert_eq!(
        post(&server, "/token", &refresh(second_refresh))
            .await
            .status,
        200
    );
    assert_eq!(server.revoked_tokens(), [refresh_token, access_token]);
}

#[tokio::test]
async fn the_device_endpoint_answers_googles_names_or_the_rfcs() {
    let server = FakeAuthorizationServer::start().await.unwrap();
    let answer = post(
        &server,
        "/device/code",
        &[("client_id", FAKE_CLIENT_ID), ("scope", "email")],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let mut body = answer.json();
    let device_code = body["device_code"].as_str().unwrap().to_owned();
    assert!(
        device_code.starts_with("fake-device-code-1-"),
        "{device_code}"
    );
    assert_eq!(device_code.len(), "fake-device-code-1-".len() + 16);
    body.as_object_mut().unwrap().remove("device_code");
    assert_eq!(
        body,
        json!({
            "user_code": "WDJB-MJHT",
            "verification_url": format!("{}/device", server.url()),
            "expires_in": 1800,
            "interval": 5,
        })
    );

    let rfc = FakeAuthorizationServer::builder()
        .with_rfc_device_names()
        .with_device_interval(1)
        .with_device_expires_in(60)
        .start()
        .await
        .unwrap();
    let mut body = post(
        &rfc,
        "/device/code",
        &[("client_id", FAKE_CLIENT_ID), ("scope", "email")],
    )
    .await
    .json();
    body.as_object_mut().unwrap().remove("device_code");
    assert_eq!(
        body,
        json!({
            "user_code": FAKE_USER_CODE,
            "verification_uri": format!("{}/device", rfc.url()),
            "verification_uri_complete": format!("{}/device?user_code=WDJB-MJHT", rfc.url()),
            "expires_in": 60,
            "interval": 1,
        })
    );

    for (form, status, error) in [
        (vec![("scope", "email")], 401, "invalid_client"),
        (
            vec![("client_id", "other"), ("scope", "email")],
            401,
            "invalid_client",
        ),
        (vec![("client_id", FAKE_CLIENT_ID)], 400, "invalid_scope"),
        (
            vec![("client_id", FAKE_CLIENT_ID), ("scope", " ")],
            400,
            "invalid_scope",
        ),
    ] {
        let answer = post(&server, "/device/code", &form).await;
        assert_eq!(
            (answer.error().0, answer.error().1.as_str()),
            (status, error)
        );
    }

    let page = send(
        &server,
        "GET",
        "/device?user_code=WDJB-MJHT",
        None,
        String::new(),
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.body.contains("<html"), "{}", page.body);
}

#[tokio::test]
async fn the_device_polls_follow_the_script_then_the_code_is_used_up() {
    let server = FakeAuthorizationServer::builder()
        .with_device_polls([
            DevicePoll::Pending,
            DevicePoll::SlowDown,
            DevicePoll::Deny,
            DevicePoll::Expire,
        ])
        .start()
        .await
        .unwrap();
    let device = device_code(&server).await;
    // Refusals before the script use none of it.
    for (form, status, error) in [
        (
            set(poll(&device), "client_id", "other"),
            401,
            "invalid_client",
        ),
        (
            without(poll(&device), "client_secret"),
            401,
            "invalid_client",
        ),
        (
            without(poll(&device), "device_code"),
            400,
            "invalid_request",
        ),
        (poll("fake-device-code-9-00"), 400, "invalid_grant"),
    ] {
        let answer = post(&server, "/token", &form).await;
        assert_eq!(
            (answer.error().0, answer.error().1.as_str()),
            (status, error)
        );
        assert!(!answer.body.contains(&device), "{}", answer.body);
    }
    let expected = [
        (428, "authorization_pending", "Precondition Required"),
        (403, "slow_down", "Forbidden"),
        (403, "access_denied", "Forbidden"),
        (400, "expired_token", "Expired device code."),
    ];
    for (status, error, description) in expected {
        let answer = post(&server, "/token", &poll(&device)).await;
        assert_eq!(
            answer.error(),
            (status, error.to_owned(), description.to_owned())
        );
    }
    let approved = post(&server, "/token", &poll(&device)).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    let body = approved.json();
    assert_eq!(body["access_token"], "fake-user-access-token-1");
    assert_eq!(body["refresh_token"], "fake-user-refresh-token-1");
    assert_eq!(body["scope"], "openid email");
    assert_eq!(claims(&body["id_token"])["aud"], FAKE_CLIENT_ID);
    assert_eq!(
        server.issued_refresh_tokens(),
        ["fake-user-refresh-token-1"]
    );
    let again = post(&server, "/token", &poll(&device)).await;
    assert_eq!(again.error().1, "invalid_grant");
}

#[tokio::test]
async fn unknown_grants_paths_methods_and_bodies_are_refused() {
    let server = FakeAuthorizationServer::start().await.unwrap();
    for form in [
        vec![("grant_type", "client_credentials")],
        vec![("grant_type", "")],
        vec![("client_id", FAKE_CLIENT_ID)],
    ] {
        let answer = post(&server, "/token", &form).await;
        assert_eq!(answer.error().0, 400);
        assert_eq!(answer.error().1, "unsupported_grant_type");
    }
    for path in [
        "/",
        "/token/",
        "/o/oauth2/v2/auth",
        "/oauth2/v4/token",
        "/revoke/x",
    ] {
        let answer = send(&server, "GET", path, None, String::new()).await;
        assert_eq!(answer.status, 404, "{path}");
    }
    for (method, path, allowed) in [
        ("POST", "/o/oauth2/auth", "GET"),
        ("GET", "/token", "POST"),
        ("PUT", "/token", "POST"),
        ("GET", "/device/code", "POST"),
        ("POST", "/device", "GET"),
        ("GET", "/revoke", "POST"),
    ] {
        let answer = send(&server, method, path, Some(FORM), String::new()).await;
        assert_eq!(answer.status, 405, "{method} {path}");
        assert_eq!(answer.header("allow"), Some(allowed));
    }
    for path in ["/token", "/device/code", "/revoke"] {
        for content_type in [None, Some("application/json")] {
            let body = encode(&refresh("fake-user-refresh-token-1"));
            let answer = send(&server, "POST", path, content_type, body).await;
            assert_eq!(answer.error().0, 400, "{path}");
            assert_eq!(answer.error().1, "invalid_request", "{path}");
        }
    }
    assert_eq!(server.requests().len(), 3 + 5 + 6 + 6);
}

#[tokio::test]
async fn every_request_is_recorded_and_its_debug_hides_the_secrets() {
    let server = FakeAuthorizationServer::start().await.unwrap();
    let answer = Authorize::new()
        .set("prompt", "consent")
        .set("login_hint", "someone@example.com")
        .set("include_granted_scopes", "true")
        .set("code", "query-code-secret")
        .send(&server)
        .await;
    let code = answer.redirected_param("code").unwrap();
    let tokens = post(&server, "/token", &exchange(&code)).await.json();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    post(&server, "/token", &refresh(refresh_token)).await;
    let device = device_code(&server).await;
    post(&server, "/token", &poll(&device)).await;
    post(&server, "/revoke", &[("token", refresh_token)]).await;

    let requests = server.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path()).collect();
    assert_eq!(
        paths,
        [
            "/o/oauth2/auth",
            "/token",
            "/token",
            "/device/code",
            "/token",
            "/revoke"
        ]
    );
    let authorize = &requests[0];
    assert_eq!(authorize.method(), "GET");
    assert_eq!(authorize.param("prompt"), Some("consent"));
    assert_eq!(authorize.param("login_hint"), Some("someone@example.com"));
    assert_eq!(authorize.param("include_granted_scopes"), Some("true"));
    assert_eq!(authorize.param("access_type"), Some("offline"));
    assert_eq!(authorize.param("scope"), Some("openid email"));
    assert_eq!(authorize.params("code_challenge"), [CHALLENGE]);
    assert_eq!(authorize.param("missing"), None);
    assert!(authorize.params("missing").is_empty());
    assert_eq!(authorize.query_pairs().len(), 12);
    assert_eq!(requests[1].method(), "POST");
    assert_eq!(requests[1].param("code_verifier"), Some(VERIFIER));
    assert_eq!(requests[1].header("content-type"), Some(FORM));

    let shown = format!("{requests:?}");
    for secret in [
        code.as_str(),
        "query-code-secret",
        VERIFIER,
        FAKE_CLIENT_SECRET,
        refresh_token,
        device.as_str(),
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    for shown_value in [
        "consent",
        "someone@example.com",
        CHALLENGE,
        "authorization_code",
    ] {
        assert!(shown.contains(shown_value), "{shown_value} not in {shown}");
    }
}

#[tokio::test]
async fn params_read_the_query_then_the_form() {
    let server = FakeAuthorizationServer::start().await.unwrap();
    send(
        &server,
        "POST",
        "/revoke?token=a&x=1",
        Some(FORM),
        "token=b&token=c".to_owned(),
    )
    .await;
    let request = &server.requests()[0];
    assert_eq!(request.param("token"), Some("a"));
    assert_eq!(request.params("token"), ["a", "b", "c"]);
    assert_eq!(request.param("x"), Some("1"));
    // The revocation endpoint reads the form's token, which it never issued.
    let shown = format!("{request:?}");
    assert!(
        !shown.contains("\"a\"") && !shown.contains("\"b\""),
        "{shown}"
    );
}

#[tokio::test]
async fn a_minter_signs_the_id_tokens() {
    let server = FakeAuthorizationServer::builder()
        .with_id_token_minter(|claims| format!("minted-for-{}", claims["aud"].as_str().unwrap()))
        .with_client("id-2", "secret-2")
        .start()
        .await
        .unwrap();
    let code = Authorize::new()
        .set("client_id", "id-2")
        .code(&server)
        .await;
    let form = set(
        set(exchange(&code), "client_id", "id-2"),
        "client_secret",
        "secret-2",
    );
    let body = post(&server, "/token", &form).await.json();
    assert_eq!(body["id_token"], "minted-for-id-2");
    let refreshed = post(
        &server,
        "/token",
        &set(
            set(
                refresh(body["refresh_token"].as_str().unwrap()),
                "client_id",
                "id-2",
            ),
            "client_secret",
            "secret-2",
        ),
    )
    .await
    .json();
    assert_eq!(refreshed["id_token"], "minted-for-id-2");
}

#[test]
fn the_builder_and_the_replies_show_no_secret() {
    let builder = FakeAuthorizationServer::builder()
        .with_client("shown-id", "hidden-secret")
        .with_token_replies([TokenReply::Json(
            200,
            r#"{"access_token":"ya29.hidden"}"#.to_owned(),
        )])
        .with_authorize_replies([AuthorizeReply::NoRedirect])
        .with_device_polls([DevicePoll::SlowDown])
        .with_granted_scopes(["email"]);
    let shown = format!("{builder:?}");
    for hidden in ["hidden-secret", "ya29.hidden"] {
        assert!(!shown.contains(hidden), "{shown}");
    }
    for visible in ["shown-id", "NoRedirect", "SlowDown", "email", "status: 200"] {
        assert!(shown.contains(visible), "{visible} not in {shown}");
    }
    assert_eq!(format!("{:?}", TokenReply::Issue), "Issue");
    assert_eq!(format!("{:?}", TokenReply::Garbage), "Garbage");
    assert_eq!(
        format!("{:?}", TokenReply::NoRefreshToken),
        "NoRefreshToken"
    );
}

#[tokio::test]
async fn dropping_the_server_stops_it_and_closes_its_connections() {
    let server = FakeAuthorizationServer::start().await.unwrap();
    let addr = server.addr;
    let mut open = TcpStream::connect(addr).await.unwrap();
    drop(server);
    // The port refuses new connections once the aborted task is gone.
    let mut refused = false;
    for _ in 0..1000 {
        if TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(refused, "the server still accepts connections");
    // And the connection opened before is closed: the read ends.
    let mut buffer = [0u8; 16];
    let read = tokio::io::AsyncReadExt::read(&mut open, &mut buffer).await;
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

#[tokio::test]
async fn a_body_of_one_mebibyte_is_read_and_a_larger_one_refused() {
    let server = FakeAuthorizationServer::start().await.unwrap();
    let prefix = "grant_type=none&pad=";
    let body = format!("{prefix}{}", "a".repeat(1024 * 1024 - prefix.len()));
    let answer = send(&server, "POST", "/token", Some(FORM), body).await;
    assert_eq!(answer.error().1, "unsupported_grant_type");
    let body = "a".repeat(1024 * 1024 + 1);
    let answer = send(&server, "POST", "/token", Some(FORM), body).await;
    assert_eq!(
        answer.error(),
        (
            413,
            "invalid_request".to_owned(),
            "The request body is too large.".to_owned()
        )
    );
    assert_eq!(server.requests().len(), 1);
}
