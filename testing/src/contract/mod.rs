//! Contract suites: checks that an implementation of a core trait keeps the promises its docs
//! make, for your own implementations as much as for credkit's.
//!
//! - [`storage::run`]: every [`Storage`](credkit_core::Storage) (load, store, remove, unknown
//!   keys, concurrent stores, the lease, records of other versions).
//! - [`token_source`]: every [`TokenSource`](credkit_core::TokenSource) (lifetimes counted from
//!   before the request, errors classified, safe to cancel, no secret in `Debug` or errors).

pub mod storage;
pub mod token_source;
