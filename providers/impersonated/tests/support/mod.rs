//! Shared helpers of the integration tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::time::Duration;

use credkit_core::Credentials;
use credkit_impersonated::{ImpersonatedCredentials, ImpersonatedCredentialsBuilder};
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{FakeClock, FakeIamServer, ScriptedSource};

pub const TARGET: &str = "target@project.iam.gserviceaccount.com";
pub const SOURCE_TOKEN: &str = "ya29.source-token-0123456789";
pub const HOUR: Duration = Duration::from_secs(3600);

/// A caching source answering `tokens` in order, each valid an hour on `clock`.
pub fn source(clock: &FakeClock, tokens: &[&str]) -> (Credentials, ScriptedSource) {
    let mut scripted = ScriptedSource::new(clock);
    for token in tokens {
        scripted = scripted.then_token(*token, HOUR);
    }
    let credentials = Credentials::builder(scripted.clone())
        .with_clock(std::sync::Arc::new(clock.clone()))
        .without_retries()
        .build()
        .unwrap();
    (credentials, scripted)
}

/// A builder impersonating `TARGET` with `source`, pointed at `iam`, on `clock`.
pub fn builder(
    source: Credentials,
    iam: &FakeIamServer,
    clock: &FakeClock,
) -> ImpersonatedCredentialsBuilder {
    ImpersonatedCredentials::builder(source, TARGET)
        .with_iam_base_url(iam.url())
        .with_transport(ReqwestTransport::new().unwrap())
        .with_clock(clock.clone())
}

/// A fake IAM server on `clock`.
pub async fn iam(clock: &FakeClock) -> FakeIamServer {
    FakeIamServer::builder()
        .with_clock(clock.clone())
        .start()
        .await
        .unwrap()
}

/// Waits until `iam` received `count` requests: yields to the runtime, and fails the test
/// (rather than hanging it) when they never come.
pub async fn wait_for_requests(iam: &FakeIamServer, count: usize) {
    let arrived = async {
        while iam.request_count() < count {
            tokio::task::yield_now().await;
        }
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(20), arrived)
            .await
            .is_ok(),
        "the fake IAM server never received {count} request(s)"
    );
}
