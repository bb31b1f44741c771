//! Servers that never finish: the total timeout covers the whole exchange, body included.
//! The tests assert the error's kind and transience, never the elapsed time.

mod support;

use std::time::Duration;

use credkit_core::ErrorKind;
use credkit_testing::{FakeTokenServer, Reply};
use support::{send_err, short_timeout_transport};

#[tokio::test]
async fn a_stall_after_the_headers_times_out() -> Result<(), Box<dyn std::error::Error>> {
    let server = FakeTokenServer::start().await?;
    server.push_reply(Reply::stall());
    let err = send_err(&short_timeout_transport(), &server.token_url()).await;
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(err.is_transient());
    assert_eq!(server.request_count(), 1);
    Ok(())
}

#[tokio::test]
async fn a_slow_drip_still_hits_the_total_timeout() -> Result<(), Box<dyn std::error::Error>> {
    let server = FakeTokenServer::start().await?;
    // Every read succeeds well within the timeout; only the total deadline can stop it.
    server.push_reply(Reply::drip(Duration::from_millis(10)));
    let err = send_err(&short_timeout_transport(), &server.token_url()).await;
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(err.is_transient());
    Ok(())
}

#[tokio::test]
async fn a_late_status_line_times_out() -> Result<(), Box<dyn std::error::Error>> {
    let server = FakeTokenServer::start().await?;
    server.push_reply(Reply::token("late").with_delay(Duration::from_secs(30)));
    let err = send_err(&short_timeout_transport(), &server.token_url()).await;
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(err.is_transient());
    Ok(())
}

#[tokio::test]
async fn the_total_timeout_applies_to_a_client_of_ones_own()
-> Result<(), Box<dyn std::error::Error>> {
    let server = FakeTokenServer::start().await?;
    server.push_reply(Reply::stall());
    let client = support::own_client()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()?;
    let transport = credkit_reqwest::ReqwestTransport::builder()
        .with_client(client)
        .with_timeout(support::SHORT_TIMEOUT)
        .build()?;
    let err = send_err(&transport, &server.token_url()).await;
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    Ok(())
}

#[tokio::test]
async fn a_timeout_of_the_clients_own_is_a_timeout() -> Result<(), Box<dyn std::error::Error>> {
    let server = FakeTokenServer::start().await?;
    server.push_reply(Reply::stall());
    // The client's own timeout is the shorter one here: reqwest reports the timeout, and the
    // transport must still call it one.
    let client = support::own_client()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(support::SHORT_TIMEOUT)
        .build()?;
    let transport = credkit_reqwest::ReqwestTransport::from_client(client);
    let err = send_err(&transport, &server.token_url()).await;
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(err.is_transient());
    assert!(
        err.to_string()
            .contains("timed out talking to the token endpoint at http://127.0.0.1:"),
        "{err}"
    );
    Ok(())
}
