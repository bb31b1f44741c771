//! Refresh-token ("authorized user") credentials for credkit: the Rust counterpart of the
//! reference library's `google.oauth2.credentials.Credentials`, with `authorized_user` JSON in and
//! out and Application Default Credentials discovery.
//!
//! This crate is a skeleton: `UserCredentials` and `default_credentials` arrive with their own
//! issue. It depends only on `credkit-core`'s public API, as a third-party provider would.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

/// Re-exported so users of this provider name the same core.
pub use credkit_core as core;
