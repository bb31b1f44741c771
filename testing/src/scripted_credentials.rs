//! `scripted_credentials`: a `Credentials` over a `ScriptedSource`, both on one `FakeClock`.

use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::{
    AccessToken, BuildError, Clock, Credentials, CredentialsBuilder, Result, TokenSource,
};

use crate::{FakeClock, ScriptedSource, Step};

/// Credentials for testing code that takes a [`Credentials`]: a [`ScriptedSource`] and the
/// `Credentials` over it, built on one [`FakeClock`]. Made by [`scripted_credentials`] (or
/// [`ScriptedCredentials::new`] for an empty script).
///
/// The three handles share everything: advance `clock` to expire a token, read
/// `source.fetches()` to count refreshes, push more steps onto `source` at any time, hand
/// `credentials` (or a clone) to the code under test.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use credkit_testing::{block_on, scripted_credentials};
///
/// let kit = scripted_credentials(["ya29.first", "ya29.second"]); // one hour each
/// let headers = block_on(kit.credentials.headers())?;
/// assert_eq!(headers["authorization"], "Bearer ya29.first");
///
/// kit.clock.advance(Duration::from_secs(3600)); // the first token expires
/// let headers = block_on(kit.credentials.headers())?;
/// assert_eq!(headers["authorization"], "Bearer ya29.second");
/// assert_eq!(kit.source.fetches(), 2);
/// # Ok::<(), credkit_core::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ScriptedCredentials {
    /// The caching layer under test, on `clock`, over `source`, with the default settings
    /// (retries included: their backoff passes at once on the auto-advancing clock).
    pub credentials: Credentials,
    /// The clock of both: it auto-advances (a sleep moves it and completes at once, so retries
    /// and delays never hang a test), and [`advance`](FakeClock::advance) moves it further.
    pub clock: FakeClock,
    /// The script: [`fetches`](ScriptedSource::fetches) counts the refreshes,
    /// [`push`](ScriptedSource::push) adds steps.
    pub source: ScriptedSource,
}

/// A [`Credentials`] over a [`ScriptedSource`] answering `steps` in order, both on one
/// auto-advancing [`FakeClock`]: the one call a test of code that uses credentials needs.
///
/// A step is a [`Step`], or a token's secret (`"ya29.first"`, valid for one hour from its
/// fetch), or an [`Error`](credkit_core::Error) to fail with. Once the script is used up the
/// source answers numbered one-hour tokens, `scripted-token-<n>` (`n` the fetch number);
/// [`ScriptedCredentials::new`] starts with nothing else.
///
/// The credentials have every default setting. For others (a quota project, a spawner, no
/// retries), use [`ScriptedCredentials::build`].
///
/// # Examples
///
/// ```
/// use credkit_testing::{Step, block_on, scripted_credentials};
///
/// let kit = scripted_credentials([Step::permanent(), Step::from("ya29.after-login")]);
/// let err = block_on(kit.credentials.headers()).unwrap_err();
/// assert_eq!(err.oauth_error(), Some("invalid_grant"));
/// let headers = block_on(kit.credentials.headers())?;
/// assert_eq!(headers["authorization"], "Bearer ya29.after-login");
/// # Ok::<(), credkit_core::Error>(())
/// ```
pub fn scripted_credentials<S: Into<Step>>(
    steps: impl IntoIterator<Item = S>,
) -> ScriptedCredentials {
    let (clock, source) = script(steps);
    // `Credentials::new` cannot fail; it takes the clock from the source.
    let credentials = Credentials::new(OnClock(source.clone()));
    ScriptedCredentials {
        credentials,
        clock,
        source,
    }
}

/// An auto-advancing clock and a source on it answering `steps`.
fn script<S: Into<Step>>(steps: impl IntoIterator<Item = S>) -> (FakeClock, ScriptedSource) {
    let clock = FakeClock::new().with_auto_advance(true);
    let source = ScriptedSource::new(&clock);
    source.push_all(steps.into_iter().map(Into::into));
    (clock, source)
}

/// The scripted source, naming its clock to the caching layer built over it.
#[derive(Debug)]
struct OnClock(ScriptedSource);

#[async_trait]
impl TokenSource for OnClock {
    async fn fetch_token(&self) -> Result<AccessToken> {
        self.0.fetch_token().await
    }

