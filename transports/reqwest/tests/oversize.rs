//! Bodies over the cap fail with a permanent error, whether declared up front or not.

mod support;

use credkit_core::ErrorKind;
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{FakeTokenServer, Reply};
use support::send_err;

const EIGHT_MIB: u64 = 8 * 1024 * 1024;

fn assert_too_large(err: &credkit_core::Error) {
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert!(!err.is_transient(), "{err:?}");
    assert!(
        err.to_string().contains("larger than 1048576 bytes"),
        "{err}"
    );
}

#[tokio::test]
async fn a_streamed_oversize_body_is_cut_off() -> Result<(), Box<dyn std::error::Error>> {
    let server = FakeTokenServer::start().await?;
    server.push_reply(Reply::oversize(EIGHT_MIB));
    let err = send_err(&ReqwestTransport::new()?, &server.token_url()).await;
    assert_too_large(&err);
    Ok(())
}

#[tokio::test]
async fn a_declared_oversize_body_is_refused_before_reading()
-> Result<(), Box<dyn std::error::Error>> {
    let server = FakeTokenServer::start().await?;
    server.push_reply(Reply::oversize_declared(EIGHT_MIB));
    let err = send_err(&ReqwestTransport::new()?, &server.token_url()).await;
    assert_too_large(&err);
    Ok(())
}

#[tokio::test]
async fn a_small_cap_is_honoured() -> Result<(), Box<dyn std::error::Error>> {
    let server = FakeTokenServer::start().await?;
    server.push_reply(Reply::token("a token response longer than 16 bytes"));
    let transport = ReqwestTransport::builder().with_max_body_size(16).build()?;
    let err = send_err(&transport, &server.token_url()).await;
    assert!(err.to_string().contains("larger than 16 bytes"), "{err}");
    assert!(!err.is_transient());
    Ok(())
}
