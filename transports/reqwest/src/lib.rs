//! The reqwest transport for credkit's token requests: rustls, timeouts, a 1 MiB body cap, no
//! redirects, and `https://` required except on loopback.
//!
//! **It is for token endpoints, not for your API calls.** credkit's providers build an
//! `http::Request` for a token endpoint (a refresh grant, the metadata server, STS) and hand it
//! to a [`Transport`](credkit_core::Transport); this crate is the production one, on
//! [reqwest](https://docs.rs/reqwest) with rustls (no OpenSSL) and tokio. Its rules are a token
//! endpoint's: a response over 1 MiB is refused, a redirect is returned unfollowed (so a refresh
//! token is never replayed elsewhere), plain `http` is refused off loopback, and the whole body
//! is buffered. An API's large download, redirect or streaming body would fail here. It is not
//! an HTTP client of its own and adds no retries: `credkit-core`'s retrying layer does that,
//! reading [`Error::is_transient`](credkit_core::Error::is_transient).
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
//! # Credentials on your API calls
//!
//! Your API calls go through your own client, with its own limits, and credkit puts the
//! credentials on them:
//!
//! - on a reqwest client: `credkit-reqwest-middleware`'s `AuthMiddleware`, a
//!   [reqwest-middleware](https://docs.rs/reqwest-middleware) that also answers a `401` with
//!   one refresh and one replay;
//! - on a tower service (hyper-util, tonic): `credkit-tower`'s `AuthLayer`, the same rules;
//! - by hand: [`Credentials::headers`](credkit_core::Credentials::headers) on your request, and
//!   [`Credentials::invalidate_if`](credkit_core::Credentials::invalidate_if) after a `401`:
//!
//! ```
//! use credkit_core::Credentials;
//!
//! async fn list_buckets(
//!     client: &reqwest::Client,
//!     credentials: &Credentials,
//! ) -> Result<String, Box<dyn std::error::Error>> {
//!     let headers = credentials.headers().await?; // fresh, or refreshed first
//!     let response = client
//!         .get("https://storage.googleapis.com/storage/v1/b?project=my-project")
//!         .headers(headers.clone())
//!         .send()
//!         .await?;
//!     if response.status() == 401 {
//!         credentials.invalidate_if(&headers); // the next call refreshes
//!     }
//!     Ok(response.error_for_status()?.text().await?)
//! }
//! # let _ = list_buckets;
//! ```
//!
//! # Bring your own client
//!
//! A proxy of your own, extra root certificates, a client certificate (mTLS): configure a
//! [`reqwest::Client`] as you need and give it to
//! [`with_client`](ReqwestTransportBuilder::with_client) (or
//! [`ReqwestTransport::from_client`]):
//!
//! ```
//! use credkit_reqwest::ReqwestTransport;
//!
//! fn transport(ca_pem: &[u8], client_pem: &[u8]) -> Result<ReqwestTransport, Box<dyn std::error::Error>> {
//!     let client = reqwest::Client::builder()
//!         .proxy(reqwest::Proxy::https("http://proxy.corp.example:3128")?)
//!         .add_root_certificate(reqwest::Certificate::from_pem(ca_pem)?) // a corporate CA
//!         .identity(reqwest::Identity::from_pem(client_pem)?) // mTLS: key and certificate
//!         .redirect(reqwest::redirect::Policy::none())
//!         .build()?;
//!     Ok(ReqwestTransport::builder().with_client(client).build()?)
//! }
//! # let _ = transport;
//! ```
//!
//! What still applies to a client of yours, because the transport does it around the client:
//! the URL policy ([`check_endpoint`], and the hosts given to
//! [`allow_plain_http_host`](ReqwestTransportBuilder::allow_plain_http_host)), the total
//! timeout, the 1 MiB body cap (streamed and counted, never buffered past it), the error
//! mapping, and the redirect rule: a response from anywhere but the URL asked is refused. What
//! is the client's: redirects themselves (build it with `Policy::none()`, else a redirect is
//! *followed*, the request sent on, before the transport refuses the answer), the connect
//! timeout, proxies (a client of yours is used for loopback and the metadata server too, so
//! give it `no_proxy()` or a `NO_PROXY` covering them), the TLS configuration and the crypto
//! provider. See [`ReqwestTransportBuilder::with_client`].
//!
//! # Features
//!
//! - **`aws-lc-rs`** *(enabled by default)*: rustls with the aws-lc-rs crypto provider
//!   (reqwest's `rustls` feature).
//! - **`ring`**: rustls with the ring crypto provider, for builds that cannot or may not carry
//!   aws-lc-rs: `default-features = false, features = ["ring"]`. The transport's own clients
//!   get a rustls configuration built by this crate with ring and the platform verifier (what
//!   reqwest builds with aws-lc-rs). A client of your own, though, is built by reqwest, which
//!   then has no provider of its own: install one for the process first
//!   (`rustls::crypto::ring::default_provider().install_default()`), or reqwest panics
//!   building it.
//!
//! One of the two is needed; the build says so without either. With both (a dependency turned
//! the default back on), ring is used: a default feature comes back with any dependent that
//! forgets `default-features = false`, `ring` is only ever asked for. A process-wide default
//! provider installed by the application (`CryptoProvider::install_default`, a FIPS build of
//! aws-lc-rs say) wins over both, as it does in reqwest.
//!
//! # Build
//!
//! reqwest is built with rustls and verifies certificates with the platform's verifier (the
//! system's trust store); without HTTP/2, cookies, or decompression.
//!
//! # Sibling crates
//!
//! `credkit-core` (traits, errors, the caching layer), the providers (`credkit-refresh-token`,
//! `credkit-refresh-handler`, `credkit-gcloud`), `credkit-reqwest-middleware` and
//! `credkit-tower` (credentials on your own requests), and `credkit-testing`, whose
//! `FakeTokenServer` is a real loopback token endpoint to test against.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod body;
mod builder;
mod error;
mod policy;
mod resolve;
mod tls;
mod transport;

#[cfg(not(any(feature = "aws-lc-rs", feature = "ring")))]
compile_error!(
    "credkit-reqwest needs a crypto provider for rustls: enable its `aws-lc-rs` feature (the default) or `ring`"
);

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
