//! The core of credkit: OAuth 2.0 user credentials for Rust.
//!
//! This crate holds the five traits everything composes through, the token and error types, the
//! caching layer [`Credentials`] that applications hold, and the combinators. It is not a provider and not an HTTP client: it has no async runtime and no
//! HTTP stack in its dependency tree. Providers (`credkit-refresh-token`,
//! `credkit-refresh-handler`, `credkit-gcloud`) fetch tokens through its traits; transports
//! (`credkit-reqwest`) send HTTP for them; `credkit-testing` has mocks, a fake clock and a
//! loopback token server for tests.
//!
//! ```text
//!                   ┌──────────── Credentials (cache, single flight, refresh ahead) ───────────┐
//!  your request ──▶ │ headers() ─▶ fresh token? ─▶ yes: cached header values, no lock         │
//!                   │                  │ no                                                   │
//!                   │                  ▼                                                      │
//!                   │      Retrying<TokenSource> ─▶ provider ─▶ Transport ─▶ token endpoint   │
//!                   │         Clock (waits)        Storage (rotated refresh tokens)           │
//!                   └────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! # The traits
//!
//! - [`TokenSource`]: fetches a brand-new token. Providers implement it; so can any crate.
//! - [`Transport`]: sends an `http::Request<Bytes>` and returns the `http::Response<Bytes>`.
//! - [`Clock`]: the current time and a way to wait; [`SystemClock`] by default.
//! - [`Storage`]: loads and stores a [`CredentialRecord`] by key; [`MemoryStorage`] here.
//! - [`Spawner`]: runs background work; a closure over a runtime's spawn function will do.
//!
//! # Getting started
//!
//! Wrap any source in [`Credentials`] and ask it for request headers. It caches the token,
//! refreshes it ahead of expiry, shares one fetch among concurrent callers and retries transient
//! failures; a fresh token costs an atomic load, no lock and no allocation:
//!
//! ```
//! use credkit_core::{AccessToken, Credentials, StaticSource};
//! use credkit_core::http::HeaderMap;
//!
//! # futures::executor::block_on(async {
//! let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.token")))
//!     .with_quota_project("my-project")
//!     .build()?;
//! let mut headers = HeaderMap::new();
//! credentials.before_request(&mut headers).await?;
//! assert_eq!(headers["authorization"], "Bearer ya29.token");
//! assert_eq!(headers["x-goog-user-project"], "my-project");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! A plugin provider is a type with [`TokenSource`] (one that calls an HTTP token endpoint sends
//! through a [`Transport`] and reads the reply with [`oauth::read_token_response`]; see the
//! `plugin_provider` example); combinators build on it:
//!
//! ```
//! use std::sync::Arc;
//! use async_trait::async_trait;
//! use credkit_core::{AccessToken, ChainSource, Result, RetryPolicy, Retrying, StaticSource, SystemClock, TokenSource};
//!
//! #[derive(Debug)]
//! struct MyBroker;
//!
//! #[async_trait]
//! impl TokenSource for MyBroker {
//!     async fn fetch_token(&self) -> Result<AccessToken> {
//!         Ok(AccessToken::new("ya29.from-my-broker"))
//!     }
//! }
//!
//! # futures::executor::block_on(async {
//! let chain = ChainSource::new()
//!     .with(MyBroker)
//!     .with(StaticSource::new(AccessToken::new("ya29.fallback")));
//! let source = Retrying::new(chain, RetryPolicy::default(), Arc::new(SystemClock));
//! let token = source.fetch_token().await?;
//! assert_eq!(token.token_type(), "Bearer");
//! # Ok::<(), credkit_core::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Errors
//!
//! Every fallible call returns [`Error`]: opaque, cheap to clone, with an [`ErrorKind`],
//! [`is_transient`](Error::is_transient) decided once by the shared [`classify`] rules, and the
//! OAuth error fields when a token endpoint sent them. Construction uses [`BuildError`].
//!
//! # Secrets
//!
//! Access, refresh and ID tokens are [`secrecy::SecretString`]s: zeroized on drop, redacted in
//! `Debug`, absent from every `Display` and error message.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

pub mod authorize;
pub mod classify;
pub mod credentials_file;
pub mod endpoint;
pub mod interactive;
pub mod oauth;

mod chain;
mod clock;
mod credentials;
mod env_source;
mod error;
mod forward;
mod id_token;
mod retry;
mod signer;
mod source;
mod spawner;
mod static_source;
mod storage;
mod token;
mod transport;

// The public interface is:
pub use authorize::AuthorizedTransport;
pub use chain::ChainSource;
pub use clock::{Clock, SystemClock};
pub use credentials::{
    Credentials, CredentialsBuilder, FLIGHT_DEADLINE, LeasePolicy, MIN_RETRY_INTERVAL,
    RefreshAhead, RefreshEvent, Rejected, WithoutLease,
};
pub use env_source::EnvSource;
pub use error::{BuildError, Error, ErrorKind, Result, TransportFailure, find_source};
pub use oauth::OAuthError;
pub use retry::{RetryPolicy, Retrying};
pub use signer::{RS256, Signature, Signer};
pub use source::TokenSource;
pub use spawner::{IntoSpawner, IsClosure, IsSpawner, SpawnFn, Spawner, spawn_fn};
pub use static_source::StaticSource;
pub use storage::{
    CredentialRecord, Fence, FenceCheck, Fences, KeyPage, Lease, LeaseHandle, LeaseOptions,
    MemoryStorage, PlainJson, RecordCodec, Storage,
};
pub use token::{AccessToken, REFRESH_THRESHOLD, TokenState};
pub use transport::Transport;

/// Re-exported so users name the same versions credkit uses.
pub use {bytes, http, secrecy, time};

/// What [`forward_impls!`] expands to names through here, so its callers need not depend on
/// these crates themselves. Not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use async_trait::async_trait;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<AccessToken>();
        assert_send_sync::<Error>();
        assert_send_sync::<BuildError>();
        assert_send_sync::<CredentialRecord>();
        assert_send_sync::<MemoryStorage>();
        assert_send_sync::<ChainSource>();
        assert_send_sync::<StaticSource>();
        assert_send_sync::<Retrying<StaticSource>>();
        assert_send_sync::<Credentials>();
        assert_send_sync::<CredentialsBuilder>();
        assert_send_sync::<RefreshEvent>();
        assert_send_sync::<AuthorizedTransport<std::sync::Arc<dyn Transport>>>();
    }

    // Compiles only while the five traits stay object safe.
    #[allow(dead_code)]
    fn _object_safe(
        _: &dyn TokenSource,
        _: &dyn Transport,
        _: &dyn Clock,
        _: &dyn Storage,
        _: &dyn Spawner,
    ) {
    }
}
