//! The reqwest transport for credkit: rustls, timeouts, a body cap, no redirects, and `https://`
//! required except on loopback.
//!
//! credkit's providers build an `http::Request` and hand it to a
//! [`Transport`](credkit_core::Transport); this crate is the production one, on
//! [reqwest](https://docs.rs/reqwest) with rustls (no OpenSSL) and tokio. It is not an HTTP
//! client of its own and adds no retries: `credkit-core`'s retrying layer does that, reading
//! [`Error::is_transient`](credkit_core::Error::is_transient).
//!
//! - [`ReqwestTransport`]: the transport; [`ReqwestTransport::new`] for the defaults,
//!   [`ReqwestTransport::builder`] to change them, [`ReqwestTransport::from_client`] to bring a
//!   client.
//! - [`check_endpoint`]: the token-endpoint URL policy the transport applies before sending, as
//!   a pure function.
//! - [`TokioSpawner`]: background refreshes on the tokio runtime, re-exported from
//!   `credkit-tokio` (which needs no reqwest).
//!
//! # Quick start
//!
//! ```
//! use std::sync::Arc;
//! use credkit_core::Transport;
//! use credkit_reqwest::ReqwestTransport;
//! use credkit_testing::FakeTokenServer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = FakeTokenServer::start().await?; // a token endpoint on 127.0.0.1
//! let transport: Arc<dyn Transport> = Arc::new(ReqwestTransport::new()?);
//!
//! let request = http::Request::post(server.token_url())
//!     .header("content-type", "application/x-www-form-urlencoded")
//!     .body(bytes::Bytes::from_static(b"grant_type=refresh_token&refresh_token=r"))?;
//! let response = transport.send(request).await?;
//! assert_eq!(response.status(), 200);
//!
//! // Plain http is refused off loopback, before anything is sent.
//! let request = http::Request::post("http://example.invalid/token").body(bytes::Bytes::new())?;
//! let err = transport.send(request).await.unwrap_err();
//! assert_eq!(err.kind(), credkit_core::ErrorKind::Configuration);
//! # Ok(())
//! # }
//! ```
//!
//! # Credentials on your own requests
//!
//! This crate is the transport credkit sends token requests with. To put credentials on a
//! reqwest client's own requests, use `credkit-reqwest-middleware`'s `AuthMiddleware` (a
//! reqwest-middleware); for a tower service (hyper-util, tonic), `credkit-tower`.
//!
//! # Build
//!
//! reqwest is built with rustls and the aws-lc-rs provider,
//! verifying certificates with the platform's verifier (the system's trust store); without
//! HTTP/2, cookies, or decompression.
//!
//! # Sibling crates
//!
//! `credkit-core` (traits, errors, the caching layer), the providers (`credkit-refresh-token`,
//! `credkit-refresh-handler`, `credkit-gcloud`), and `credkit-testing`, whose `FakeTokenServer`
//! is a real loopback token endpoint to test against.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod body;
mod builder;
mod error;
mod policy;
mod resolve;
mod transport;

// The public interface is:
pub use builder::ReqwestTransportBuilder;
/// Re-exported from `credkit-tokio`, its home, so existing imports keep working; a client
/// without reqwest depends on `credkit-tokio` alone.
pub use credkit_tokio::TokioSpawner;
pub use policy::check_endpoint;
pub use transport::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_SIZE, DEFAULT_TIMEOUT, ReqwestTransport,
};

/// Re-exported so users of this transport name the same core.
pub use credkit_core as core;
/// Re-exported so [`ReqwestTransport::from_client`] can be given a client of the same version.
pub use reqwest;
