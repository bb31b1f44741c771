//! The flows against the test kit's `FakeAuthorizationServer`, over real sockets and the
//! reqwest transport: the fake checks the authorization request, the PKCE verifier, the
//! redirect URI and the client as Google does, so these tests fail if any member is wrong.
// Helpers outside #[test] functions unwrap as the tests do.
#![allow(clippy::unwrap_used)]

use credkit_core::{Credentials, Transport};
use credkit_login::{DeviceFlow, InstalledFlow, OAuthClient, Revocation, Revoker};
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{
    AuthorizeReply, DevicePoll, FAKE_CLIENT_ID, FAKE_USER_CODE, FakeAuthorizationServer, TokenReply,
};
use secrecy::ExposeSecret;

fn transport() -> ReqwestTransport {
    ReqwestTransport::new().unwrap()
}

fn client(server: &FakeAuthorizationServer) -> OAuthClient {
    OAuthClient::from_client_secrets_json(server.client_secrets_json("installed").as_bytes())
        .unwrap()
        .with_device_authorization_uri(server.device_url())
        .with_revoke_uri(server.revoke_url())
}

/// A `GET` through the transport (which never follows a redirect): the status, the
/// `location` header and the body.
async fn get(url: &str) -> (u16, Option<String>, String) {
    let request = http::Request::get(url).body(bytes::Bytes::new()).unwrap();
    let response = transport().send(request).await.unwrap();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = String::from_utf8(response.body().to_vec()).unwrap();
    (response.status().as_u16(), location, body)
}

