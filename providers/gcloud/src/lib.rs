//! Access tokens from the gcloud command-line tool for credkit: the reference library's
//! `UserAccessTokenCredentials`, run without a shell, with a timeout and a real expiry.
//!
//! This crate is a skeleton: `GcloudSource` arrives with its own issue.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

/// Re-exported so users of this provider name the same core.
pub use credkit_core as core;
