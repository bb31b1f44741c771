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