/// The browser: opens the authorization URL, follows the fake's redirect to the listener, and
/// returns the page the listener showed.
async fn browse(authorization_url: &str, redirect_uri: &str) -> (u16, String) {
    let (status, location, _) = get(authorization_url).await;
    assert_eq!(status, 302, "the fake redirects to the listener");
    let location = location.unwrap();
    assert!(location.starts_with(redirect_uri), "{location}");
    let (status, _, page) = get(&location).await;
    (status, page)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_accepts_the_code_flow_and_its_pkce_and_the_credentials_refresh_there() {
    let server = FakeAuthorizationServer::start().await.unwrap();
    let login = InstalledFlow::new(client(&server), transport())
        .with_scopes(["openid", "https://www.googleapis.com/auth/cloud-platform"])
        .start()
        .unwrap();
    let url = login.authorization_url().to_owned();
    let redirect_uri = login.redirect_uri().to_owned();
    let finished = tokio::spawn(login.finish());
    let (status, page) = browse(&url, &redirect_uri).await;
    assert_eq!(status, 200);
    assert!(page.contains("You are signed in to credkit"), "{page}");
    let user = finished.await.unwrap().unwrap();

    let issued = server.issued_refresh_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(user.refresh_token().unwrap().expose_secret(), issued[0]);
    assert!(user.id_token().is_some(), "openid was asked for");
    assert_eq!(
        user.granted_scopes().unwrap(),
        ["openid", "https://www.googleapis.com/auth/cloud-platform"]
    );
    assert_eq!(user.client_id(), Some(FAKE_CLIENT_ID));

    let requests = server.requests();
    let authorize = requests
        .iter()
        .find(|r| r.path() == "/o/oauth2/auth")
        .unwrap();
    assert_eq!(authorize.param("access_type"), Some("offline"));
    assert_eq!(authorize.param("code_challenge_method"), Some("S256"));
    let exchange = requests
        .iter()
        .find(|r| r.param("grant_type") == Some("authorization_code"))
        .unwrap();
    assert_eq!(exchange.param("redirect_uri"), Some(redirect_uri.as_str()));

    // The credentials refresh at the same server with the refresh token the login got.
    let credentials = Credentials::builder(user.clone()).build().unwrap();
    let first = credentials.refresh().await.unwrap();
    assert!(!first.secret().expose_secret().is_empty());
    let refreshes = server
        .requests()
        .iter()
        .filter(|r| r.param("grant_type") == Some("refresh_token"))
        .count();
    assert_eq!(refreshes, 1);

    // Revoked, the refresh token no longer refreshes; revoked again, it is already invalid.
    let revoker = Revoker::new(transport()).with_uri(server.revoke_url());
    assert_eq!(
        revoker.revoke_credentials(&user).await.unwrap(),
        Revocation::Revoked
    );
    assert_eq!(server.revoked_tokens(), issued);
    let err = Credentials::builder(user.clone())
        .build()
        .unwrap()
        .refresh()
        .await
        .unwrap_err();
    assert_eq!(err.oauth_error(), Some("invalid_grant"));
    assert_eq!(
        revoker.revoke_credentials(&user).await.unwrap(),
        Revocation::AlreadyInvalid
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fakes_refusals_end_the_login_with_their_error() {
    for (reply, page_says, error_says) in [
        (
            AuthorizeReply::Error("access_denied".into()),
            "Sign-in refused",
            "access_denied",
        ),
        (AuthorizeReply::WrongState, "does not belong", "state"),
        (
            AuthorizeReply::NoCode,
            "no single authorization code",
            "no code",
        ),
        (
            AuthorizeReply::RepeatedCode,
            "no single authorization code",
            "more than one code",
        ),
    ] {
        let server = FakeAuthorizationServer::builder()
            .with_authorize_replies([reply])
            .start()
            .await
            .unwrap();
        let login = InstalledFlow::new(client(&server), transport())
            .start()
            .unwrap();
        let url = login.authorization_url().to_owned();
        let redirect_uri = login.redirect_uri().to_owned();
        let finished = tokio::spawn(login.finish());
        let (_, page) = browse(&url, &redirect_uri).await;
        assert!(page.contains(page_says), "{page}");
        let err = finished.await.unwrap().unwrap_err();
        assert!(err.to_string().contains(error_says), "{err}");
        assert!(server.issued_refresh_tokens().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_exchange_fails_and_the_browser_is_told() {
    let server = FakeAuthorizationServer::builder()
        .with_token_replies([TokenReply::Garbage])
        .start()
        .await
        .unwrap();
    let login = InstalledFlow::new(client(&server), transport())
        .start()
        .unwrap();
    let url = login.authorization_url().to_owned();
    let redirect_uri = login.redirect_uri().to_owned();
    let finished = tokio::spawn(login.finish());
    let (_, page) = browse(&url, &redirect_uri).await;
    assert!(page.contains("Sign-in failed"), "{page}");
    let err = finished.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("not a token response"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_flow_polls_the_fake_until_approved() {
    let server = FakeAuthorizationServer::builder()
        .with_device_polls([
            DevicePoll::Pending,
            DevicePoll::SlowDown,
            DevicePoll::Approve,
        ])
        .with_device_interval(1)
        .start()
        .await
        .unwrap();
    // The fake clock makes the waits instant; the fake server does not care when polls come.
    let clock = credkit_testing::FakeClock::new().with_auto_advance(true);
    let device = DeviceFlow::new(client(&server), transport())
        .with_scopes(["openid", "email"])
        .with_clock(clock.clone())
        .start()
        .await
        .unwrap();
    assert_eq!(device.user_code(), FAKE_USER_CODE);
    assert_eq!(
        device.verification_uri(),
        format!("{}/device", server.url())
    );
    let user = device.finish().await.unwrap();
    assert_eq!(
        user.refresh_token().unwrap().expose_secret(),
        server.issued_refresh_tokens()[0]
    );
    let polls = server
        .requests()
        .iter()
        .filter(|r| r.param("grant_type") == Some(credkit_login::DEVICE_CODE_GRANT_TYPE))
        .count();
    assert_eq!(polls, 3);
    assert_eq!(
        clock.sleeps(),
        [1, 1, 6].map(std::time::Duration::from_secs).to_vec()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fakes_device_refusals_end_the_flow() {
    for (poll, says) in [
        (DevicePoll::Deny, "access_denied"),
        (DevicePoll::Expire, "device code expired"),
    ] {
        let server = FakeAuthorizationServer::builder()
            .with_device_polls([poll])
            .start()
            .await
            .unwrap();
        let clock = credkit_testing::FakeClock::new().with_auto_advance(true);
        let err = DeviceFlow::new(client(&server), transport())
            .with_clock(clock)
            .start()
            .await
            .unwrap()
            .finish()
            .await
            .unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
    }
}
