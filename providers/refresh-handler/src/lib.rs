//! Credentials from a caller-supplied async refresh function for credkit: the function receives a
//! transport and the requested scopes and returns a token and its expiry (to fetch downscoped
//! tokens from a broker, say).
//!
//! This crate is a skeleton: `RefreshHandlerSource` and `handler_fn` arrive with their own issue.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

/// Re-exported so users of this provider name the same core.
pub use credkit_core as core;
