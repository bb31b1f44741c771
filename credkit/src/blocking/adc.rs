//! `Adc`: Application Default Credentials discovery, for synchronous callers.

use std::time::Duration;

use credkit_core::Result;
use tokio::runtime::Handle;

use super::Credentials;
use super::runtime::Runner;
use crate::Discovered;

/// [`credkit::Adc`](crate::Adc) for code that cannot `.await`: discovery runs on the
/// [blocking runtime](super#the-runtime) while the caller's thread waits, and the credentials
/// it finds are [blocking `Credentials`](Credentials) whose refreshes run there too.
///
/// Configure the async [`Adc`](crate::Adc) (scopes, quota project, transport, clock, the
/// environment, credential types of your own), then make it blocking with [`From`]:
///
/// ```no_run
/// use credkit::blocking;
///
/// let adc = credkit::Adc::new()
///     .with_scopes(["https://www.googleapis.com/auth/cloud-platform"])
///     .with_quota_project("my-billing-project");
/// let credentials = blocking::Adc::from(adc).credentials()?;
/// let headers = credentials.headers()?;
/// # let _ = headers;
/// # Ok::<(), credkit::Error>(())
/// ```
///
/// A [`with_timeout`](Self::with_timeout) or [`with_handle`](Self::with_handle) given here
/// holds for discovery and is passed on to the credentials made.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct Adc {
    adc: crate::Adc,
    runner: Runner,
}

impl Adc {
    /// Discovery over the process environment, as [`credkit::Adc::new`](crate::Adc::new).
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits at most `timeout` for discovery and, in the credentials made, for each refresh;
    /// see [`Credentials::with_timeout`]. Default: no limit of its own.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.runner.set_timeout(timeout);
        self
    }

    /// Runs discovery and, in the credentials made, the refreshes on the runtime behind
    /// `handle`; see [`Credentials::with_handle`]. Default: the shared blocking runtime.
    pub fn with_handle(mut self, handle: Handle) -> Self {
        self.runner.set_handle(handle);
        self
    }

    /// The async discovery underneath.
    pub fn as_async(&self) -> &crate::Adc {
        &self.adc
    }

    /// The first credential found, as [`credkit::Adc::discover`](crate::Adc::discover).
    ///
    /// # Errors
    ///
    /// As [`credkit::Adc::discover`](crate::Adc::discover), and the blocking API's own (see
    /// [`Credentials::headers`]).
    pub fn discover(&self) -> Result<Discovered> {
        let adc = self.adc.clone();
        self.runner.run(async move { adc.discover().await })
    }

    /// The caching credentials over the first credential found, as
    /// [`credkit::Adc::credentials`](crate::Adc::credentials), made blocking. Discovery runs
    /// on the blocking runtime, so the credentials refresh ahead there in the background.
    ///
    /// # Errors
    ///
    /// As [`credkit::Adc::credentials`](crate::Adc::credentials), and the blocking API's own.
    pub fn credentials(&self) -> Result<Credentials> {
        let adc = self.adc.clone();
        let credentials = self.runner.run(async move { adc.credentials().await })?;
        Ok(Credentials::with_runner(credentials, self.runner.clone()))
    }

    /// The caching credentials of ID tokens for `audience`, as
    /// [`credkit::Adc::id_token_credentials`](crate::Adc::id_token_credentials), made blocking.
    ///
    /// # Errors
    ///
    /// As [`credkit::Adc::id_token_credentials`](crate::Adc::id_token_credentials), and the
    /// blocking API's own.
    pub fn id_token_credentials(&self, audience: &str) -> Result<Credentials> {
        let adc = self.adc.clone();
        let audience = audience.to_owned();
        let credentials = self
            .runner
            .run(async move { adc.id_token_credentials(&audience).await })?;
        Ok(Credentials::with_runner(credentials, self.runner.clone()))
    }

    /// The project ID, as [`credkit::Adc::project_id`](crate::Adc::project_id).
    ///
    /// # Errors
    ///
    /// As [`credkit::Adc::project_id`](crate::Adc::project_id), and the blocking API's own.
    pub fn project_id(&self) -> Result<String> {
        let adc = self.adc.clone();
        self.runner.run(async move { adc.project_id().await })
    }
}

impl From<crate::Adc> for Adc {
    /// Blocking discovery with `adc`'s settings, on the shared blocking runtime.
    fn from(adc: crate::Adc) -> Self {
        Self {
            adc,
            runner: Runner::default(),
        }
    }
}
