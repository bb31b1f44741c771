//! Service-account key credentials for credkit: the reference library's
//! `google.oauth2.service_account` (`Credentials`, `IDTokenCredentials`) and the RS256 signer of
//! `google.auth.crypt`.
//!
//! - [`ServiceAccountKey`]: a `service_account` key file, parsed (the reference's error texts,
//!   the private key never in an error or `Debug`).
//! - [`ServiceAccountCredentials`]: a [`TokenSource`](credkit_core::TokenSource) of access
//!   tokens, by the JWT-bearer grant (RFC 7523) to the key's `token_uri`, or as self-signed JWTs
//!   exactly where the reference makes them (`always_use_jwt_access`, a default host without
//!   scopes, any universe other than `googleapis.com`); domain-wide delegation with a subject.
//! - [`IdTokenCredentials`]: a `TokenSource` of ID tokens for a target audience.
//! - [`ServiceAccountSigner`]: a [`Signer`](credkit_core::Signer) (RS256 with aws-lc-rs, key ID =
//!   `private_key_id`), and [`encode_jwt`], which makes a JWT with any signer.
//!
//! Nothing here caches or retries: wrap a source in [`Credentials`](credkit_core::Credentials)
//! (`Credentials::builder(source)...build()` or `Credentials::new(source)`), which reads the
//! source's clock. The grant goes out through the [`Transport`](credkit_core::Transport) you
//! give (`credkit-reqwest`'s, say); this crate depends on no HTTP stack.
//!
//! # Example
//!
//! Against the test kit's fake token endpoint, which checks the assertion's RS256 signature
//! with the key's public half:
//!
//! ```
//! use credkit_core::TokenSource;
//! use credkit_service_account::ServiceAccountCredentials;
//! use credkit_testing::{FakeClock, FakeTokenServer, JwtBearerCheck, TestKey};
//! use secrecy::ExposeSecret;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = TestKey::generate()?;
//! let server = FakeTokenServer::start().await?;
//! let email = "robot@my-project.iam.gserviceaccount.com";
//! server.accept_jwt_bearer(JwtBearerCheck::new(&key, email));
//!
//! let creds = ServiceAccountCredentials::from_service_account_json(
//!     &key.service_account_json(email, &server.token_url()),
//! )?
//! .to_builder()
//! .with_scopes(["https://www.googleapis.com/auth/cloud-platform"])
//! .with_transport(server.endpoint().clone())
//! .with_clock(FakeClock::new())
//! .build()?;
//! let token = creds.fetch_token().await?;
//! assert_eq!(token.secret().expose_secret(), "fake-access-token-1");
//! let form = server.last_request().unwrap();
//! assert_eq!(form.form_value("grant_type"), Some("urn:ietf:params:oauth:grant-type:jwt-bearer"));
//! # Ok(())
//! # }
//! ```
//!
//! # Differences from the reference
//!
//! - The assertion's `iat` and the token's lifetime come from the injected clock, read once
//!   before the request; the reference reads the wall clock twice.
//! - No `x-goog-api-client` metrics header on the grant.
//! - A key file with a `type` other than `service_account` is refused by name (the reference
//!   never looks at `type`); missing fields are named in a fixed order.
//! - ID tokens outside the `googleapis.com` universe (IAM `generateIdToken`) are not supported
//!   yet: a typed configuration error says so.
//! - Regional access boundaries and trust boundaries are not implemented.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod builder;
mod credentials;
mod error;
mod grant;
mod id_token;
mod jwt;
mod key;
mod signer;
#[cfg(test)]
mod tests;

// The public interface is:
pub use builder::ServiceAccountCredentialsBuilder;
pub use credentials::{GOOGLE_TOKEN_URI, ServiceAccountCredentials};
pub use grant::JWT_BEARER_GRANT_TYPE;
pub use id_token::{IdTokenCredentials, IdTokenCredentialsBuilder};
pub use jwt::{JWT_LIFETIME_SECS, encode_jwt};
pub use key::{DEFAULT_UNIVERSE_DOMAIN, ServiceAccountKey};
pub use signer::ServiceAccountSigner;

/// Re-exported so users of this provider name the same core.
pub use credkit_core as core;

/// The parser of key files, for the fuzz target in `fuzz/`: compiled only under `--cfg
/// fuzzing` (which cargo-fuzz sets), never part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// Parses `service_account` JSON text, the private key included; the error's message.
    pub fn parse_key(info: &[u8]) -> Result<(), String> {
        let text = std::str::from_utf8(info).map_err(|e| e.to_string())?;
        crate::ServiceAccountKey::from_json_str(text)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Reads the `exp` of an unverified ID token.
    pub fn id_token_expiry(jwt: &str) -> Option<i64> {
        credkit_core::AccessToken::from_id_token(jwt)
            .ok()
            .and_then(|t| t.expiry())
            .map(time::OffsetDateTime::unix_timestamp)
    }
}
