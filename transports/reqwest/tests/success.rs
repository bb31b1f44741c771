//! A well-behaved token endpoint: the request arrives intact, the response comes back whole.

mod support;

use credkit_core::Transport;
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{FakeTokenServer, Reply};
use support::refresh_request;

#[tokio::test]
async fn a_refresh_round_trip() -> Result<(), Box<dyn std::error::Error>> {
    let server = FakeTokenServer::start().await?;
    let transport = ReqwestTransport::new()?;

    let response = transport.send(refresh_request(&server.token_url())).await?;

    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body: serde_json::Value = serde_json::from_slice(response.body())?;
    assert_eq!(body["access_token"], "fake-access-token-1");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "email profile");

    let seen = server.last_request().unwrap();
    assert_eq!(seen.method(), "POST");
    assert_eq!(seen.path(), "/token");
    assert_eq!(
        seen.form_keys(),
        [
            "grant_type",
            "client_id",
            "client_secret",
            "refresh_token",
            "scope"
        ]
    );
    assert_eq!(seen.form_value("refresh_token"), Some("rt-secret"));
    assert!(
        seen.header("user-agent")
            .unwrap()
            .starts_with("credkit-reqwest/")
    );
    Ok(())
}

#[tokio::test]
async fn one_transport_serves_many_requests() -> Result<(), Box<dyn std::error::Error>> {
    let server = FakeTokenServer::start().await?;
    let transport = ReqwestTransport::new()?;
    for n in 1..=3 {
        let response = transport.send(refresh_request(&server.token_url())).await?;
        let body: serde_json::Value = serde_json::from_slice(response.body())?;
        assert_eq!(body["access_token"], format!("fake-access-token-{n}"));
    }
    assert_eq!(server.request_count(), 3);
    Ok(())
}

#[tokio::test]
async fn localhost_is_reached_without_dns() -> Result<(), Box<dyn std::error::Error>> {
    let server = FakeTokenServer::start().await?;
    let url = format!("http://localhost:{}/token", server.addr().port());
    let response = ReqwestTransport::new()?.send(refresh_request(&url)).await?;
    assert_eq!(response.status(), 200);
    assert_eq!(server.request_count(), 1);
    Ok(())
}

#[tokio::test]
async fn a_body_exactly_at_the_cap_is_accepted() -> Result<(), Box<dyn std::error::Error>> {
    let server = FakeTokenServer::start().await?;
    server.push_reply(Reply::raw(200, "application/json", vec![b' '; 64]));
    let transport = ReqwestTransport::builder().with_max_body_size(64).build()?;
    let response = transport.send(refresh_request(&server.token_url())).await?;
    assert_eq!(response.body().len(), 64);
    Ok(())
}

#[tokio::test]
async fn a_client_of_ones_own_is_used() -> Result<(), Box<dyn std::error::Error>> {
    let server = FakeTokenServer::start().await?;
    // The user agent tells this client's requests from any other client's.
    let client = support::own_client()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent("a-client-of-ones-own")
        .build()?;
    let transport = ReqwestTransport::from_client(client);
    let response = transport.send(refresh_request(&server.token_url())).await?;
    assert_eq!(response.status(), 200);
    let sent = server.last_request().ok_or("no request recorded")?;
    assert_eq!(sent.header("user-agent"), Some("a-client-of-ones-own"));

    // `client()` hands back that same client.
    server.push_reply(Reply::default_token());
    transport.client().post(server.token_url()).send().await?;
    let sent = server.last_request().ok_or("no request recorded")?;
    assert_eq!(sent.header("user-agent"), Some("a-client-of-ones-own"));
    Ok(())
}
