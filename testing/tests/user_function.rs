//! The three tests a user of credkit writes for a function of theirs that takes `&Credentials`
//! and a URL: the bearer token sent, a `401` leading to one refresh and one replay, an expired
//! token refreshed. Each test body is at most 15 lines under default rustfmt, with the kit's
//! public API only: `scripted_credentials` (or `ScriptedCredentials::new`) and `FakeApiServer`.

use std::error::Error;
use std::time::Duration;

use credkit_core::Credentials;
use credkit_testing::{FakeApiServer, Reply, ScriptedCredentials, scripted_credentials};

type TestResult = Result<(), Box<dyn Error>>;

/// The function under test, as a user writes it: a GET with the credentials' headers; after a
/// 401, the token is dropped (if it is still the cached one) and the request sent once more.
async fn list_files(credentials: &Credentials, url: &str) -> Result<String, Box<dyn Error>> {
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let headers = credentials.headers().await?;
        let response = client.get(url).headers(headers.clone()).send().await?;
        if response.status() == 401 {
            credentials.invalidate_if(&headers);
            continue;
        }
        return Ok(response.error_for_status()?.text().await?);
    }
    Err("the API refused two tokens in a row".into())
}

#[tokio::test]
async fn the_api_gets_the_bearer_token() -> TestResult {
    let kit = scripted_credentials(["ya29.first"]);
    let api = FakeApiServer::start().await?;
    list_files(&kit.credentials, &format!("{}/v1/files", api.url())).await?;
    let request = api.last_request().ok_or("no request")?;
    assert_eq!(request.path(), "/v1/files");
    assert_eq!(request.header("authorization"), Some("Bearer ya29.first"));
    Ok(())
}

#[tokio::test]
async fn a_401_costs_one_refresh_and_one_replay() -> TestResult {
    let kit = scripted_credentials(["ya29.revoked", "ya29.new"]);
    let api = FakeApiServer::start().await?;
    api.reject_bearer("ya29.revoked");
    list_files(&kit.credentials, &api.url()).await?;
    assert_eq!(api.bearer_tokens(), ["ya29.revoked", "ya29.new"]);
    assert_eq!(kit.source.fetches(), 2, "one refresh for the 401");
    Ok(())
}

#[tokio::test]
async fn an_expired_token_is_refreshed() -> TestResult {
    let kit = ScriptedCredentials::new(); // numbered one-hour tokens
    let api = FakeApiServer::start().await?;
    list_files(&kit.credentials, &api.url()).await?;
    kit.clock.advance(Duration::from_secs(3600));
    list_files(&kit.credentials, &api.url()).await?;
    assert_eq!(
        api.bearer_tokens(),
        ["scripted-token-1", "scripted-token-2"]
    );
    assert_eq!(kit.source.fetches(), 2);
    Ok(())
}

/// Beyond the three: an API that refuses every token costs one refresh, not one per request,
/// and the function reports it.
#[tokio::test]
async fn an_api_refusing_every_token_costs_one_refresh() -> TestResult {
    let kit = ScriptedCredentials::new();
    let api = FakeApiServer::start().await?;
    api.accept_bearer("ya29.only-this-one");
    let err = list_files(&kit.credentials, &api.url()).await.unwrap_err();
    assert!(err.to_string().contains("refused two tokens"), "{err}");
    assert_eq!(api.request_count(), 2);
    assert_eq!(kit.source.fetches(), 2);
    Ok(())
}

/// A scripted 401 answers one request; the body of the next reply is what the function returns.
#[tokio::test]
async fn a_scripted_401_is_used_once() -> TestResult {
    let kit = ScriptedCredentials::new();
    let api = FakeApiServer::start().await?;
    api.push_replies([
        Reply::unauthorized(),
        Reply::json(200, serde_json::json!({"files": ["a"]})),
    ]);
    let body = list_files(&kit.credentials, &api.url()).await?;
    assert_eq!(body, r#"{"files":["a"]}"#);
    assert_eq!(
        api.bearer_tokens(),
        ["scripted-token-1", "scripted-token-2"]
    );
    Ok(())
}
