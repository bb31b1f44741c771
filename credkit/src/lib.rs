//! credkit: Google and OAuth 2.0 credentials for Rust, in one crate.
//!
//! ```no_run
//! # async fn f() -> credkit::Result<()> {
//! let credentials = credkit::default_credentials().await?;
//! let headers = credentials.headers().await?;
//! # let _ = headers;
//! # Ok(()) }
//! # let _ = f;
//! ```
//!
//! [`default_credentials`] finds Application Default Credentials ([`adc`]: a credentials file
//! of any registered type, gcloud's well-known file, then the fallbacks) and wraps them in the
//! caching [`Credentials`]: cached, one refresh for any number of concurrent callers, refreshed
//! ahead of expiry, in the background inside a tokio runtime. [`project_id`] finds the
//! project. [`Adc`] is the builder for everything else: scopes, quota project, transport,
//! clock, the environment to read, the metadata probe's timeout, credential types of your own.
//!
//! # Features
//!
//! | feature | default | gives |
//! |---|---|---|
//! | `refresh-token` | yes | `authorized_user` files in ADC; [`refresh_token`] (`credkit-refresh-token`) |
//! | `service-account` | yes | `service_account` key files in ADC; [`service_account`] (`credkit-service-account`) |
//! | `metadata` | yes | the metadata server as ADC's last fallback, behind its probe; [`metadata`] (`credkit-metadata`) |
//! | `impersonated` | yes | `impersonated_service_account` files in ADC; [`impersonated`] (`credkit-impersonated`) |
//! | `external-account` | yes | `external_account` files in ADC (workload and workforce identity federation: file, URL, executable and AWS sources); [`external_account`] (`credkit-external-account`) |
//! | `reqwest` | yes | the reqwest transport as ADC's default, [`reqwest`] (`credkit-reqwest`); a tokio spawner for background refresh, [`tokio`] (`credkit-tokio`) |
//! | `blocking` | yes | [`blocking`]: the credentials for synchronous code, refreshed on a runtime of their own; needs and enables `reqwest` |
//! | `gcloud` | no | the gcloud CLI as ADC's fallback; [`gcloud`] (`credkit-gcloud`) |
//! | `access-token` | no | a token handed in as gcloud takes one, first in ADC: `CLOUDSDK_AUTH_ACCESS_TOKEN`, then the file of `auth/access_token_file` (`CLOUDSDK_AUTH_ACCESS_TOKEN_FILE`), re-read as it changes (`credkit-access-token`) |
//! | `login` | no | [`login`] (`credkit-login`): obtains a user's credentials without gcloud (the browser sign-in with PKCE and a loopback redirect, the device flow) and revokes them |
//! | `verifier` | no | [`verifier`] (`credkit-verifier`): checks Google-issued ID tokens (signature, issuer, audience, times) with keys fetched and cached, or given |
//! | `tower` | no | [`tower`] (`credkit-tower`): credentials on every request of a tower service |
//! | `reqwest-middleware` | no | [`reqwest_middleware`] (`credkit-reqwest-middleware`) |
//! | `vault` | no | [`vault`] (`credkit-vault`): many users' refresh tokens in a shared store, encrypted at rest, one refresh per user per expiry across a fleet, revocations handled once |
//! | `object-store` | no | [`object_store`] (`credkit-object-store`): `object_store`'s GCS `CredentialProvider` over any [`Credentials`] (arrow, `DataFusion`, delta-rs, polars), and signed URLs through a [`Signer`] |
//!
//! Every provider crate depends on `credkit-core` alone; this crate is the one place that
//! knows them all.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "access-token")]
mod access_token_adc;
pub mod adc;
#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking;
#[cfg(feature = "external-account")]
mod external_account_adc;
#[cfg(feature = "gcloud")]
mod gcloud_adc;
#[cfg(feature = "impersonated")]
mod impersonated_adc;
#[cfg(feature = "metadata")]
mod metadata_adc;
#[cfg(feature = "service-account")]
mod service_account_adc;
#[cfg(feature = "refresh-token")]
mod user;

// The public interface is:
pub use adc::{Adc, AdcSource, Discovered};
pub use credkit_core::{
    AccessToken, ChainSource, Credentials, CredentialsBuilder, Error, ErrorKind, LeasePolicy,
    Result, Signer, TokenSource, Transport,
};

/// The traits, token and error types, the caching layer: `credkit-core`.
pub use credkit_core as core;

/// `authorized_user` (refresh-token) credentials: `credkit-refresh-token`.
#[cfg(feature = "refresh-token")]
#[cfg_attr(docsrs, doc(cfg(feature = "refresh-token")))]
pub use credkit_refresh_token as refresh_token;

/// Service-account keys: the JWT-bearer grant, self-signed JWTs, ID tokens and a signer:
/// `credkit-service-account`.
#[cfg(feature = "service-account")]
#[cfg_attr(docsrs, doc(cfg(feature = "service-account")))]
pub use credkit_service_account as service_account;

/// Service-account impersonation through the IAM Credentials API (access tokens, ID tokens, a
/// `signBlob` signer): `credkit-impersonated`.
#[cfg(feature = "impersonated")]
#[cfg_attr(docsrs, doc(cfg(feature = "impersonated")))]
pub use credkit_impersonated as impersonated;

