//! `FakeAuthorizationServer` through its public interface only, as an installed app meets it:
//! a browser sent to the authorization URL, a loopback listener receiving the redirect, the
//! token endpoint, the device flow, revocation.
// Helpers may unwrap, as tests do.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use credkit_testing::{
    DevicePoll, FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_USER_CODE, FakeAuthorizationServer,
    TestIdTokenIssuer,
};
use http_body_util::BodyExt;
use serde_json::Value;
use support::{FORM, send};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const VERIFIER: &str = "a-verifier-of-at-least-forty-three-characters-0123456789";

fn addr(url: &str) -> SocketAddr {
    url.trim_start_matches("http://").parse().unwrap()
}

/// `path` and the query of `url`, as a request target.
fn target(url: &url::Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

/// Sends `method target` to `addr`; the status, the `location` header and the body.
async fn call(
    addr: SocketAddr,
    method: &str,
    target: &str,
    form: &[(&str, &str)],
) -> (u16, Option<String>, String) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let content_type = (method == "POST").then_some(FORM);
    let response = send(addr, method, target, content_type, body)
        .await
        .unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, location, String::from_utf8(body.to_vec()).unwrap())
}

async fn post(addr: SocketAddr, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let (status, _, body) = call(addr, "POST", path, form).await;
    (status, serde_json::from_str(&body).unwrap())
}

/// The app's redirect listener: accepts one connection and returns its request line's target.
async fn receive_redirect(listener: TcpListener) -> String {
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await.unwrap();
        assert_ne!(read, 0, "the browser hung up");
        head.extend_from_slice(&buffer[..read]);
    }
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let head = String::from_utf8(head).unwrap();
    head.split(' ').nth(1).unwrap().to_owned()
}

#[tokio::test]
async fn an_installed_app_signs_in_through_its_loopback_listener_refreshes_and_revokes() {
    let server = FakeAuthorizationServer::start().await.unwrap();
    let secrets: Value = serde_json::from_str(&server.client_secrets_json("installed")).unwrap();
    let installed = &secrets["installed"];
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect_uri = format!("http://{}/", listener.local_addr().unwrap());
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        VERIFIER.as_bytes(),
    ));

    // The app builds the authorization URL from the client secrets file.
    let mut authorize = url::Url::parse(installed["auth_uri"].as_str().unwrap()).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("client_id", installed["client_id"].as_str().unwrap())
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("response_type", "code")
        .append_pair(
            "scope",
            "openid email https://www.googleapis.com/auth/cloud-platform",
        )
        .append_pair("state", "random-state")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("access_type", "offline")
        .append_pair("prompt", "consent");

    // The browser opens it, and follows the redirect to the listener.
    let (status, location, _) = call(addr(&server.url()), "GET", &target(&authorize), &[]).await;
    assert_eq!(status, 302);
    let location = url::Url::parse(&location.unwrap()).unwrap();
    let redirect_seen = tokio::spawn(receive_redirect(listener));
    let (status, _, _) = call(
        addr(&format!("http://{}", location.authority())),
        "GET",
        &target(&location),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    let received = url::Url::parse(&format!("http://app{}", redirect_seen.await.unwrap())).unwrap();
    let member = |name: &str| {
        received
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    assert_eq!(member("state"), "random-state");
    assert_eq!(
        member("scope"),
        "openid email https://www.googleapis.com/auth/cloud-platform"
    );

    // The app exchanges the code at the file's token URI.
    let token_addr = addr(
        installed["token_uri"]
            .as_str()
            .unwrap()
            .trim_end_matches("/token"),
    );
    let code = member("code");
    let (status, tokens) = post(
        token_addr,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("client_id", FAKE_CLIENT_ID),
            ("client_secret", FAKE_CLIENT_SECRET),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(server.issued_refresh_tokens(), [refresh_token]);
    let requests = server.requests();
    assert_eq!(requests[0].param("prompt"), Some("consent"));
    assert_eq!(requests[1].param("code_verifier"), Some(VERIFIER));

    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", FAKE_CLIENT_ID),
        ("client_secret", FAKE_CLIENT_SECRET),
    ];
    let (status, refreshed) = post(token_addr, "/token", &refresh).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["access_token"], tokens["access_token"]);

    let revoke_path = server.revoke_url().replace(&server.url(), "");
    let (status, _) = post(token_addr, &revoke_path, &[("token", refresh_token)]).await;
    assert_eq!(status, 200);
    assert_eq!(server.revoked_tokens(), [refresh_token]);
    let (status, refused) = post(token_addr, "/token", &refresh).await;
    assert_eq!(
        (status, &refused["error"]),
        (400, &Value::from("invalid_grant"))
    );
}

#[tokio::test]
async fn a_device_polls_until_the_user_approves() {
    let server = FakeAuthorizationServer::builder()
        .with_device_polls([DevicePoll::Pending, DevicePoll::SlowDown])
        .with_device_interval(0)
        .start()
        .await
        .unwrap();
    let base = addr(&server.url());
    let device_path = server.device_url().replace(&server.url(), "");
    let (status, device) = post(
        base,
        &device_path,
        &[("client_id", FAKE_CLIENT_ID), ("scope", "email")],
    )
    .await;
    assert_eq!(status, 200, "{device}");
    assert_eq!(device["user_code"], FAKE_USER_CODE);
    assert_eq!(device["interval"], 0);
    let page = url::Url::parse(device["verification_url"].as_str().unwrap()).unwrap();
    let (status, _, html) = call(base, "GET", page.path(), &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("<html"), "{html}");

    let device_code = device["device_code"].as_str().unwrap();
    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", device_code),
        ("client_id", FAKE_CLIENT_ID),
        ("client_secret", FAKE_CLIENT_SECRET),
    ];
    let mut answers = Vec::new();
    loop {
        let (status, body) = post(base, "/token", &poll).await;
        answers.push(status);
        if status == 200 {
            assert!(body["refresh_token"].is_string(), "{body}");
            break;
        }
        assert!(answers.len() < 10, "{answers:?}");
    }
    assert_eq!(answers, [428, 403, 200]);
}

#[tokio::test]
async fn a_test_issuer_signs_the_id_tokens() {
    let issuer = TestIdTokenIssuer::generate().unwrap();
    let kid = issuer.rsa_kid().to_owned();
    let server = FakeAuthorizationServer::builder()
        .with_id_token_minter(move |claims| issuer.mint(claims))
        .start()
        .await
        .unwrap();
    let base = addr(&server.url());
    let (_, device) = post(
        base,
        "/device/code",
        &[("client_id", FAKE_CLIENT_ID), ("scope", "openid")],
    )
    .await;
    let (status, tokens) = post(
        base,
        "/token",
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device["device_code"].as_str().unwrap()),
            ("client_id", FAKE_CLIENT_ID),
            ("client_secret", FAKE_CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], kid.as_str());
    assert_eq!(header["alg"], "RS256");
}
