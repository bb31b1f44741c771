//! Helpers shared by the facade's tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)] // Each test file uses a part.

use async_trait::async_trait;
use bytes::Bytes;
use credkit::core::Transport;
use credkit::reqwest::ReqwestTransport;
use credkit_testing::{FakeIamServer, FakeTokenEndpoint};

/// Sends IAM's requests (to `iamcredentials.googleapis.com`) to a loopback fake IAM server,
/// and every other request to the in-memory token endpoint: what an ADC file naming Google's
/// endpoints needs in a test.
#[derive(Debug, Clone)]
pub struct Route {
    iam_url: String,
    iam: ReqwestTransport,
    token: FakeTokenEndpoint,
}

impl Route {
    /// IAM's requests to `iam`, the rest to `token`.
    pub fn new(iam: &FakeIamServer, token: &FakeTokenEndpoint) -> Self {
        Self {
            iam_url: iam.url(),
            iam: ReqwestTransport::new().unwrap(),
            token: token.clone(),
        }
    }
}

#[async_trait]
impl Transport for Route {
    async fn send(
        &self,
        mut request: http::Request<Bytes>,
    ) -> credkit::Result<http::Response<Bytes>> {
        if request.uri().host() == Some("iamcredentials.googleapis.com") {
            let path = request.uri().path().to_owned();
            *request.uri_mut() = format!("{}{path}", self.iam_url).parse().unwrap();
            return self.iam.send(request).await;
        }
        self.token.send(request).await
    }
}
