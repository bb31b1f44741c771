//! Contract suites: checks that an implementation of a core trait keeps the promises its docs
//! make, for your own implementations as much as for credkit's.
//!
//! - [`storage::run`]: every [`Storage`](credkit_core::Storage) (load, store, remove, unknown
//!   keys, concurrent stores, the lease, listing, records of other versions);
//!   [`storage::run_fenced`] adds the checks of fencing by generation, for a store whose lease
//!   can lapse (a time to live): a lapsed holder never overwrites a newer record.
//! - [`token_source`]: every [`TokenSource`](credkit_core::TokenSource) (lifetimes counted from
//!   before the request, errors classified, safe to cancel, no secret in `Debug` or errors).

pub mod storage;
pub mod token_source;
