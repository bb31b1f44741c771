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

/// Sends `callers` concurrent requests to `uri` through the tower layer over `credentials`;
/// the `Authorization` values the service saw, in no particular order.
pub async fn through_tower(
    credentials: &credkit::core::Credentials,
    callers: usize,
    uri: &str,
) -> Vec<String> {
    use std::sync::{Arc, Mutex};

    use http_body_util::Full;
    use tower::{ServiceBuilder, ServiceExt};

    let seen = Arc::new(Mutex::new(Vec::new()));
    let service = {
        let seen = Arc::clone(&seen);
        ServiceBuilder::new()
            .layer(credkit_tower::AuthLayer::new(credentials.clone()))
            .service_fn(move |request: http::Request<Full<Bytes>>| {
                let seen = Arc::clone(&seen);
                async move {
                    let value = request.headers()[http::header::AUTHORIZATION]
                        .to_str()
                        .unwrap()
                        .to_owned();
                    seen.lock().unwrap().push(value);
                    Ok::<_, std::convert::Infallible>(http::Response::new(()))
                }
            })
    };
    let requests = (0..callers).map(|_| {
        let request = http::Request::get(uri)
            .body(Full::<Bytes>::default())
            .unwrap();
        service.clone().oneshot(request)
    });
    for response in futures::future::join_all(requests).await {
        assert_eq!(response.unwrap().status(), 200);
    }
    seen.lock().unwrap().clone()
}
