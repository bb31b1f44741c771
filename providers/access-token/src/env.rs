//! `TokenEnvSource`: an access token from an environment variable, gcloud's
//! `CLOUDSDK_AUTH_ACCESS_TOKEN` by default.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::{AccessToken, Clock, Error, Result, SystemClock, TokenSource};

use crate::{error, parse};

/// The environment variable gcloud reads an access token from; it wins over every other
/// credential of gcloud's, `--access-token-file` included.
pub const ACCESS_TOKEN_ENV: &str = "CLOUDSDK_AUTH_ACCESS_TOKEN";

/// The environment variable of gcloud's `auth/access_token_file` property (also set by its
/// `--access-token-file` flag): the path of a file holding an access token.
pub const ACCESS_TOKEN_FILE_ENV: &str = "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE";

/// How the variable is read.
type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A [`TokenSource`] that reads an access token from an environment variable
/// ([`ACCESS_TOKEN_ENV`], gcloud's `CLOUDSDK_AUTH_ACCESS_TOKEN`, unless told another) on every
/// fetch.
///
/// ```
/// use credkit_access_token::TokenEnvSource;
/// use credkit_core::TokenSource;
/// use secrecy::ExposeSecret;
///
/// # futures::executor::block_on(async {
/// let source = TokenEnvSource::new()
///     .with_lookup(|name| (name == "CLOUDSDK_AUTH_ACCESS_TOKEN").then(|| "ya29.env\n".to_owned()));
/// let token = source.fetch_token().await?;
/// assert_eq!(token.secret().expose_secret(), "ya29.env");
/// assert_eq!(token.expiry(), None);
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
///
/// The value is read as gcloud reads it: white space around it is ignored. It is a bare
/// token, or a JSON document as a [token file's](crate::TokenFileSource) holds, whose RFC 3339
/// `expiry` is honoured (`expires_in` is refused: a variable has no time to count it from).
/// A bare token has no expiry: a process's environment does not change, so there is nothing
/// to re-read; the token is used until a server rejects it.
///
/// Unlike core's [`EnvSource`](credkit_core::EnvSource), which it otherwise resembles: the
/// default variable is gcloud's, white space around the value is trimmed, a known expiry is
/// kept (and an expired token refused), and every refusal is a [`Refusal`](crate::Refusal).
///
/// # Errors
///
/// - unset or empty: [not configured](Error::is_not_configured), so a chain moves on;
/// - set but unusable (white space only, a line break inside, not ASCII): a permanent
///   [`InvalidResponse`](credkit_core::ErrorKind::InvalidResponse) error that never repeats
///   the value, with its [`Refusal`](crate::Refusal) as the source;
/// - a JSON document whose expiry has passed: a permanent
///   [`Configuration`](credkit_core::ErrorKind::Configuration) error,
///   [`Refusal::Expired`](crate::Refusal::Expired).
#[derive(Clone)]
pub struct TokenEnvSource {
    variable: String,
    lookup: Lookup,
    clock: Arc<dyn Clock>,
    quota_project: Option<String>,
}

impl Default for TokenEnvSource {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenEnvSource {
    /// A source reading [`ACCESS_TOKEN_ENV`] from the process environment.
    pub fn new() -> Self {
        Self::for_variable(ACCESS_TOKEN_ENV)
    }

    /// A source reading `variable` from the process environment.
    ///
    /// ```
    /// let source = credkit_access_token::TokenEnvSource::for_variable("MY_TOKEN");
    /// assert_eq!(source.variable(), "MY_TOKEN");
    /// ```
    pub fn for_variable(variable: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            lookup: Arc::new(|name| std::env::var(name).ok()),
            clock: Arc::new(SystemClock),
            quota_project: None,
        }
    }

    /// Reads variables through `lookup` instead of the process environment (tests, an
    /// environment of one's own).
    #[must_use]
    pub fn with_lookup(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.lookup = Arc::new(lookup);
        self
    }

    /// The clock that decides whether a JSON document's token has expired. Default
    /// [`SystemClock`].
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The quota project given to every token (sent as `x-goog-user-project`). Default none;
    /// an empty string also means none.
    #[must_use]
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        let project = project.into();
        self.quota_project = (!project.is_empty()).then_some(project);
        self
    }

    /// The variable's name.
    pub fn variable(&self) -> &str {
        &self.variable
    }

    /// The quota project given to every token, if any.
    pub fn quota_project(&self) -> Option<&str> {
        self.quota_project.as_deref()
    }
}

impl fmt::Debug for TokenEnvSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEnvSource")
            .field("variable", &self.variable)
            .field("clock", &self.clock)
            .field("quota_project", &self.quota_project)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TokenSource for TokenEnvSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let variable = &self.variable;
        let value = (self.lookup)(variable)
            .filter(|value| !value.is_empty())
            .map(secrecy::SecretString::from)
            .ok_or_else(|| {
                Error::not_configured(format!("the environment variable {variable} is not set"))
            })?;
        let value = secrecy::ExposeSecret::expose_secret(&value).as_bytes();
        let parsed = parse::parse(value, None).map_err(|r| error::variable_refused(variable, r))?;
        let expiry = parsed.expiry;
        let token = parsed
            .at(self.clock.now(), None)
            .map_err(|refusal| match expiry {
                Some(expiry) => error::variable_expired(variable, expiry),
                None => error::variable_refused(variable, refusal),
            })?;
        Ok(match &self.quota_project {
            Some(project) => token.with_quota_project(project.clone()),
            None => token,
        })
    }

    fn name(&self) -> &'static str {
        "access token environment variable"
    }
}
