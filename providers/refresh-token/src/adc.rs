//! Application Default Credentials discovery for user credentials.

use std::fmt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use credkit_core::{
    AccessToken, BuildError, CredentialRecord, Credentials, CredentialsBuilder, Error, Result,
    TokenSource, Transport,
};

use crate::{UserCredentials, error};

/// The environment variable naming a credentials file.
pub const CREDENTIALS_ENV: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// The environment variable overriding gcloud's configuration folder.
pub const CLOUDSDK_CONFIG_ENV: &str = "CLOUDSDK_CONFIG";
/// The environment variable overriding the quota project.
pub const QUOTA_PROJECT_ENV: &str = "GOOGLE_CLOUD_QUOTA_PROJECT";
/// The file `gcloud auth application-default login` writes in gcloud's configuration folder.
pub const ADC_FILE_NAME: &str = "application_default_credentials.json";
/// The OAuth client ID of the gcloud CLI.
pub const GCLOUD_CLIENT_ID: &str =
    "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com";

/// Where Application Default Credentials were found.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum AdcSource {
    /// An `authorized_user` file.
    User(UserCredentials),
    /// The gcloud CLI, the last fallback (with the `gcloud` feature).
    #[cfg(feature = "gcloud")]
    #[cfg_attr(docsrs, doc(cfg(feature = "gcloud")))]
    Gcloud(credkit_gcloud::GcloudSource),
}

impl AdcSource {
    /// A short name for the kind of credential: `authorized_user` or `gcloud`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::User(_) => "authorized_user",
            #[cfg(feature = "gcloud")]
            Self::Gcloud(_) => "gcloud",
        }
    }

    /// A [`CredentialsBuilder`] over this source, refreshing through `transport`, with the
    /// source's clock, quota project and cached token already set: add a spawner (background
    /// refresh ahead, so no caller waits across an expiry), a storage or an observer, then
    /// `build()`.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] when the source cannot be rebuilt with `transport` (it never can fail
    /// for a source that discovery returned).
    ///
    /// ```no_run
    /// # #[allow(dead_code)]
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// use credkit_refresh_token::Adc;
    /// use credkit_reqwest::ReqwestTransport;
    /// use credkit_tokio::TokioSpawner;
    ///
    /// let credentials = Adc::from_env()
    ///     .discover()?
    ///     .credentials_builder(ReqwestTransport::new()?)?
    ///     .with_spawner(TokioSpawner::current())
    ///     .build()?;
    /// # let _ = credentials;
    /// # Ok(()) }
    /// ```
    pub fn credentials_builder(
        self,
        transport: impl Transport + 'static,
    ) -> std::result::Result<CredentialsBuilder, BuildError> {
        match self {
            Self::User(user) => Ok(Credentials::builder(
                user.to_builder().with_transport(transport).build()?,
            )),
            #[cfg(feature = "gcloud")]
            Self::Gcloud(gcloud) => {
                // gcloud runs its own program: the transport is not needed.
                drop(transport);
                Ok(Credentials::builder(gcloud))
            }
        }
    }

    /// The caching [`Credentials`] over this source, refreshing through `transport`, with the
    /// defaults (no spawner: the first caller to see a stale token drives its refresh). See
    /// [`credentials_builder`](Self::credentials_builder) to add a spawner.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] when the quota project cannot go into an HTTP header.
    pub fn into_credentials(
        self,
        transport: impl Transport + 'static,
    ) -> std::result::Result<Credentials, BuildError> {
        self.credentials_builder(transport)?.build()
    }
}

