//! The tokio spawner for credkit: [`TokioSpawner`] runs the background refreshes of a
//! [`Credentials`](credkit_core::Credentials) on a tokio runtime, whichever thread hands them
//! over.
//!
//! It is the whole crate. It depends on credkit-core and tokio's runtime only, with no HTTP
//! stack, so a tower or tonic client, or one with a transport of its own, gets it without
//! reqwest. (`credkit_reqwest::TokioSpawner` is the same type, re-exported.)
//!
//! ```
//! use credkit_core::{AccessToken, Credentials, StaticSource};
//! use credkit_tokio::TokioSpawner;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
//!     .with_spawner(TokioSpawner::current())
//!     .build()?;
//! # let _ = credentials;
//! # Ok(())
//! # }
//! ```
//!
//! # Sibling crates
//!
//! `credkit-core` (traits, errors, the caching layer), the providers (`credkit-refresh-token`,
//! `credkit-refresh-handler`, `credkit-gcloud`), the transports (`credkit-reqwest`,
//! `credkit-tower`), and `credkit-testing`.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod spawner;

// The public interface is:
pub use spawner::TokioSpawner;