    fn name(&self) -> &str {
        self.0.name()
    }

    fn clock(&self) -> Option<Arc<dyn Clock>> {
        Some(Arc::new(self.0.clock().clone()))
    }
}

impl ScriptedCredentials {
    /// Credentials over an empty script: every fetch answers a numbered one-hour token,
    /// `scripted-token-1`, `scripted-token-2`, ... (the same as `scripted_credentials([])`,
    /// which cannot infer the type of an empty array).
    ///
    /// ```
    /// use credkit_testing::{ScriptedCredentials, block_on};
    ///
    /// let kit = ScriptedCredentials::new();
    /// let headers = block_on(kit.credentials.headers())?;
    /// assert_eq!(headers["authorization"], "Bearer scripted-token-1");
    /// # Ok::<(), credkit_core::Error>(())
    /// ```
    pub fn new() -> Self {
        scripted_credentials(std::iter::empty::<Step>())
    }

    /// As [`scripted_credentials`], with the credentials' builder passed through `configure`
    /// first. The clock is set after `configure`, so it is always the kit's.
    ///
    /// ```
    /// use credkit_testing::{ScriptedCredentials, block_on};
    ///
    /// let kit = ScriptedCredentials::build(["ya29.t"], |b| {
    ///     b.with_quota_project("billing").without_retries()
    /// })?;
    /// let headers = block_on(kit.credentials.headers())?;
    /// assert_eq!(headers["x-goog-user-project"], "billing");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`CredentialsBuilder::build`]: a quota project or initial token that cannot go into
    /// a header.
    pub fn build<S: Into<Step>>(
        steps: impl IntoIterator<Item = S>,
        configure: impl FnOnce(CredentialsBuilder) -> CredentialsBuilder,
    ) -> std::result::Result<Self, BuildError> {
        let (clock, source) = script(steps);
        let credentials = configure(Credentials::builder(OnClock(source.clone())))
            .with_clock(clock.clone())
            .build()?;
        Ok(Self {
            credentials,
            clock,
            source,
        })
    }
}

impl Default for ScriptedCredentials {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use credkit_core::{Clock, TokenState};

    use super::*;
    use crate::block_on;

    #[test]
    fn the_credentials_read_the_kits_clock() {
        let kit = scripted_credentials(["a"]);
        block_on(kit.credentials.headers()).unwrap();
        assert_eq!(kit.credentials.token_state(), TokenState::Fresh);
        kit.clock.advance(Duration::from_secs(3600 - 225));
        assert_eq!(kit.credentials.token_state(), TokenState::Stale);
        kit.clock.advance(Duration::from_secs(225));
        assert_eq!(kit.credentials.token_state(), TokenState::Invalid);
    }

    #[test]
    fn retries_pass_at_once_on_the_auto_advancing_clock() {
        let kit = scripted_credentials([Step::transient(), Step::from("after")]);
        let start = kit.clock.now();
        let headers = block_on(kit.credentials.headers()).unwrap();
        assert_eq!(headers["authorization"], "Bearer after");
        assert_eq!(kit.source.fetches(), 2);
        assert_eq!(kit.clock.sleeps().len(), 1, "one backoff");
        assert!(kit.clock.now() > start);
    }

    #[test]
    fn configure_cannot_replace_the_clock() {
        let kit = ScriptedCredentials::build(["a"], |b| {
            b.with_clock(credkit_core::SystemClock).without_retries()
        })
        .unwrap();
        // On the system clock, a token stamped on the fake clock (2026-01-01) would be refused.
        block_on(kit.credentials.headers()).unwrap();
        let err = ScriptedCredentials::build(["a"], |b| b.with_quota_project("bad\nproject"));
        assert!(err.unwrap_err().is_invalid_value());
    }

    #[test]
    fn clones_share_the_script_and_the_clock() {
        let kit = ScriptedCredentials::default();
        let copy = kit.clone();
        block_on(copy.credentials.headers()).unwrap();
        copy.clock.advance(Duration::from_secs(60));
        assert_eq!(kit.source.fetches(), 1);
        assert_eq!(kit.clock.now(), copy.clock.now());
        assert_eq!(kit.credentials.token_state(), TokenState::Fresh);
    }
}
