//! The credkit command-line tool and example programs.
//!
//! This crate is a skeleton: the `credkit` binary (`demo`, `token`, `header`, `info`) and the
//! examples arrive with their own issue.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

/// Re-exported for the examples.
pub use credkit_core as core;