/// The source ADC found is a [`TokenSource`] itself, so "a token from an environment variable,
/// then ADC" is one [`ChainSource`](credkit_core::ChainSource), with no `match` on this enum:
///
/// ```no_run
/// # #[allow(dead_code)]
/// # fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use credkit_core::{ChainSource, Credentials, EnvSource};
/// use credkit_refresh_token::Adc;
/// use credkit_reqwest::ReqwestTransport;
///
/// let chain = ChainSource::new()
///     .with(EnvSource::new("MY_ACCESS_TOKEN"))
///     // Nothing found is "not configured": the chain's error then lists both reasons.
///     .with_result(Adc::from_env().source(ReqwestTransport::new()?));
/// let credentials = Credentials::new(chain);
/// # let _ = credentials;
/// # Ok(()) }
/// ```
#[async_trait]
impl TokenSource for AdcSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        match self {
            Self::User(user) => user.fetch_token().await,
            #[cfg(feature = "gcloud")]
            Self::Gcloud(gcloud) => gcloud.fetch_token().await,
        }
    }

    fn name(&self) -> &str {
        match self {
            Self::User(user) => user.name(),
            #[cfg(feature = "gcloud")]
            Self::Gcloud(gcloud) => gcloud.name(),
        }
    }

    fn initial_token(&self) -> Option<AccessToken> {
        match self {
            Self::User(user) => user.initial_token(),
            #[cfg(feature = "gcloud")]
            Self::Gcloud(gcloud) => gcloud.initial_token(),
        }
    }

    fn adopt_record(&self, record: &CredentialRecord) {
        match self {
            Self::User(user) => user.adopt_record(record),
            #[cfg(feature = "gcloud")]
            Self::Gcloud(gcloud) => gcloud.adopt_record(record),
        }
    }

    fn clock(&self) -> Option<std::sync::Arc<dyn credkit_core::Clock>> {
        match self {
            Self::User(user) => TokenSource::clock(user),
            #[cfg(feature = "gcloud")]
            Self::Gcloud(gcloud) => gcloud.clock(),
        }
    }

    fn quota_project(&self) -> Option<&str> {
        match self {
            Self::User(user) => TokenSource::quota_project(user),
            #[cfg(feature = "gcloud")]
            Self::Gcloud(gcloud) => TokenSource::quota_project(gcloud),
        }
    }
}

/// Application Default Credentials, ready to use: the first source [`Adc::discover`] finds in
/// the process environment, as caching [`Credentials`] that refresh through `transport`.
///
/// The one-line form of `Adc::from_env().credentials(transport)`; use an [`Adc`] to read the
/// environment through a lookup of your own, or to see which source was found.
///
/// # Errors
///
/// As [`Adc::discover`].
///
/// # Examples
///
/// ```no_run
/// # #[allow(dead_code)]
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use credkit_refresh_token::default_credentials;
/// use credkit_reqwest::ReqwestTransport;
///
/// let credentials = default_credentials(ReqwestTransport::new()?)?;
/// let headers = credentials.headers().await?;
/// assert!(headers.contains_key("authorization"));
/// # Ok(()) }
/// ```
pub fn default_credentials(transport: impl Transport + 'static) -> Result<Credentials> {
    Adc::from_env().credentials(transport)
}

/// Application Default Credentials discovery over an environment: the process environment
/// ([`Adc::from_env`]) or any lookup ([`Adc::with_env`]), so tests never change the real one.
///
/// Discovery tries, in order, and uses the first it finds (a source that is present but broken
/// is an error, never a reason to try the next):
///
/// 1. the file named by `GOOGLE_APPLICATION_CREDENTIALS`, if set and not empty (it must exist);
/// 2. `application_default_credentials.json` in gcloud's configuration folder:
///    `$CLOUDSDK_CONFIG`, else `$HOME/.config/gcloud` (`%APPDATA%\gcloud` on Windows, falling
///    back to `%SystemDrive%\gcloud`);
/// 3. with the `gcloud` feature, the gcloud CLI, if it is on `PATH`.
///
/// `GOOGLE_CLOUD_QUOTA_PROJECT`, when set, overrides the quota project. An empty variable counts
/// as unset.
///
/// # Examples
///
/// ```
/// use credkit_refresh_token::Adc;
///
/// let adc = Adc::with_env(|name| match name {
///     "CLOUDSDK_CONFIG" => Some("/nonexistent/gcloud".to_owned()),
///     _ => None,
/// });
/// let err = adc.find_user_credentials().unwrap_err();
/// assert!(err.is_not_configured());
/// assert!(err.to_string().starts_with("Your default credentials were not found."));
/// assert!(err.to_string().contains("/nonexistent/gcloud/application_default_credentials.json"));
/// ```
pub struct Adc {
    env: Box<EnvLookup>,
}

