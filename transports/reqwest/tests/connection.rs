//! Connections that fail: refused, reset or closed before the response is complete, or a body
//! that breaks off in the middle. All are transient; a request the client refuses is not.

mod support;

use credkit_core::ErrorKind;
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{FakeTokenServer, Reply};
use support::{raw_server, send_err};

#[tokio::test]
async fn a_reset_connection_is_transient() -> Result<(), Box<dyn std::error::Error>> {
    let server = FakeTokenServer::start().await?;
    server.push_reply(Reply::reset());
    let err = send_err(&ReqwestTransport::new()?, &server.token_url()).await;
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert!(err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("closed mid-exchange"), "{err}");
    assert_eq!(server.request_count(), 1);
    Ok(())
}

#[tokio::test]
async fn a_refused_connection_is_transient() -> Result<(), Box<dyn std::error::Error>> {
    // A port that was just free: bind, note it, close.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.port()
    };
    let url = format!("http://127.0.0.1:{port}/token?refresh_token=in-the-query");
    let err = send_err(&ReqwestTransport::new()?, &url).await;
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert!(err.is_transient());
    assert!(err.to_string().contains("could not connect"), "{err}");
    // Neither the message nor the source chain repeats the path or the query.
    let debug = format!("{err:?}");
    assert!(!debug.contains("in-the-query"), "{debug}");
    assert!(!debug.contains("/token"), "{debug}");
    Ok(())
}

#[tokio::test]
async fn a_request_the_client_refuses_to_build_is_a_permanent_configuration_error()
-> Result<(), Box<dyn std::error::Error>> {
    let server = FakeTokenServer::start().await?;
    // A caller's client that allows https only: the loopback http request passes the
    // transport's policy and is refused by the client as it builds the request.
    let client = support::own_client().https_only(true).build()?;
    let err = send_err(&ReqwestTransport::from_client(client), &server.token_url()).await;
    assert_eq!(err.kind(), ErrorKind::Configuration, "{err:?}");
    assert!(!err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("could not be built"), "{err}");
    assert_eq!(server.request_count(), 0);
    Ok(())
}

#[tokio::test]
async fn a_connection_closed_mid_headers_is_transient() -> Result<(), Box<dyn std::error::Error>> {
    // An orderly close half-way through the head: hyper reports an incomplete message, with no
    // I/O error in the chain.
    let url = raw_server(b"HTTP/1.1 200 OK\r\nContent-Ty").await;
    let err = send_err(&ReqwestTransport::new()?, &url).await;
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert!(err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("closed mid-exchange"), "{err}");
    Ok(())
}

#[tokio::test]
async fn a_body_that_breaks_off_is_transient() -> Result<(), Box<dyn std::error::Error>> {
    // A chunked body whose next chunk size is not a number: a body error that is neither a
    // reset nor an early close.
    let url = raw_server(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n\
          2\r\n{}\r\nzz\r\n",
    )
    .await;
    let err = send_err(&ReqwestTransport::new()?, &url).await;
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert!(err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("closed mid-exchange"), "{err}");
    Ok(())
}
