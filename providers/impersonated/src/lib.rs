//! Service-account impersonation for credkit, through Google's IAM Credentials API: act as a
//! service account from any credentials that may (the *Service Account Token Creator* role),
//! directly or through a chain of delegates.
//!
//! - [`ImpersonatedCredentials`]: access tokens of the target account (`generateAccessToken`;
//!   with [`with_subject`](ImpersonatedCredentialsBuilder::with_subject), domain-wide delegation
//!   through `signJwt` and the JWT-bearer grant). The reference's
//!   `google.auth.impersonated_credentials.Credentials`.
//! - [`ImpersonatedIdTokenSource`]: ID tokens of the target account for an audience
//!   (`generateIdToken`): the reference's `impersonated_credentials.IDTokenCredentials`.
//! - [`IamSigner`]: a core [`Signer`](credkit_core::Signer) through `signBlob`, for the target
//!   account or, standalone, any account the credentials may sign as (the reference's
//!   `iam.Signer`).
//! - [`ImpersonatedServiceAccountInfo`]: the `impersonated_service_account` credentials file.
//!   The facade crate `credkit` registers it with ADC.
//!
//! The source is a core [`Credentials`](credkit_core::Credentials) (any
//! [`TokenSource`](credkit_core::TokenSource): a user, a service account, the metadata server,
//! an external account, other impersonated credentials), so one cached source token serves
//! every IAM call. Calls go through core's
//! [`AuthorizedTransport`](credkit_core::AuthorizedTransport): a 401 drops the source's token
//! and replays once. The sources fetch and nothing more: wrap them in `Credentials` for
//! caching, single flight, refresh ahead and retries. The crate needs no particular async
//! runtime and takes any [`Transport`](credkit_core::Transport).
//!
//! # Quick start
//!
//! ```no_run
//! use credkit_core::Credentials;
//! use credkit_impersonated::ImpersonatedCredentials;
//! use credkit_reqwest::ReqwestTransport;
//!
//! # #[allow(dead_code)]
//! async fn impersonate(user: Credentials) -> Result<(), Box<dyn std::error::Error>> {
//! let target = ImpersonatedCredentials::builder(user, "robot@my-project.iam.gserviceaccount.com")
//!     .with_delegates(["projects/-/serviceAccounts/hop@my-project.iam.gserviceaccount.com"])
//!     .with_scopes(["https://www.googleapis.com/auth/cloud-platform"])
//!     .with_transport(ReqwestTransport::new()?)
//!     .build()?;
//! let id_tokens = Credentials::new(target.id_token_source("https://my-service.run.app")?);
//! let credentials = Credentials::new(target);
//! let headers = credentials.headers().await?;
//! # let _ = (headers, id_tokens);
//! Ok(())
//! }
//! ```
//!
//! # Testing
//!
//! `credkit_testing::FakeIamServer` is the IAM Credentials API on 127.0.0.1: point
//! [`with_iam_base_url`](ImpersonatedCredentialsBuilder::with_iam_base_url) at its `url()`.
//!
//! # Differences from the reference
//!
//! - No scopes means `cloud-platform` (as the Rust peer), not a request IAM refuses.
//! - `expireTime` may carry fractional seconds or an offset (RFC 3339), which Google's API may
//!   send and the reference's `strptime` rejects.
//! - Errors are typed (HTTP status, Google's `status` as the OAuth error code, transience) and
//!   carry Google's `message` scrubbed of the source's token, never a raw body; the reference
//!   puts the whole body in its exception.
//! - `signBlob` also retries 408, 429 and transient transport failures, and waits on the
//!   injected clock. No metrics header is sent (as everywhere in credkit).
//! - An ADC file's `service_account_impersonation_url` names the target and nothing more (the
//!   reference does the same); the endpoint follows the universe domain.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod call;
mod credentials;
mod endpoint;
mod error;
mod id_token;
mod info;
mod signer;

// The public interface is:
pub use credentials::{DEFAULT_LIFETIME, ImpersonatedCredentials, ImpersonatedCredentialsBuilder};
pub use endpoint::{CLOUD_PLATFORM_SCOPE, DEFAULT_UNIVERSE_DOMAIN, GOOGLE_TOKEN_URI, IAM_SCOPE};
pub use id_token::{ImpersonatedIdTokenSource, ImpersonatedIdTokenSourceBuilder};
pub use info::{
    IMPERSONATED_SERVICE_ACCOUNT, ImpersonatedServiceAccountInfo, SUPPORTED_SOURCE_TYPES,
};
pub use signer::{IamSigner, IamSignerBuilder};

/// Re-exported so users of this provider name the same core.
pub use credkit_core as core;

/// The readers of IAM's replies, for the fuzz targets in `fuzz/`: compiled only under
/// `--cfg fuzzing` (which cargo-fuzz sets), never part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use bytes::Bytes;
    use credkit_core::{AccessToken, Error};
    use secrecy::SecretString;
    use time::OffsetDateTime;

    /// A `generateAccessToken` success body.
    pub fn access_token(body: &[u8], sent_at: OffsetDateTime) -> Result<AccessToken, Error> {
        crate::credentials::read_access_token(&Bytes::copy_from_slice(body), sent_at)
    }

    /// A `signJwt` success body.
    pub fn signed_jwt(body: &[u8]) -> Result<SecretString, Error> {
        crate::credentials::read_signed_jwt(&Bytes::copy_from_slice(body))
    }

    /// The error of an IAM reply with any status, content type and body, `secret` scrubbed.
    pub fn error(
        status: u16,
        content_type: &[u8],
        body: &[u8],
        now: OffsetDateTime,
        secret: &SecretString,
    ) -> Option<Error> {
        let mut builder = http::Response::builder().status(status);
        if let Ok(value) = http::HeaderValue::from_bytes(content_type) {
            builder = builder.header(http::header::CONTENT_TYPE, value);
        }
        let response = builder.body(Bytes::copy_from_slice(body)).ok()?;
        Some(crate::error::from_reply(
            crate::error::REFRESH_ERROR,
            &response,
            now,
            &[secret],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone + std::fmt::Debug>() {}

    #[test]
    fn handles_are_send_sync_clone_and_debug() {
        assert_send_sync::<ImpersonatedCredentials>();
        assert_send_sync::<ImpersonatedIdTokenSource>();
        assert_send_sync::<IamSigner>();
        assert_send_sync::<ImpersonatedServiceAccountInfo>();
    }
}
