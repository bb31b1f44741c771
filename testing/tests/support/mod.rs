//! A minimal real HTTP/1.1 client (hyper's) for the fake server's own tests.
// Each test binary uses a different subset; helpers may unwrap, as tests do.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use bytes::Bytes;
use credkit_testing::FakeTokenServer;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub const FORM: &str = "application/x-www-form-urlencoded";

/// Sends one request on a new connection to `addr` and returns the response head and its
/// still-unread body.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<Bytes>,
) -> Result<http::Response<Incoming>, hyper::Error> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    sender
        .send_request(request.body(Full::new(body.into())).unwrap())
        .await
}

/// POSTs `form` to the server's `/token` and returns the status and the whole body.
pub async fn post_form(server: &FakeTokenServer, form: &'static str) -> (u16, Bytes) {
    let response = send(server.addr(), "POST", "/token", Some(FORM), form)
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body)
}

/// The JSON of a body.
pub fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap()
}
