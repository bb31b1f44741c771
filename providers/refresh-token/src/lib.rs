//! Refresh-token ("authorized user") credentials for credkit: the Rust counterpart of the
//! reference library's `google.oauth2.credentials.Credentials`.
//!
//! [`UserCredentials`] holds a user's refresh token and OAuth client and runs the refresh-token
//! grant (RFC 6749 section 6) with the reference's exact request, errors and state updates:
//! refresh-token rotation, the ID token, granted scopes, the rapt token, the quota project and the
//! universe-domain guard. It reads and writes `authorized_user` JSON
//! ([`UserCredentials::from_authorized_user_file`], [`UserCredentials::to_json`]).
//!
//! [`default_credentials`] and [`Adc`] discover Application Default Credentials: a credentials
//! file, gcloud's well-known file, then (with the `gcloud` feature) the gcloud CLI.
//!
//! It is a [`TokenSource`](credkit_core::TokenSource) and caches nothing itself: the caching
//! layer of `credkit-core` does that. It depends only on `credkit-core`'s public API, exactly as a
//! third-party provider would, and sends HTTP through any [`Transport`](credkit_core::Transport).
//!
//! # Where credkit departs from the reference
//!
//! - A scope shortfall logs the reference's warning and exposes the granted scopes; it is never
//!   an error. No metrics header is sent.
//! - A non-JSON error body (an HTML 503 page) is a typed error naming status and content type,
//!   never the body; without `error_description` the message is the `error` code alone.
//! - `expires_in` may be a decimal string; `expiry` may be RFC 3339 with an offset; a `type`
//!   other than `authorized_user` is rejected by name; a string `scopes` is split on whitespace
//!   without empty entries.
//! - `with_*` copies keep the token's expiry, and are built (so checked) by the one builder, so
//!   they return a `Result`; any other setting is copied through
//!   [`UserCredentials::to_builder`].
//! - The requested scopes, a scope shortfall and where the credential came from are methods
//!   ([`UserCredentials::requested_scopes`], [`UserCredentials::missing_scopes`],
//!   [`UserCredentials::credential_source`]).
//! - A `"refresh_token": null` in a refresh response keeps the stored refresh token.
//! - Tokens with CR, LF or other control characters are rejected.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod adc;
mod error;
mod reauth;
mod user;

// The public interface is:
pub use adc::{
    ADC_FILE_NAME, Adc, AdcSource, CLOUDSDK_CONFIG_ENV, CREDENTIALS_ENV, GCLOUD_CLIENT_ID,
    QUOTA_PROJECT_ENV, default_credentials,
};
pub use user::{
    DEFAULT_UNIVERSE_DOMAIN, GOOGLE_TOKEN_URI, UserCredentials, UserCredentialsBuilder,
};

/// Re-exported so users of this provider name the same core.
pub use credkit_core as core;

// The README's Rust examples compile as doctests of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
