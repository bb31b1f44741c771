//! Access tokens handed in, for credkit: a token file read again as it changes, and a token in
//! the environment, as gcloud takes them (`--access-token-file`, the `auth/access_token_file`
//! property, `CLOUDSDK_AUTH_ACCESS_TOKEN_FILE`, `CLOUDSDK_AUTH_ACCESS_TOKEN`).
//!
//! Some tools are not given credentials but a token: a CI step that mints one and writes it
//! to a file, a sidecar that keeps a file fresh (`credkit token --output-file F
//! --keep-fresh`), a script that exports `CLOUDSDK_AUTH_ACCESS_TOKEN=$(gcloud auth
//! print-access-token)`. Nothing here can refresh a token: whoever hands it in supplies the
//! next one, and these sources read it.
//!
//! - [`TokenFileSource`]: the token in a file, a bare token or a JSON document with its
//!   expiry; read on every fetch, with a re-read deadline for a token whose expiry is unknown,
//!   and an expired token refused rather than served.
//! - [`TokenEnvSource`]: the token in an environment variable, `CLOUDSDK_AUTH_ACCESS_TOKEN` by
//!   default.
//! - [`Refusal`]: why a token was not used, as the source of each error.
//!
//! Both are [`TokenSource`](credkit_core::TokenSource)s: wrap them in
//! [`Credentials`](credkit_core::Credentials) for the cached headers, the tower layer and the
//! reqwest middleware (whose 401 handling makes the file be read again). The facade's
//! Application Default Credentials read gcloud's variables with these (feature
//! `access-token` of `credkit`).
//!
//! The crate needs no async runtime and depends on nothing but credkit-core: time comes from
//! its [`Clock`](credkit_core::Clock), and the file is read synchronously (see
//! [`TokenFileSource`], "A blocking read", for why that is fine).
//!
//! # Quick start
//!
//! ```
//! use std::time::Duration;
//! use credkit_access_token::{Refusal, TokenFileSource};
//! use credkit_core::{Clock, Credentials, TokenSource};
//! use credkit_testing::FakeClock;
//!
//! # futures::executor::block_on(async {
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("token.json");
//! let clock = FakeClock::new();
//! let expiry = clock.now() + Duration::from_secs(3600);
//! let expiry = expiry.format(&time::format_description::well_known::Rfc3339)?;
//! std::fs::write(&path, format!(r#"{{"access_token": "ya29.ci", "expiry": "{expiry}"}}"#))?;
//!
//! let source = TokenFileSource::builder(&path).with_clock(clock.clone()).build()?;
//! let credentials = Credentials::builder(source.clone()).with_clock(clock.clone()).build()?;
//! assert_eq!(credentials.headers().await?["authorization"], "Bearer ya29.ci");
//!
//! // An hour later the token has expired, and nobody wrote a new one.
//! clock.advance(Duration::from_secs(3600));
//! let err = source.fetch_token().await.unwrap_err();
//! assert_eq!(Refusal::of(&err), Some(Refusal::Expired));
//! assert!(err.to_string().contains("write a new token to the file"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # What gcloud does
//!
//! gcloud (`googlecloudsdk/core/credentials/store.py`, `_Load`) uses, first that is set:
//! `CLOUDSDK_AUTH_ACCESS_TOKEN` (an environment variable only, no property), then the
//! `auth/access_token_file` property (the global `--access-token-file` flag, then
//! `CLOUDSDK_AUTH_ACCESS_TOKEN_FILE`, then the active configuration's file), then
//! `auth/credential_file_override`, and only then the active account. It strips the value
//! or the file's content and builds credentials with no expiry and no refresh; the file is
//! read each time gcloud runs. Google's client libraries' Application Default Credentials
//! read none of these.
//!
//! # Differences from gcloud
//!
//! - A JSON document with an expiry is accepted too, and an expired token is refused with a
//!   typed error instead of being sent to collect a 401.
//! - The content is checked: control characters, non-ASCII text, empty files and files over
//!   [`MAX_FILE_SIZE`] are refused, never sent in a header.
//! - A long-running program reads the file again (gcloud runs once per command).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod env;
mod error;
mod file;
mod parse;
mod refusal;

// The public interface is:
pub use env::{ACCESS_TOKEN_ENV, ACCESS_TOKEN_FILE_ENV, TokenEnvSource};
pub use file::{DEFAULT_REREAD_INTERVAL, MAX_FILE_SIZE, TokenFileSource, TokenFileSourceBuilder};
pub use refusal::Refusal;

/// Re-exported so users of this provider name the same core.
pub use credkit_core as core;

/// The parser of token files, for the fuzz target in `fuzz/`: compiled only under
/// `--cfg fuzzing` (which cargo-fuzz sets), never part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use std::time::Duration;

    use credkit_core::AccessToken;
    use time::OffsetDateTime;

    use crate::Refusal;

    /// A token file's bytes, modified at `written`, as of `now`, with a re-read interval for
    /// an unknown expiry.
    pub fn token_file(
        bytes: &[u8],
        written: Option<OffsetDateTime>,
        now: OffsetDateTime,
        reread: Option<Duration>,
    ) -> Result<AccessToken, Refusal> {
        crate::parse::parse(bytes, written)?.at(now, reread)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<TokenFileSource>();
        assert_send_sync::<TokenFileSourceBuilder>();
        assert_send_sync::<TokenEnvSource>();
        assert_send_sync::<Refusal>();
    }
}
