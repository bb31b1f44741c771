//! Credentials from a caller-supplied async refresh function, for credkit: the reference
//! library's `refresh_handler`.
//!
//! The function receives the [`Transport`](credkit_core::Transport) the credentials use and the
//! requested scopes, and returns an access token and its expiry: to fetch downscoped tokens from
//! a broker, say, or tokens some other system of yours hands out.
//!
//! - [`RefreshHandler`]: the trait such a function implements; implement it on a type of your own,
//!   or make a plain async closure one with [`handler_fn`] (as tower's `service_fn`).
//! - [`RefreshHandlerSource`]: a [`TokenSource`](credkit_core::TokenSource) that calls the
//!   handler and validates its result as the reference does (a string token, a datetime expiry,
//!   not already expired), with credkit's lifetime-scaled threshold, so short-lived tokens work. `credkit-refresh-token`'s
//!   `UserCredentials` uses it when it has a handler and no refresh token.
//!
//! This crate is a provider: it caches nothing and retries nothing. Wrap the source in
//! credkit-core's caching layer for that.
//!
//! # Quick start
//!
//! ```
//! use std::sync::Arc;
//! use credkit_core::{Error, ErrorKind, TokenSource, Transport};
//! use credkit_refresh_handler::{handler_fn, RefreshHandlerSource};
//! use credkit_testing::MockTransport;
//! use time::OffsetDateTime;
//!
//! # futures::executor::block_on(async {
//! let handler = handler_fn(|_transport, scopes| async move {
//!     if scopes.is_empty() {
//!         return Err(Error::new(ErrorKind::Provider, "no scopes requested"));
//!     }
//!     Ok((String::from("ya29.from-my-broker"), OffsetDateTime::now_utc() + time::Duration::HOUR))
//! });
//! let transport: Arc<dyn Transport> = Arc::new(MockTransport::new()); // your real transport
//! let source = RefreshHandlerSource::builder(handler, transport)
//!     .with_scopes(["https://www.googleapis.com/auth/cloud-platform"])
//!     .build()?;
//! let token = source.fetch_token().await?;
//! assert!(token.expiry().is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod handler;
mod source;

// The public interface is:
pub use handler::{HandlerFn, RefreshHandler, handler_fn};
pub use source::{RefreshHandlerSource, RefreshHandlerSourceBuilder};

/// Re-exported so users of this provider name the same core.
pub use credkit_core as core;
