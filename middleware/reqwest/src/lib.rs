//! A reqwest-middleware for credkit: OAuth 2.0 credentials on every request of a
//! [reqwest-middleware](https://docs.rs/reqwest-middleware) client, with one refresh and one
//! replay per burst of 401s.
//!
//! [`AuthMiddleware`] is a thin adapter over [`credkit_core::authorize`]: the rules (which
//! requests get a token, what a 401 means, when a request is replayed) are decided there, once,
//! for every adapter credkit has (this one, `credkit-tower`'s layer and
//! [`AuthorizedTransport`](credkit_core::AuthorizedTransport)).
//!
//! ```
//! # #[allow(dead_code)]
//! # fn f(credentials: credkit_core::Credentials) {
//! use credkit_reqwest_middleware::AuthMiddleware;
//!
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(AuthMiddleware::new(credentials))
//!     .build();
//! # let _ = client;
//! # }
//! ```
//!
//! # Sibling crates
//!
//! `credkit-core` (the [`Credentials`](credkit_core::Credentials) cache and the authorizer),
//! the providers (`credkit-refresh-token`, `credkit-refresh-handler`, `credkit-gcloud`),
//! `credkit-reqwest` (the transport token requests go through), `credkit-tower` (the same
//! rules for tower services), and `credkit-testing`.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod middleware;

// The public interface is:
pub use middleware::AuthMiddleware;

/// Re-exported so users of this middleware name the same core.
pub use credkit_core as core;
/// Re-exported so [`AuthMiddleware`] is attached to a client of the same version.
pub use reqwest_middleware;
