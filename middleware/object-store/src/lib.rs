//! `object_store`'s Google Cloud Storage credential provider on credkit: arrow, `DataFusion`,
//! delta-rs and polars read and write GCS with the tokens of any credkit
//! [`Credentials`](credkit_core::Credentials), and sign URLs with credkit's
//! [`Signer`](credkit_core::Signer).
//!
//! The [`object_store`] crate's GCS client takes a pluggable credential provider:
//! [`GcsCredentialProvider`] is one, over a `Credentials`. `object_store` asks it before every
//! request; it answers from credkit's cache (one lock-free load while the token is fresh, the
//! same `Arc<GcpCredential>` handed out for as long as the token lasts), refreshes ahead of
//! expiry, and makes any number of concurrent requests share one refresh. `object_store`'s own
//! token handling is not used at all: no key file read, no environment variable, no metadata
//! server, and a refresh that fails reaches the caller as an error naming the cause
//! (`invalid_grant: Token has been expired or revoked.`), with credkit's typed error as its
//! source.
//!
//! [`GcsSigningProvider`] gives `object_store` the account that signs URLs and a key to sign
//! with: any credkit `Signer` (a service-account key, or IAM's `signBlob` through
//! `credkit-impersonated`), or only the email, for `object_store` to call `signBlob` itself with
//! the store's token. [`gcs_builder`] puts it together.
//!
//! This crate is an adapter: it depends on `credkit-core` and `object_store` (its `gcp`
//! feature) and nothing else of credkit's. It is not an HTTP client, and `object_store`'s
//! requests go out through `object_store`'s own client, as configured on its builder.
//!
//! # Example
//!
//! A service-account key file; any other source works the same (see below).
//!
//! ```no_run
//! use std::sync::Arc;
//! use credkit_core::Credentials;
//! use credkit_object_store::{GcsSigningProvider, gcs_builder};
//! use credkit_reqwest::ReqwestTransport;
//! use credkit_service_account::{ServiceAccountCredentials, ServiceAccountKey};
//! use object_store::path::Path;
//! use object_store::signer::Signer as _;
//! use object_store::{ObjectStoreExt as _, PutPayload};
//!
//! # async fn f() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let key = ServiceAccountKey::from_file("key.json")?;
//! let source = ServiceAccountCredentials::builder(key.clone())
//!     .with_scopes(["https://www.googleapis.com/auth/devstorage.read_write"])
//!     .with_transport(ReqwestTransport::new()?)
//!     .build()?;
//! let credentials = Credentials::new(source);
//!
//! let store = gcs_builder(credentials, "my-bucket")
//!     .with_signing_credentials(Arc::new(GcsSigningProvider::from_signer(key.signer())))
//!     .build()?;
//! let path = Path::from("reports/2026/q1.parquet");
//! store.put(&path, PutPayload::from_static(b"...")).await?;
//! let bytes = store.get(&path).await?.bytes().await?;
//! let url = store.signed_url(http::Method::GET, &path, std::time::Duration::from_secs(600)).await?;
//! # let _ = (bytes, url);
//! # Ok(())
//! # }
//! # let _ = f;
//! ```
//!
//! `DataFusion`, delta-rs and polars take such a store as an `Arc<dyn ObjectStore>` (`DataFusion`'s
//! `register_object_store(&url, Arc::new(store))`, for instance).
//!
//! # Which credkit sources work
//!
//! Every one: the provider only calls [`Credentials::access_token`](credkit_core::Credentials::access_token).
//! Application Default Credentials (the `credkit` facade), a user's refresh token
//! (`credkit-refresh-token`), a service-account key (`credkit-service-account`), the metadata
//! server (`credkit-metadata`), impersonation (`credkit-impersonated`), workload and workforce
//! identity federation (`credkit-external-account`), gcloud (`credkit-gcloud`), a function of
//! your own (`credkit-refresh-handler`), and any of them sharing one token across processes or
//! a fleet through a `Storage` (`credkit-storage-file`, `credkit-storage-redis`). The token
//! needs a scope that covers Cloud Storage (`devstorage.read_only`, `devstorage.read_write`,
//! `devstorage.full_control` or `cloud-platform`).
//!
//! # A token Cloud Storage refuses
//!
//! `object_store` does not tell its credential provider about a 401: a token revoked before
//! its expiry would be sent until it expires. Keep an `Arc` of the provider beside the store
//! and, on [`object_store::Error::Unauthenticated`], call
//! [`GcsCredentialProvider::invalidate_served_token`]: the next request waits for a new token
//! (one refresh for a burst of refusals, as credkit's adapters do).
//!
//! # Signed URLs
//!
//! `object_store` signs a URL by calling a key **synchronously**. A local key signs at once; a
//! remote signer (`credkit-impersonated`'s `IamSigner`) is waited for with tokio's
//! `block_in_place`, which needs the multi-threaded runtime; on a current-thread runtime the
//! signing fails with an error that says so. [`GcsSigningProvider::sign_blob`] avoids the
//! question: `object_store` then calls `signBlob` itself, asynchronously, with the store's token
//! (which must be allowed to sign as that account). See [`GcsSigningProvider`].
//!
//! # Secrets
//!
//! `object_store`'s `GcpCredential` keeps its bearer token in a plain `String`: this crate makes
//! one per token, zeroizes it when it drops the last copy, and can do nothing about copies
//! `object_store` still holds. Errors and `Debug` never show a token.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod builder;
mod error;
mod provider;
mod signing;

// The public interface is:
pub use builder::gcs_builder;
pub use provider::GcsCredentialProvider;
pub use signing::GcsSigningProvider;

/// Re-exported so users of this crate name the same core.
pub use credkit_core as core;
/// Re-exported so users of this crate name the same `object_store`.
pub use object_store;

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<GcsCredentialProvider>();
        assert_send_sync::<GcsSigningProvider>();
    }
}
