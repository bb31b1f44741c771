//! Helpers shared by the integration tests.
// Each test binary uses a different subset; helpers may unwrap, as tests do.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use credkit_core::{Error, Transport};
use credkit_reqwest::ReqwestTransport;

/// The short total timeout the hostile-server tests use.
pub const SHORT_TIMEOUT: Duration = Duration::from_millis(200);

/// A transport with a short total timeout, for tests of misbehaving servers.
pub fn short_timeout_transport() -> ReqwestTransport {
    ReqwestTransport::builder()
        .with_timeout(SHORT_TIMEOUT)
        .build()
        .unwrap()
}

/// A refresh-grant POST to `url`, as a provider would send it.
pub fn refresh_request(url: &str) -> http::Request<Bytes> {
    http::Request::post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from_static(
            b"grant_type=refresh_token&client_id=cid&client_secret=cs-secret&refresh_token=rt-secret&scope=email+profile",
        ))
        .unwrap()
}

/// Sends a refresh request to `url` and returns the error it must fail with.
pub async fn send_err(transport: &impl Transport, url: &str) -> Error {
    transport
        .send(refresh_request(url))
        .await
        .expect_err("the request must fail")
}

/// A one-shot HTTP server that writes `response` byte for byte, for responses no well-formed
/// server sends. It reads the whole request first, so closing the connection afterwards is an
/// orderly close (FIN), not a reset; then it closes. Returns the token URL.
pub async fn raw_server(response: &'static [u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        // The head, then as many body bytes as it declares.
        let (head_end, body_len) = loop {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before sending its request");
            request.extend_from_slice(&buf[..n]);
            if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                let body_len = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .map_or(0, |len| len.trim().parse::<usize>().unwrap());
                break (end + 4, body_len);
            }
        };
        while request.len() < head_end + body_len {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before sending its body");
            request.extend_from_slice(&buf[..n]);
        }
        socket.write_all(response).await.unwrap();
        socket.shutdown().await.unwrap();
        // Hold the socket until the client has seen the close.
        let _ = socket.read(&mut buf).await;
    });
    url
}

/// reqwest's builder for a client of one's own. With the `ring` feature alone reqwest has no
/// crypto provider of its own, so the test process installs ring's as the process default
/// first, as the crate docs tell a caller bringing a client to do.
pub fn own_client() -> reqwest::ClientBuilder {
    #[cfg(feature = "ring")]
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
