//! Error statuses are responses, not transport errors: the provider decides what they mean.

mod support;

use credkit_core::Transport;
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{FakeTokenServer, Reply};
use support::refresh_request;

#[tokio::test]
async fn a_5xx_is_returned_as_a_response() -> Result<(), Box<dyn std::error::Error>> {
    let server = FakeTokenServer::start().await?;
    server.push_reply(
        Reply::oauth_error(503, "temporarily_unavailable", Some("try later"))
            .with_header("retry-after", "2"),
    );
    let response = ReqwestTransport::new()?
        .send(refresh_request(&server.token_url()))
        .await?;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "2");
    let body: serde_json::Value = serde_json::from_slice(response.body())?;
    assert_eq!(body["error"], "temporarily_unavailable");
    Ok(())
}

#[tokio::test]
async fn a_4xx_and_an_html_page_are_returned_as_responses() -> Result<(), Box<dyn std::error::Error>>
{
    let server = FakeTokenServer::start().await?;
    server.push_replies([
        Reply::oauth_error(400, "invalid_grant", None),
        Reply::html(502, "<html>Bad gateway</html>"),
    ]);
    let transport = ReqwestTransport::new()?;
    let first = transport.send(refresh_request(&server.token_url())).await?;
    assert_eq!(first.status(), 400);
    let second = transport.send(refresh_request(&server.token_url())).await?;
    assert_eq!(second.status(), 502);
    assert_eq!(second.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(&second.body()[..], b"<html>Bad gateway</html>");
    Ok(())
}
