//! Credentials for synchronous code: the same cache as the async API, with methods that return
//! when the token is ready, safe on any thread, inside a tokio runtime or not.
//!
//! ```no_run
//! use credkit::blocking;
//!
//! let credentials = blocking::default_credentials()?;
//! let headers = credentials.headers()?; // authorization: Bearer ...
//! # let _ = headers;
//! let project = blocking::project_id()?;
//! # let _ = project;
//! # Ok::<(), credkit::Error>(())
//! ```
//!
//! # When to use it
//!
//! In a program, or a part of one, that does not run on an async runtime: a command-line tool,
//! a synchronous HTTP client (ureq, `reqwest::blocking`), a callback of a C library, a plugin
//! interface that is synchronous. In async code use the async API ([`crate::Credentials`]):
//! a blocking call holds its thread while a refresh runs.
//!
//! [`default_credentials`], [`id_token_credentials`], [`id_token`] and [`project_id`] mirror
//! the crate's async functions; [`Adc`] wraps a configured [`credkit::Adc`](crate::Adc);
//! [`Credentials`] wraps any [`credkit::Credentials`](crate::Credentials) (`From`), sharing its
//! cache, so async and blocking callers of one cache can mix.
//!
//! # Guarantees
//!
//! - **No panic inside a runtime.** The naive wrapper, `Runtime::block_on` inside each call,
//!   panics on a thread that already runs one ("Cannot start a runtime from within a
//!   runtime"). Here no call starts, enters or blocks on a runtime on the caller's thread.
//! - **No deadlock on a current-thread runtime.** A wrapper that hands the work to the
//!   caller's own runtime and waits waits forever when that runtime has one thread: the
//!   caller's. Here the work runs on a runtime of its own ([below](#the-runtime)) and never
//!   needs the caller's, which is only paused for the wait, as by any blocking call. The one
//!   combination that cannot work, [`with_handle`](Credentials::with_handle) given the
//!   current-thread runtime the call is made on, fails at once with a typed error instead of
//!   hanging.
//! - **The hot path is the async one.** A fresh cached token is served on the caller's thread
//!   with the same synchronous reads as the async API: one atomic load, no lock, no thread
//!   hop; [`Credentials::access_token`] allocates nothing, [`Credentials::headers`] only the
//!   map it returns (as the async `headers()`), [`Credentials::before_request`] nothing when
//!   the map has room. A stale token is served at once too, its refresh running ahead in the
//!   background. Only with no usable token does a caller wait, for the one refresh that every
//!   concurrent caller shares.
//! - **Typed errors.** A refresh's error reaches the caller as the async API returns it
//!   ([`crate::Error`], with its kind, OAuth fields and transience). The blocking API adds a
//!   transient [`Timeout`](crate::ErrorKind::Timeout) ([`with_timeout`](Credentials::with_timeout))
//!   and the deadlock refusal above.
//!
//! # The runtime
//!
//! The work (discovery, refreshes, refreshes ahead) runs on one tokio runtime shared by every
//! blocking value in the process: multi-thread, two worker threads named `credkit-blocking`,
//! started on first use (a program whose tokens are always fresh never starts it), with I/O
//! and timers. The default transport (reqwest) lives there too, its connections pooled across
//! calls, so a synchronous program never picks a runtime or a transport. The caller's thread
//! waits on a channel for the result.
//!
//! - *Panics.* The caching layer already turns a panicking source, storage or observer into
//!   an error; anything else that panics on the runtime fails that call with an
//!   [`Internal`](crate::ErrorKind::Internal) error, and the runtime goes on. A failure to
//!   start the runtime (no threads left) is a transient error, and the next call tries again.
//! - *Process exit.* The runtime is never shut down: its threads end with the process. A
//!   refresh in flight at exit is abandoned; a storage keeps its last complete record.
//! - *Your own transport or source.* Anything that runs on tokio runs there as it is. One that
//!   needs *your* runtime (connections bound to it, or another executor) takes
//!   [`Credentials::with_handle`] / [`Adc::with_handle`]: the work then runs on the runtime
//!   you name, which must keep running. For credentials you build yourself, [`spawner`] gives
//!   the shared runtime as the [`Spawner`](crate::core::Spawner) for background refresh.
//! - *Re-entry.* A source of yours that calls a blocking API from inside a refresh runs on a
//!   worker of the runtime it waits for; that worker hands its other tasks over
//!   (`block_in_place`) while it waits, so this works too.
//! - *Fork.* A child process cannot use blocking values made before the fork (the runtime's
//!   threads are not in the child); make new ones after it.
//!
//! # Cost
//!
//! Measured by `cargo bench -p credkit --bench blocking`, two runs, on a 2-vCPU machine shared
//! with other builds (load average about 15): mean time per call, the system clock, a fresh
//! token with a quota project (both headers). The async calls are polled bare
//! (`now_or_never`) or with `futures::executor::block_on`; the async loopback refresh runs on a
//! tokio runtime of the benchmark's.
//!
//! | call | blocking | async |
//! |---|---|---|
//! | `headers()`, fresh token | 239 to 385 ns | 275 to 285 ns bare, 301 to 350 ns `block_on` |
//! | `before_request()` into a map with room / async `apply()` | 163 ns | 155 ns |
//! | `access_token()`, fresh token | 153 to 162 ns | 158 ns bare, 197 to 201 ns `block_on` |
//! | `refresh()` from an in-memory source | 15.3 µs | 16.3 µs `block_on` |
//! | `refresh()` over loopback HTTP (reqwest, refresh-token grant) | 176 to 346 µs | 100 to 151 µs |
//!
//! Runs on this machine differ by up to 40 %, and the cached calls are within that of the
//! async ones: neither touches a runtime. Allocations, counted by dhat: 2 per `headers()`
//! either way (the map returned), none per `access_token()` or `before_request()`. The
//! hand-over of a refresh to the runtime and back is lost in the noise of an in-memory
//! refresh; over the network it adds two thread wake-ups (a worker of the runtime, then the
//! caller), which cost most on a busy machine like this one.

