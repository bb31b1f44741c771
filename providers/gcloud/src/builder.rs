//! `GcloudSourceBuilder`.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use credkit_core::{BuildError, Clock, SystemClock};

use crate::GcloudSource;
use crate::source::{Config, DEFAULT_FALLBACK_LIFETIME, DEFAULT_PROGRAM, DEFAULT_TIMEOUT};

/// Builds a [`GcloudSource`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use credkit_gcloud::GcloudSource;
///
/// let source = GcloudSource::builder()
///     .with_program("/opt/google-cloud-sdk/bin/gcloud")
///     .with_account("me@example.com")
///     .with_quota_project("my-project")
///     .with_timeout(Duration::from_secs(10))
///     .build()?;
/// assert_eq!(source.account(), Some("me@example.com"));
/// assert_eq!(source.quota_project(), Some("my-project"));
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
#[must_use]
pub struct GcloudSourceBuilder {
    config: Config,
}

impl Default for GcloudSourceBuilder {
    fn default() -> Self {
        Self {
            config: Config {
                program: PathBuf::from(DEFAULT_PROGRAM),
                account: None,
                quota_project: None,
                timeout: DEFAULT_TIMEOUT,
                fallback_lifetime: DEFAULT_FALLBACK_LIFETIME,
                clock: Arc::new(SystemClock),
            },
        }
    }
}

impl GcloudSourceBuilder {
    /// A builder holding `config`, for [`GcloudSource::to_builder`].
    pub(crate) fn from_config(config: Config) -> Self {
        Self { config }
    }

    /// The gcloud program: a bare name is looked up on `PATH`, a path is run as is. Default
    /// [`DEFAULT_PROGRAM`](crate::DEFAULT_PROGRAM).
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.config.program = program.into();
        self
    }

    /// The account to get a token for, passed as `--account=ACCOUNT`. Default none: gcloud's
    /// active account. An empty string also means none.
    pub fn with_account(mut self, account: impl Into<String>) -> Self {
        let account = account.into();
        self.config.account = (!account.is_empty()).then_some(account);
        self
    }

    /// The quota project, for the caching layer to send as `x-goog-user-project`. Default none.
    /// An empty string also means none.
    pub fn with_quota_project(mut self, quota_project: impl Into<String>) -> Self {
        let quota_project = quota_project.into();
        self.config.quota_project = (!quota_project.is_empty()).then_some(quota_project);
        self
    }

    /// How long one gcloud command may run before it is killed. Default
    /// [`DEFAULT_TIMEOUT`](crate::DEFAULT_TIMEOUT), 30 seconds.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// The lifetime assumed, from when the command started, for a token whose expiry gcloud does
    /// not report. Default [`DEFAULT_FALLBACK_LIFETIME`](crate::DEFAULT_FALLBACK_LIFETIME),
    /// 5 minutes; see there why.
    pub fn with_fallback_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.fallback_lifetime = lifetime;
        self
    }

    /// The clock that times out commands and dates tokens. Default
    /// [`SystemClock`].
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.config.clock = Arc::new(clock);
        self
    }

    /// Builds the source. Nothing is run until the first fetch.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] ([`is_invalid_value`](BuildError::is_invalid_value)) for an empty program
    /// path, a zero timeout or a zero fallback lifetime.
    pub fn build(self) -> Result<GcloudSource, BuildError> {
        if self.config.program.as_os_str().is_empty() {
            return Err(BuildError::invalid_value(
                "the gcloud program path is empty",
            ));
        }
        if self.config.timeout.is_zero() {
            return Err(BuildError::invalid_value("the gcloud timeout is zero"));
        }
        if self.config.fallback_lifetime.is_zero() {
            return Err(BuildError::invalid_value(
                "the gcloud fallback token lifetime is zero",
            ));
        }
        Ok(GcloudSource::from_config(self.into_config()))
    }

    pub(crate) fn into_config(self) -> Config {
        self.config
    }
}

// ===== copies of GcloudSource, all made by the builder =====

impl GcloudSource {
    /// A builder holding every setting of this source: change what differs, then `build()` an
    /// independent copy.
    ///
    /// ```
    /// use std::time::Duration;
    /// use credkit_gcloud::GcloudSource;
    ///
    /// let source = GcloudSource::builder().with_account("me@example.com").build()?;
    /// let patient = source.to_builder().with_timeout(Duration::from_secs(60)).build()?;
    /// assert_eq!(patient.account(), Some("me@example.com"));
    /// assert_eq!(patient.timeout(), Duration::from_secs(60));
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn to_builder(&self) -> GcloudSourceBuilder {
        GcloudSourceBuilder::from_config(self.config().clone())
    }

    /// A copy with `account` passed to gcloud as `--account=ACCOUNT` (the reference's
    /// `with_account`); an empty account means gcloud's active account. This source is
    /// unaffected.
    ///
    /// ```
    /// use credkit_gcloud::GcloudSource;
    ///
    /// let source = GcloudSource::new().with_account("me@example.com")?;
    /// assert_eq!(source.account(), Some("me@example.com"));
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`GcloudSourceBuilder::build`]. The reference's copies cannot fail; here every copy is
    /// built, and so checked, by the one builder, as [`to_builder`](Self::to_builder) copies are.
    pub fn with_account(&self, account: impl Into<String>) -> Result<Self, BuildError> {
        self.to_builder().with_account(account).build()
    }

    /// A copy with a quota project (the reference's `with_quota_project`). gcloud is not told
    /// about it: the caching layer sends it as the `x-goog-user-project` header. An empty string
    /// means none. This source is unaffected.
    ///
    /// # Errors
    ///
    /// As [`with_account`](Self::with_account).
    pub fn with_quota_project(&self, quota_project: impl Into<String>) -> Result<Self, BuildError> {
        self.to_builder().with_quota_project(quota_project).build()
    }
}

impl fmt::Debug for GcloudSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt_as("GcloudSourceBuilder", f)
    }
}
