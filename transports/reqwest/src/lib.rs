//! The reqwest transport for credkit: rustls, timeouts, a body cap, no redirects, and `https://`
//! required except on loopback.
//!
//! This crate is a skeleton: `ReqwestTransport` arrives with its own issue.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

/// Re-exported so users of this transport name the same core.
pub use credkit_core as core;
