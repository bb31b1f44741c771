//! What both the benchmark and the allocation test drive: fresh credentials, the provider over
//! them, and two references: `object_store`'s own static provider (the floor: a boxed future and
//! an `Arc` clone) and a naive provider that makes a new credential per call.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{AccessToken, Clock, Credentials, StaticSource, SystemClock, TokenState};
use futures::FutureExt;
use object_store::CredentialProvider;
use object_store::gcp::GcpCredential;
use secrecy::ExposeSecret;

/// A realistic token length.
pub(crate) const TOKEN: &str =
    "ya29.a0AfB_byC-benchmark-token-of-a-realistic-length-0123456789abcdefghijklmnopqrstuvwxyz";

/// Fresh credentials on the system clock.
pub(crate) fn credentials() -> Credentials {
    let token = AccessToken::new(TOKEN).with_lifetime(SystemClock.now(), Duration::from_secs(3600));
    let credentials = Credentials::builder(StaticSource::new(token.clone()))
        .with_initial_token(token)
        .build()
        .unwrap();
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    credentials
}

/// A provider that makes a new `GcpCredential` from the cached token on every call: what this
/// crate avoids.
#[derive(Debug)]
pub(crate) struct Naive(pub(crate) Credentials);

#[async_trait]
impl CredentialProvider for Naive {
    type Credential = GcpCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<GcpCredential>> {
        let token = self.0.access_token().await.unwrap();
        Ok(Arc::new(GcpCredential {
            bearer: token.secret().expose_secret().to_owned(),
        }))
    }
}

/// One `get_credential`, polled once: a fresh token answers on the first poll.
pub(crate) fn one<P: CredentialProvider<Credential = GcpCredential>>(
    provider: &P,
) -> Arc<GcpCredential> {
    provider
        .get_credential()
        .now_or_never()
        .expect("a fresh token answers at once")
        .unwrap()
}