/// How an [`Adc`] reads an environment variable.
type EnvLookup = dyn Fn(&str) -> Option<String> + Send + Sync;

impl Adc {
    /// Discovery over the process environment.
    pub fn from_env() -> Self {
        Self::with_env(|name| std::env::var(name).ok())
    }

    /// Discovery reading each environment variable through `lookup`.
    pub fn with_env(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            env: Box::new(lookup),
        }
    }

    /// The variable `name`; an empty value counts as unset.
    fn var(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|value| !value.is_empty())
    }

    /// The first source found, as caching [`Credentials`] that refresh through `transport`.
    ///
    /// # Errors
    ///
    /// As [`discover`](Self::discover).
    pub fn credentials(&self, transport: impl Transport + 'static) -> Result<Credentials> {
        Ok(self.discover()?.into_credentials(transport)?)
    }

    /// A [`CredentialsBuilder`] over the first source found, refreshing through `transport`:
    /// the way to add a spawner (see [`AdcSource::credentials_builder`]).
    ///
    /// # Errors
    ///
    /// As [`discover`](Self::discover).
    ///
    /// ```no_run
    /// # #[allow(dead_code)]
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// use credkit_refresh_token::Adc;
    /// use credkit_reqwest::ReqwestTransport;
    /// use credkit_tokio::TokioSpawner;
    ///
    /// let credentials = Adc::from_env()
    ///     .credentials_builder(ReqwestTransport::new()?)?
    ///     .with_spawner(TokioSpawner::current())
    ///     .build()?;
    /// # let _ = credentials;
    /// # Ok(()) }
    /// ```
    pub fn credentials_builder(
        &self,
        transport: impl Transport + 'static,
    ) -> Result<CredentialsBuilder> {
        Ok(self.discover()?.credentials_builder(transport)?)
    }

    /// The first source found (see the type's docs for the order).
    ///
    /// # Errors
    ///
    /// As [`find_user_credentials`](Self::find_user_credentials). When nothing is found, the
    /// error is [`not configured`](credkit_core::Error::is_not_configured) and its message
    /// lists every place looked at, the gcloud CLI included.
    pub fn discover(&self) -> Result<AdcSource> {
        match self.find_user_credentials() {
            Ok(user) => Ok(AdcSource::User(user)),
            Err(err) if err.is_not_configured() => self.gcloud_fallback(err),
            Err(err) => Err(err),
        }
    }

    #[cfg(not(feature = "gcloud"))]
    #[allow(clippy::unused_self)] // The same signature with and without the feature.
    fn gcloud_fallback(&self, err: Error) -> Result<AdcSource> {
        Err(err)
    }

    #[cfg(feature = "gcloud")]
    fn gcloud_fallback(&self, err: Error) -> Result<AdcSource> {
        let program = credkit_gcloud::DEFAULT_PROGRAM;
        let found = self.var("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(program))
                .find(|candidate| candidate.is_file())
        });
        let Some(found) = found else {
            return Err(error::adc_gcloud_not_found(err, program));
        };
        // Run the very program found, so discovery and use agree whatever PATH the process has.
        let mut builder = credkit_gcloud::GcloudSource::builder().with_program(found);
        if let Some(project) = self.var(QUOTA_PROJECT_ENV) {
            builder = builder.with_quota_project(project);
        }
        Ok(AdcSource::Gcloud(builder.build()?))
    }

    /// The source [`discover`](Self::discover) finds, ready to fetch through `transport`: a
    /// [`TokenSource`] to put in a [`ChainSource`](credkit_core::ChainSource) (with
    /// [`with_result`](credkit_core::ChainSource::with_result), so that "nothing found" passes
    /// the turn and its reason shows in the chain's error).
    ///
    /// # Errors
    ///
    /// As [`discover`](Self::discover).
    ///
    /// ```
    /// use credkit_refresh_token::Adc;
    /// use credkit_testing::MockTransport;
    ///
    /// let err = Adc::with_env(|_| None).source(MockTransport::new()).unwrap_err();
    /// assert!(err.is_not_configured());
    /// ```
    pub fn source(&self, transport: impl Transport + 'static) -> Result<AdcSource> {
        match self.discover()? {
            AdcSource::User(user) => Ok(AdcSource::User(
                user.to_builder().with_transport(transport).build()?,
            )),
            #[cfg(feature = "gcloud")]
            gcloud @ AdcSource::Gcloud(_) => {
                // gcloud runs its own program: the transport is not needed.
                drop(transport);
                Ok(gcloud)
            }
        }
    }

    /// The user's credentials file, from the first two places of the discovery order (the
    /// gcloud CLI fallback is not here), with `GOOGLE_CLOUD_QUOTA_PROJECT` applied.
    ///
    /// # Errors
    ///
    /// - [`ErrorKind::NotConfigured`](credkit_core::ErrorKind::NotConfigured) when no file was
    ///   found: the message is the reference's "Your default credentials were not found..."
    ///   followed by every place looked at.
    /// - [`ErrorKind::Configuration`](credkit_core::ErrorKind::Configuration) when a file is
    ///   named but missing, or found but unusable.
    pub fn find_user_credentials(&self) -> Result<UserCredentials> {
        let mut looked = Vec::new();
        let (path, source) = if let Some(path) = self.var(CREDENTIALS_ENV) {
            let source =
                format!("{path} file via the GOOGLE_APPLICATION_CREDENTIALS environment variable");
            (PathBuf::from(path), source)
        } else {
            looked.push(format!("{CREDENTIALS_ENV} (not set)"));
            let Some(path) = self.well_known_file() else {
                looked.push(
                    "gcloud's configuration folder (neither CLOUDSDK_CONFIG nor a home folder is set)"
                        .to_owned(),
                );
                return Err(error::adc_not_found(&looked));
            };
            if !path.is_file() {
                looked.push(format!("{} (no such file)", path.display()));
                return Err(error::adc_not_found(&looked));
            }
            let source = path.display().to_string();
            (path, source)
        };
        let found = load(&path, source, self.var(QUOTA_PROJECT_ENV))?;
        if found.quota_project().is_none() && found.client_id() == Some(GCLOUD_CLIENT_ID) {
            tracing::warn!(
                "Your application has authenticated using end user credentials from Google Cloud SDK without a quota project. You might receive a \"quota exceeded\" or \"API not enabled\" error. See the following page for troubleshooting: https://cloud.google.com/docs/authentication/adc-troubleshooting/user-creds. "
            );
        }
        Ok(found)
    }

    /// The path of gcloud's ADC file (`application_default_credentials.json` in gcloud's
    /// configuration folder), whether or not it exists; `None` when neither `CLOUDSDK_CONFIG`
    /// nor a home folder is set.
    pub fn well_known_file(&self) -> Option<PathBuf> {
        let dir = if let Some(dir) = self.var(CLOUDSDK_CONFIG_ENV) {
            PathBuf::from(dir)
        } else if cfg!(windows) {
            let appdata = self.var("APPDATA").map(PathBuf::from);
            appdata
                .unwrap_or_else(|| {
                    let drive = self.var("SystemDrive").unwrap_or_else(|| "C:".to_owned());
                    PathBuf::from(format!("{drive}\\"))
                })
                .join("gcloud")
        } else {
            PathBuf::from(self.var("HOME")?)
                .join(".config")
                .join("gcloud")
        };
        Some(dir.join(ADC_FILE_NAME))
    }
}

impl fmt::Debug for Adc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Adc").finish_non_exhaustive()
    }
}

/// The credentials in the file at `path`, recording `source` and, when set, `quota_project`.
fn load(path: &Path, source: String, quota_project: Option<String>) -> Result<UserCredentials> {
    let unusable = |err| error::adc_file_unusable(path, err);
    let mut builder = UserCredentials::from_authorized_user_file(path, None)
        .map_err(unusable)?
        .to_builder()
        .with_credential_source(source);
    if let Some(project) = quota_project {
        builder = builder.with_quota_project(project);
    }
    builder.build().map_err(unusable)
}
