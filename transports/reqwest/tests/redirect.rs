//! Redirects are never followed: a refresh token must not be replayed to a `Location`.

mod support;

use credkit_core::{ErrorKind, Transport};
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{FakeTokenServer, Reply};
use support::{refresh_request, send_err};

#[tokio::test]
async fn a_302_is_returned_not_followed() -> Result<(), Box<dyn std::error::Error>> {
    let server = FakeTokenServer::start().await?;
    server.push_replies([Reply::redirect("/elsewhere"), Reply::default_token()]);
    let response = ReqwestTransport::new()?
        .send(refresh_request(&server.token_url()))
        .await?;
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        format!("{}/elsewhere", server.url()).as_str()
    );
    assert_eq!(server.request_count(), 1);
    Ok(())
}

#[tokio::test]
async fn a_client_of_ones_own_that_follows_redirects_is_caught()
-> Result<(), Box<dyn std::error::Error>> {
    let server = FakeTokenServer::start().await?;
    server.push_replies([Reply::redirect("/elsewhere"), Reply::default_token()]);
    // reqwest's default policy follows redirects: the mistake this check exists for.
    let client = support::own_client().no_proxy().build()?;
    let transport = ReqwestTransport::from_client(client);
    let err = send_err(&transport, &server.token_url()).await;
    assert_eq!(err.kind(), ErrorKind::Configuration, "{err:?}");
    assert!(!err.is_transient());
    // The client did follow it (that is why a caller's client must be configured not to).
    let paths: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    assert_eq!(paths, ["/token", "/elsewhere"]);
    Ok(())
}
