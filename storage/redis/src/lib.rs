//! A credkit [`Storage`](credkit_core::Storage) in Redis, for fleets: any number of processes
//! on any number of hosts share one credential, make **one** token request per expiry between
//! them, and never lose a rotated refresh token.
//!
//! [`RedisStorage`] keeps each record in a Redis hash with a generation. `Credentials`
//! refreshes under its lease (`SET NX PX` with a random owner, renewed while held, released by
//! an atomic compare-and-delete that wakes waiting processes through pub/sub), and every store
//! made under the lease is fenced by the generation the lease began on: a holder whose lease
//! lapsed mid-refresh cannot overwrite a newer rotation. After a failover to a replica that
//! lost the last writes, a holder's newer record is still stored, not refused; and each clone
//! of a [`RedisStorage`] is fenced by its own leases only, as a separate process is.
//!
//! ```no_run
//! use std::time::Duration;
//! use credkit_core::{AccessToken, Credentials, LeasePolicy, StaticSource};
//! use credkit_storage_redis::RedisStorage;
//!
//! # #[allow(dead_code)]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let storage = RedisStorage::builder("redis://127.0.0.1:6379/0")
//!     .with_prefix("myapp:credkit:")
//!     .with_lease_ttl(Duration::from_secs(10))
//!     .build()?;
//! let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.example")))
//!     .with_storage(storage, "user:client-id")
//!     // For refresh tokens that rotate: never refresh outside the lease.
//!     .with_lease_policy(LeasePolicy::strict())
//!     .build()?;
//! let headers = credentials.headers().await?;
//! # let _ = headers;
//! # Ok(())
//! # }
//! ```
//!
//! **Degradation.** Redis out of reach is a transient storage error: by default `Credentials`
//! keeps serving a fresh cached token (the hot path never touches Redis) and refreshes an
//! expired one locally, reporting `RefreshEvent::LeaseUnavailable`; with
//! `with_lease_policy(LeasePolicy::strict())` it fails instead. The connection manager
//! reconnects by itself.
//!
//! **Trust.** Records are stored as they are: whoever reads the Redis server reads the
//! tokens. Use `rediss://` (feature `tls`), AUTH or ACL users in the URL, and a
//! [`RecordCodec`] to encrypt the bytes before they leave the process. With `tls`, a server
//! whose certificate a private CA signed is trusted through
//! [`RedisStorageBuilder::with_tls_root_certificates`], and a server that wants a client
//! certificate gets one through [`RedisStorageBuilder::with_tls_client_certificate`]. A
//! refused password or certificate is a permanent error that says what to fix.
//!
//! **Runtime.** The redis crate's async connections run on tokio: use this store inside a
//! tokio runtime.
//!
//! Sibling crates: `credkit-core` (the `Storage` trait, `Credentials`), `credkit-storage-file`
//! (one machine), `credkit-testing` (the `Storage` contract suite this store passes).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod error;
mod keys;
mod lease;
mod scripts;
mod store;
#[cfg(feature = "tls")]
mod tls;

// The public interface is:
/// Re-exported from `credkit-core`: the codec record bytes pass through (encryption at rest).
pub use credkit_core::{PlainJson, RecordCodec};
pub use store::{RedisStorage, RedisStorageBuilder};

// Only the feature's side effect is wanted: rustls with its aws-lc-rs provider as the
// process default, for `rediss://` connections.
#[cfg(feature = "tls")]
use rustls as _;
