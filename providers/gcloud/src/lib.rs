//! Access tokens from the gcloud command-line tool, for credkit: the reference library's
//! `UserAccessTokenCredentials`, run without a shell, with a timeout, and with a real expiry.
//!
//! [`GcloudSource`] is a [`TokenSource`](credkit_core::TokenSource) that runs
//! `gcloud config config-helper --format=json` (falling back to `gcloud auth print-access-token`)
//! and hands out the token of the account gcloud is logged in with, or of a chosen account. It
//! is for developer machines, where `gcloud auth login` is how people sign in; it caches and
//! retries nothing itself: wrap it in credkit-core's caching layer, and gcloud runs once per
//! token lifetime instead of on every request.
//!
//! It runs gcloud asynchronously through `credkit-process` (on async-process), so it needs no
//! particular async runtime and blocks no executor thread.
//!
//! # Quick start
//!
//! ```no_run
//! use credkit_core::TokenSource;
//! use credkit_gcloud::GcloudSource;
//!
//! # futures::executor::block_on(async {
//! let source = GcloudSource::new();
//! let token = source.fetch_token().await?;
//! println!("expires at {:?}", token.expiry());
//! # Ok::<(), credkit_core::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Testing
//!
//! Point the source at `credkit_testing::FakeGcloud` (Unix) and give it a `FakeClock`:
//!
//! ```
//! # #[cfg(unix)]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use credkit_core::TokenSource;
//! use credkit_gcloud::GcloudSource;
//! use credkit_testing::{FakeClock, FakeGcloud};
//! use secrecy::ExposeSecret;
//!
//! let gcloud = FakeGcloud::builder().with_token("ya29.fake").build()?;
//! let source = GcloudSource::builder()
//!     .with_program(gcloud.path())
//!     .with_clock(FakeClock::new())
//!     .build()?;
//! let token = futures::executor::block_on(source.fetch_token())?;
//! assert_eq!(token.secret().expose_secret(), "ya29.fake");
//! assert_eq!(gcloud.calls(), 1);
//! # Ok(())
//! # }
//! # #[cfg(not(unix))]
//! # fn main() {}
//! ```
//!
//! # Differences from the reference
//!
//! - gcloud's standard error never ends up in the token (the reference merges it in).
//! - A real expiry from config-helper, so a cached token is reused until it is due; the reference
//!   runs gcloud on every request and never knows the expiry.
//! - A timeout; typed errors (see [`GcloudSource`]'s "Errors").
//! - No deprecation warning on construction.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod builder;
mod error;
mod id_token;
mod output;
mod source;
mod stderr;

// The public interface is:
pub use builder::GcloudSourceBuilder;
pub use id_token::{GcloudIdTokenSource, is_service_account};
pub use source::{DEFAULT_FALLBACK_LIFETIME, DEFAULT_PROGRAM, DEFAULT_TIMEOUT, GcloudSource};

/// Re-exported so users of this provider name the same core.
pub use credkit_core as core;

/// The parsers of gcloud's output, for the fuzz targets in `fuzz/`: compiled only under
/// `--cfg fuzzing` (which cargo-fuzz sets), never part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use std::time::Duration;

    use credkit_core::AccessToken;
    use time::OffsetDateTime;

    /// `gcloud config config-helper --format=json`'s document.
    pub fn config_helper(
        stdout: &[u8],
        started: OffsetDateTime,
        now: OffsetDateTime,
        fallback_lifetime: Duration,
    ) -> Result<AccessToken, String> {
        crate::output::from_config_helper(stdout, started, now, fallback_lifetime)
    }

    /// `gcloud auth print-identity-token`'s line.
    pub fn print_identity_token(stdout: &[u8]) -> Result<AccessToken, String> {
        crate::output::from_print_identity_token(stdout)
    }

    /// `gcloud auth print-access-token`'s line.
    pub fn print_access_token(
        stdout: &[u8],
        started: OffsetDateTime,
        lifetime: Duration,
    ) -> Result<AccessToken, String> {
        crate::output::from_print_access_token(stdout, started, lifetime)
    }

    /// The excerpt of standard error an error message carries.
    pub fn stderr_excerpt(stderr: &[u8]) -> String {
        crate::stderr::excerpt(stderr)
    }

    /// The longest excerpt, in characters (plus the ellipsis).
    pub const EXCERPT_CHARS: usize = crate::stderr::EXCERPT_CHARS;

    /// The classification of standard error: credential problem, unsupported command,
    /// transient failure.
    pub fn stderr_classes(stderr: &str) -> (bool, bool, bool) {
        (
            crate::stderr::is_credential_problem(stderr),
            crate::stderr::is_unsupported_command(stderr),
            crate::stderr::is_transient_failure(stderr),
        )
    }
}
