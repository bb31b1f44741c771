//! The metadata server of Google Compute Engine, GKE, Cloud Run and App Engine, for credkit:
//! the probe that says whether one is there, access tokens and ID tokens of the instance's
//! service accounts, and the values it serves (email, project ID, universe domain).
//!
//! - [`MetadataServer`]: the client. Its host comes from `GCE_METADATA_HOST` as the reference
//!   library reads it; [`probe`](MetadataServer::probe) is the reference's `ping`, with its
//!   timeout on the [`Clock`](credkit_core::Clock) and retries for a server still starting;
//!   [`email`](MetadataServer::email), [`project_id`](MetadataServer::project_id),
//!   [`universe_domain`](MetadataServer::universe_domain) and [`get`](MetadataServer::get).
//! - [`MetadataCredentials`]: a [`TokenSource`](credkit_core::TokenSource) of access tokens
//!   (the reference's `compute_engine.Credentials`).
//! - [`MetadataIdTokenSource`]: a token source of ID tokens for an audience (the reference's
//!   `IDTokenCredentials` on the metadata identity endpoint).
//!
//! The sources fetch, and nothing more: wrap them in credkit-core's
//! [`Credentials`](credkit_core::Credentials) for caching, single flight, refresh ahead and
//! retries. They report a retry policy suited to a server on the same machine
//! ([`metadata_retry_policy`]), which the caching layer uses unless told otherwise. The
//! metadata server cannot sign: there is no [`Signer`](credkit_core::Signer) here.
//!
//! This crate sends through any [`Transport`](credkit_core::Transport) and needs no particular
//! async runtime. The metadata server speaks plain `http`; `credkit-reqwest` allows it to
//! exactly `169.254.169.254` and `metadata.google.internal` (and, with
//! `ReqwestTransportBuilder::allow_plain_http_host`, the host `GCE_METADATA_HOST` names).
//!
//! # Quick start
//!
//! ```no_run
//! use credkit_core::Credentials;
//! use credkit_metadata::{MetadataCredentials, MetadataServer};
//! use credkit_reqwest::ReqwestTransport;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = MetadataServer::from_env(ReqwestTransport::new()?)?;
//! if server.is_available().await {
//!     let source = MetadataCredentials::builder().with_server(server).build()?;
//!     let credentials = Credentials::new(source);
//!     let headers = credentials.headers().await?;
//!     # let _ = headers;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Testing
//!
//! `credkit_testing::FakeMetadataServer` is a metadata server on 127.0.0.1; point
//! `GCE_METADATA_HOST` (through [`with_env`](MetadataServerBuilder::with_env)) at its
//! `host()`:
//!
//! ```
//! use credkit_core::TokenSource;
//! use credkit_metadata::MetadataCredentials;
//! use credkit_reqwest::ReqwestTransport;
//! use credkit_testing::FakeMetadataServer;
//! use secrecy::ExposeSecret;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fake = FakeMetadataServer::start().await?;
//! let host = fake.host();
//! let source = MetadataCredentials::builder()
//!     .with_env(move |name| (name == "GCE_METADATA_HOST").then(|| host.clone()))
//!     .with_transport(ReqwestTransport::new()?)
//!     .build()?;
//! let token = source.fetch_token().await?;
//! assert_eq!(token.secret().expose_secret(), fake.access_token(&[]));
//! assert_eq!(fake.requests()[0].header("metadata-flavor"), Some("Google"));
//! # Ok(())
//! # }
//! ```
//!
//! # Differences from the reference
//!
//! - The probe retries refused connections and `5xx` answers within a window (GKE's metadata
//!   server starts slowly), where the reference retries only transport errors, three times;
//!   a probe request that hangs ends the probe at its timeout instead of being tried again.
//! - No residency check (`/sys/class/dmi/id/product_name`) when the probe fails, and no mTLS
//!   to the metadata server.
//! - Token requests: see [`MetadataCredentials`]. Errors never carry a reply's body, except the
//!   metadata server's own short text, scrubbed.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod credentials;
mod env;
mod error;
mod id_token;
mod probe;
mod reply;
mod server;

// The public interface is:
pub use credentials::{
    DEFAULT_SERVICE_ACCOUNT, MetadataCredentials, MetadataCredentialsBuilder, metadata_retry_policy,
};
pub use env::{
    DEFAULT_HOST, DEFAULT_PROBE_HOST, DEFAULT_PROBE_TIMEOUT, GCE_METADATA_HOST, GCE_METADATA_IP,
    GCE_METADATA_ROOT, GCE_METADATA_TIMEOUT, NO_GCE_CHECK,
};
pub use id_token::{MetadataIdTokenSource, MetadataIdTokenSourceBuilder};
pub use probe::Probe;
pub use reply::ServiceAccountInfo;
pub use server::{
    DEFAULT_PROBE_RETRY_WINDOW, DEFAULT_REQUEST_TIMEOUT, DEFAULT_UNIVERSE_DOMAIN, MetadataServer,
    MetadataServerBuilder,
};

/// Re-exported so users of this provider name the same core.
pub use credkit_core as core;

/// The parsers of the metadata server's replies, for the fuzz targets in `fuzz/`: compiled only
/// under `--cfg fuzzing` (which cargo-fuzz sets), never part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use credkit_core::AccessToken;
    use time::OffsetDateTime;

    /// A text value (`project/project-id`).
    pub fn text(body: &[u8]) -> Result<String, String> {
        crate::reply::text(body)
    }

    /// The longest text value accepted.
    pub const MAX_TEXT: usize = crate::reply::MAX_TEXT;

    /// Service account information: its email.
    pub fn service_account_email(body: &[u8]) -> Result<String, String> {
        crate::reply::service_account(body).map(|info| info.email().to_owned())
    }

    /// An identity token.
    pub fn id_token(body: &[u8], sent_at: OffsetDateTime) -> Result<AccessToken, String> {
        crate::reply::id_token(body, sent_at)
    }

    /// An error reply: the error's message.
    pub fn error_message(status: u16, content_type: &[u8], flavored: bool, body: &[u8]) -> String {
        let mut builder = http::Response::builder().status(status);
        if let Ok(value) = http::HeaderValue::from_bytes(content_type) {
            builder = builder.header(http::header::CONTENT_TYPE, value);
        }
        if flavored {
            builder = builder.header("metadata-flavor", "Google");
        }
        match builder.body(bytes::Bytes::copy_from_slice(body)) {
            Ok(response) => {
                crate::error::status("x", &response, time::macros::datetime!(2026-01-01 0:00 UTC))
                    .to_string()
            }
            Err(_) => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn handles_are_send_and_sync_and_their_futures_send() {
        let server = MetadataServer::builder()
            .with_env(|_| None)
            .with_transport(credkit_testing::MockTransport::new())
            .build()
            .unwrap();
        assert_send_sync(&server);
        assert_send(&server.probe());
        assert_send(&server.get("x"));
        assert_send(&server.email("default"));
        assert_send(&server.universe_domain());
        let source = MetadataCredentials::builder()
            .with_server(server.clone())
            .build()
            .unwrap();
        assert_send_sync(&source);
        let id = MetadataIdTokenSource::builder("aud")
            .with_server(server)
            .build()
            .unwrap();
        assert_send_sync(&id);
    }
}