/// Workload and workforce identity federation: external tokens (files, URLs, executables, AWS,
/// a supplier of your own) exchanged at Google's STS: `credkit-external-account`.
#[cfg(feature = "external-account")]
#[cfg_attr(docsrs, doc(cfg(feature = "external-account")))]
pub use credkit_external_account as external_account;

/// The metadata server of Compute Engine, GKE and Cloud Run: `credkit-metadata`.
#[cfg(feature = "metadata")]
#[cfg_attr(docsrs, doc(cfg(feature = "metadata")))]
pub use credkit_metadata as metadata;

/// Tokens handed in: a token file re-read as it changes, a token in the environment:
/// `credkit-access-token`.
#[cfg(feature = "access-token")]
#[cfg_attr(docsrs, doc(cfg(feature = "access-token")))]
pub use credkit_access_token as access_token;

/// Tokens from the gcloud CLI: `credkit-gcloud`.
#[cfg(feature = "gcloud")]
#[cfg_attr(docsrs, doc(cfg(feature = "gcloud")))]
pub use credkit_gcloud as gcloud;

/// Obtaining and revoking a user's credentials: `credkit-login`.
#[cfg(feature = "login")]
#[cfg_attr(docsrs, doc(cfg(feature = "login")))]
pub use credkit_login as login;

/// Verifying Google-issued ID tokens: `credkit-verifier`.
#[cfg(feature = "verifier")]
#[cfg_attr(docsrs, doc(cfg(feature = "verifier")))]
pub use credkit_verifier as verifier;

/// The reqwest transport: `credkit-reqwest`.
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use credkit_reqwest as reqwest;

/// Background refresh on a tokio runtime: `credkit-tokio`.
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use credkit_tokio as tokio;

/// Credentials on every request of a tower service: `credkit-tower`.
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use credkit_tower as tower;

/// Credentials on every request of a reqwest-middleware client: `credkit-reqwest-middleware`.
#[cfg(feature = "reqwest-middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
pub use credkit_reqwest_middleware as reqwest_middleware;

/// A credential vault for a service acting for many users: `credkit-vault`.
#[cfg(feature = "vault")]
#[cfg_attr(docsrs, doc(cfg(feature = "vault")))]
pub use credkit_vault as vault;

/// `object_store`'s GCS credential provider and signed-URL signer over credkit's credentials:
/// `credkit-object-store`.
#[cfg(feature = "object-store")]
#[cfg_attr(docsrs, doc(cfg(feature = "object-store")))]
pub use credkit_object_store as object_store;

/// Application Default Credentials from the process environment, as caching [`Credentials`]:
/// `Adc::new().credentials()`. With the `reqwest` feature the transport is a
/// `ReqwestTransport`, and inside a tokio runtime refreshes run ahead in the background.
///
/// # Errors
///
/// As [`Adc::discover`]: not configured when nothing was found (the message lists every place
/// looked at), a configuration error for a broken credentials file.
pub async fn default_credentials() -> Result<Credentials> {
    Adc::new().credentials().await
}

/// Caching credentials of ID tokens for `audience` from the process environment's ADC:
/// `Adc::new().id_token_credentials(audience)`. Hold on to them: each token is fetched once
/// and served until shortly before its `exp`. See [`Adc::id_token_credentials`] for where the
/// tokens come from.
///
/// ```no_run
/// # async fn f() -> credkit::Result<()> {
/// let ids = credkit::id_token_credentials("https://my-service-abc123-uc.a.run.app").await?;
/// let token = ids.access_token().await?; // the ID token, with its expiry
/// # let _ = token;
/// # Ok(()) }
/// # let _ = f;
/// ```
///
/// # Errors
///
/// As [`Adc::id_token_credentials`].
pub async fn id_token_credentials(audience: &str) -> Result<Credentials> {
    Adc::new().id_token_credentials(audience).await
}

/// One ID token for `audience` from the process environment's ADC, fetched now. For more than
/// one, hold [`id_token_credentials`] instead: this discovers and fetches on every call.
///
/// ```no_run
/// use credkit::core::secrecy::ExposeSecret;
///
/// # async fn f() -> credkit::Result<()> {
/// let token = credkit::id_token("https://my-service-abc123-uc.a.run.app").await?;
/// let header = format!("Bearer {}", token.secret().expose_secret());
/// # let _ = header;
/// # Ok(()) }
/// # let _ = f;
/// ```
///
/// # Errors
///
/// As [`Adc::id_token_credentials`], and the fetch's error.
pub async fn id_token(audience: &str) -> Result<std::sync::Arc<AccessToken>> {
    id_token_credentials(audience).await?.access_token().await
}

/// The project ID of the process environment: `Adc::new().project_id()`.
///
/// # Errors
///
/// As [`Adc::project_id`].
pub async fn project_id() -> Result<String> {
    Adc::new().project_id().await
}

/// The parsers of this crate, for the fuzz targets in `fuzz/`: compiled only under
/// `--cfg fuzzing` (which cargo-fuzz sets), never part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// The value of `key` in `[section]` of a gcloud properties file.
    pub fn gcloud_ini_value(text: &str, section: &str, key: &str) -> Option<String> {
        crate::adc::gcloud_config::ini_value(text, section, key)
    }
}

// The README's Rust examples compile as doctests of this crate (they use the default features).
#[cfg(all(doctest, feature = "refresh-token", feature = "reqwest"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