mod adc;
mod credentials;
mod error;
mod runtime;

use std::sync::Arc;

use credkit_core::{AccessToken, Result};

// The public interface is:
pub use adc::Adc;
pub use credentials::Credentials;

/// Application Default Credentials from the process environment, as blocking
/// [`Credentials`]: [`Adc::new().credentials()`](Adc::credentials), the blocking
/// [`credkit::default_credentials`](crate::default_credentials). Discovery runs on the
/// blocking runtime; so do the credentials' refreshes, ahead of expiry in the background.
///
/// # Errors
///
/// As [`credkit::Adc::discover`](crate::Adc::discover): not configured when nothing was found
/// (the message lists every place looked at), a configuration error for a broken credentials
/// file.
pub fn default_credentials() -> Result<Credentials> {
    Adc::new().credentials()
}

/// Blocking caching credentials of ID tokens for `audience` from the process environment's
/// ADC: the blocking [`credkit::id_token_credentials`](crate::id_token_credentials). Hold on
/// to them: each token is fetched once and served until shortly before its `exp`.
///
/// ```no_run
/// let ids = credkit::blocking::id_token_credentials("https://my-service-abc123-uc.a.run.app")?;
/// let token = ids.access_token()?; // the ID token, with its expiry
/// # let _ = token;
/// # Ok::<(), credkit::Error>(())
/// ```
///
/// # Errors
///
/// As [`credkit::Adc::id_token_credentials`](crate::Adc::id_token_credentials).
pub fn id_token_credentials(audience: &str) -> Result<Credentials> {
    Adc::new().id_token_credentials(audience)
}

/// One ID token for `audience` from the process environment's ADC, fetched now: the blocking
/// [`credkit::id_token`](crate::id_token). For more than one, hold [`id_token_credentials`]
/// instead: this discovers and fetches on every call.
///
/// # Errors
///
/// As [`credkit::Adc::id_token_credentials`](crate::Adc::id_token_credentials), and the
/// fetch's error.
pub fn id_token(audience: &str) -> Result<Arc<AccessToken>> {
    let audience = audience.to_owned();
    runtime::Runner::default().run(async move { crate::id_token(&audience).await })
}

/// The project ID of the process environment: the blocking
/// [`credkit::project_id`](crate::project_id).
///
/// # Errors
///
/// As [`credkit::Adc::project_id`](crate::Adc::project_id).
pub fn project_id() -> Result<String> {
    Adc::new().project_id()
}

/// The shared blocking runtime as a [`Spawner`](crate::core::Spawner), for credentials you
/// build yourself and use from synchronous code: their refreshes ahead then run there in the
/// background. (Blocking [`Credentials`] start the refresh ahead there themselves when their
/// credentials have no spawner; with this one it starts a little earlier, from
/// [`apply`](crate::Credentials::apply) too.) Starts the runtime if need be.
///
/// ```
/// use credkit::blocking;
/// use credkit::core::{AccessToken, Credentials, StaticSource};
///
/// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
///     .with_spawner(blocking::spawner()?)
///     .build()?;
/// let credentials = blocking::Credentials::from(credentials);
/// # let _ = credentials;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// When the runtime cannot start its threads (transient).
pub fn spawner() -> Result<crate::tokio::TokioSpawner> {
    Ok(crate::tokio::TokioSpawner::from_handle(
        runtime::shared_handle()?,
    ))
}
