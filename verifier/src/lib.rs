//! Verifies Google-issued ID tokens.
//!
//! An [`IdTokenVerifier`] checks a token's signature (RS256 or ES256) with Google's public
//! keys, then its claims: `iss`, `aud`, `exp` and `iat` with a bounded clock skew, and
//! optionally the hosted domain (`hd`) and `email_verified`. Every rejection is a typed
//! [`VerifyError`] that says why and never includes the token.
//!
//! - **Keys online:** fetched through any credkit [`Transport`](credkit_core::Transport) from a
//!   JWK set or a `kid → PEM certificate` map (Google's v3 and v1 endpoints, IAP's), cached as
//!   their `Cache-Control` says, one fetch for any number of concurrent callers, one refresh
//!   at most per interval for tokens naming an unknown key, and keys fetched earlier kept in use
//!   while the endpoint fails (see the `cache` notes on [`IdTokenVerifier::verify`]).
//! - **Keys offline:** a JWK set, PEM certificates or public keys given at build; never fetches.
//! - **Time** is read from a credkit [`Clock`](credkit_core::Clock), so tests use a fake one.
//!
//! Signatures and key parsing are [`jsonwebtoken`]'s, on aws-lc-rs. The crate needs no async
//! runtime.
//!
//! # Example
//!
//! ```
//! use credkit_core::Clock;
//! use credkit_testing::{FakeClock, TestIdTokenIssuer};
//! use credkit_verifier::IdTokenVerifier;
//!
//! # futures::executor::block_on(async {
//! let issuer = TestIdTokenIssuer::generate()?;
//! let clock = FakeClock::new();
//! let verifier = IdTokenVerifier::builder()
//!     .with_audience("https://my-service.example")
//!     .with_pem_keys(issuer.pem_certificates())
//!     .with_clock(clock.clone())
//!     .build()?;
//! let token = issuer.mint_es256(&TestIdTokenIssuer::google_claims("https://my-service.example", clock.now()));
//! let claims = verifier.verify(&token).await?;
//! assert_eq!(claims.iss, "https://accounts.google.com");
//! assert_eq!(serde_json::to_value(&claims)?["aud"], "https://my-service.example");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod algorithm;
mod builder;
mod cache;
mod claims;
mod error;
mod keys;
mod token;
mod verifier;

// The public interface is:
pub use algorithm::Algorithm;
pub use builder::{
    DEFAULT_CLOCK_SKEW, DEFAULT_FETCH_TIMEOUT, DEFAULT_MIN_REFRESH_INTERVAL, GOOGLE_CERTS_URL,
    GOOGLE_ISSUERS, GOOGLE_JWKS_URL, IAP_ISSUER, IAP_JWKS_URL, IAP_PEM_URL, IdTokenVerifierBuilder,
    MAX_CLOCK_SKEW,
};
pub use cache::{DEFAULT_KEYS_MAX_AGE, FAILED_FETCH_RETRY};
pub use claims::IdTokenClaims;
pub use error::VerifyError;
pub use token::MAX_TOKEN_LEN;
pub use verifier::IdTokenVerifier;

/// The crate-private parsers, for the fuzz targets in `fuzz/` (compiled only under
/// `--cfg fuzzing`, which cargo-fuzz sets). Not part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use std::time::Duration;

    /// Checks `payload` as a verified token's claims (Google's issuers, audience `aud`, 10 s of
    /// skew, `hd` `example.com` and `email_verified` required) at `now` (Unix seconds).
    ///
    /// # Errors
    ///
    /// The rejection's message.
    pub fn check_claims(payload: &[u8], now: i64) -> Result<(), String> {
        let policy = crate::claims::Policy {
            issuers: crate::GOOGLE_ISSUERS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            audiences: Some(vec!["aud".to_owned()]),
            clock_skew: Duration::from_secs(10),
            hosted_domain: Some("example.com".to_owned()),
            require_email_verified: true,
        };
        let now = time::OffsetDateTime::from_unix_timestamp(now)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        policy
            .check(payload, now)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Parses a keys document; the number of usable keys.
    ///
    /// # Errors
    ///
    /// Why the document holds no usable key.
    pub fn parse_keys(document: &[u8]) -> Result<usize, &'static str> {
        crate::keys::KeySet::parse(document).map(|set| set.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn public_types_are_send_sync_and_clone() {
        assert_send_sync_clone::<IdTokenVerifier>();
        assert_send_sync_clone::<IdTokenClaims>();
        assert_send_sync_clone::<VerifyError>();
    }
}
