//! Application Default Credentials discovery for user credentials.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use credkit_core::{BuildError, Credentials, Error, ErrorKind, Result, Transport};

use crate::UserCredentials;

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

const NOT_FOUND: &str = "Your default credentials were not found. To set up Application Default Credentials, see https://cloud.google.com/docs/authentication/external/set-up-adc for more information.";

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

    /// The caching [`Credentials`] over this source, refreshing through `transport`.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] when the quota project cannot go into an HTTP header.
    pub fn into_credentials(
        self,
        transport: Arc<dyn Transport>,
    ) -> std::result::Result<Credentials, BuildError> {
        match self {
            Self::User(user) => user.with_transport(transport).into_credentials(),
            #[cfg(feature = "gcloud")]
            Self::Gcloud(gcloud) => gcloud.into_credentials(),
        }
    }
}

/// Application Default Credentials, ready to use: the first of the sources
/// [`discover_with_env`] tries, as caching [`Credentials`] that refresh through `transport`.
///
/// # Errors
///
/// As [`discover_with_env`], through the process environment.
///
/// # Examples
///
/// ```no_run
/// # #[allow(dead_code)]
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use credkit_refresh_token::default_credentials;
///
/// use credkit_reqwest::ReqwestTransport;
///
/// let credentials = default_credentials(Arc::new(ReqwestTransport::new()?))?;
/// let headers = credentials.headers().await?;
/// assert!(headers.contains_key("authorization"));
/// # Ok(()) }
/// ```
pub fn default_credentials(transport: Arc<dyn Transport>) -> Result<Credentials> {
    default_credentials_with_env(transport, |name| std::env::var(name).ok())
}

/// [`default_credentials`] reading the environment through `env`.
///
/// # Errors
///
/// As [`discover_with_env`].
pub fn default_credentials_with_env(
    transport: Arc<dyn Transport>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Credentials> {
    Ok(discover_with_env(env)?.into_credentials(transport)?)
}

/// Discovers Application Default Credentials through `env`: the sources of
/// [`find_user_credentials_with_env`], then, with the `gcloud` feature, the gcloud CLI if it is
/// on `PATH` (with `GOOGLE_CLOUD_QUOTA_PROJECT` as its quota project).
///
/// # Errors
///
/// As [`find_user_credentials_with_env`]; when nothing is found, the message lists every place
/// looked at, the gcloud CLI included.
pub fn discover_with_env(env: impl Fn(&str) -> Option<String>) -> Result<AdcSource> {
    let env = |name: &str| env(name).filter(|value| !value.is_empty());
    match find_user_credentials_with_env(env) {
        Ok(user) => Ok(AdcSource::User(user)),
        Err(err) => gcloud_fallback(err, env),
    }
}

#[cfg(not(feature = "gcloud"))]
fn gcloud_fallback(err: Error, _env: impl Fn(&str) -> Option<String>) -> Result<AdcSource> {
    Err(err)
}

#[cfg(feature = "gcloud")]
fn gcloud_fallback(err: Error, env: impl Fn(&str) -> Option<String>) -> Result<AdcSource> {
    if !err.message().starts_with(NOT_FOUND) {
        return Err(err);
    }
    let program = credkit_gcloud::DEFAULT_PROGRAM;
    let found = env("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    });
    let Some(found) = found else {
        return Err(Error::new(
            ErrorKind::Configuration,
            format!(
                "{}; the gcloud CLI ({program} not found on PATH).",
                err.message().trim_end_matches('.')
            ),
        ));
    };
    // Run the very program found, so discovery and use agree whatever PATH the process has.
    let source = credkit_gcloud::GcloudSource::builder()
        .with_program(found)
        .build()
        .map_err(Error::from)?;
    Ok(AdcSource::Gcloud(match env(QUOTA_PROJECT_ENV) {
        Some(project) => source.with_quota_project(project),
        None => source,
    }))
}

/// Finds the user's Application Default Credentials through the process environment; see
/// [`find_user_credentials_with_env`].
///
/// # Errors
///
/// As [`find_user_credentials_with_env`].
pub fn find_user_credentials() -> Result<UserCredentials> {
    find_user_credentials_with_env(|name| std::env::var(name).ok())
}

/// Finds the user's Application Default Credentials, reading the environment through `env` (so
/// tests never change the process environment):
///
/// 1. the file named by `GOOGLE_APPLICATION_CREDENTIALS`, if set and not empty (it must exist);
/// 2. `application_default_credentials.json` in gcloud's configuration folder:
///    `$CLOUDSDK_CONFIG`, else `$HOME/.config/gcloud` (`%APPDATA%\gcloud` on Windows, falling
///    back to `%SystemDrive%\gcloud`).
///
/// `GOOGLE_CLOUD_QUOTA_PROJECT`, when set, overrides the file's quota project. The gcloud CLI
/// fallback is not here: it is the last source of `default_credentials`.
///
/// # Errors
///
/// An [`ErrorKind::Configuration`] error: the named file is missing or unusable, or no file was
/// found, in which case the message lists every place it looked.
///
/// # Examples
///
/// ```
/// use credkit_refresh_token::find_user_credentials_with_env;
///
/// let err = find_user_credentials_with_env(|name| match name {
///     "CLOUDSDK_CONFIG" => Some("/nonexistent/gcloud".to_owned()),
///     _ => None,
/// })
/// .unwrap_err();
/// assert!(err.to_string().starts_with("Your default credentials were not found."));
/// assert!(err.to_string().contains("/nonexistent/gcloud/application_default_credentials.json"));
/// ```
pub fn find_user_credentials_with_env(
    env: impl Fn(&str) -> Option<String>,
) -> Result<UserCredentials> {
    let env = |name: &str| env(name).filter(|value| !value.is_empty());
    let mut looked = Vec::new();
    let found = if let Some(path) = env(CREDENTIALS_ENV) {
        let creds = load(Path::new(&path))?;
        creds.with_credential_source(format!(
            "{path} file via the GOOGLE_APPLICATION_CREDENTIALS environment variable"
        ))
    } else {
        looked.push(format!("{CREDENTIALS_ENV} (not set)"));
        let Some(path) = well_known_file(env) else {
            looked.push(
                "gcloud's configuration folder (neither CLOUDSDK_CONFIG nor a home folder is set)"
                    .to_owned(),
            );
            return Err(not_found(&looked));
        };
        if !path.is_file() {
            looked.push(format!("{} (no such file)", path.display()));
            return Err(not_found(&looked));
        }
        load(&path)?.with_credential_source(path.display().to_string())
    };
    let found = match env(QUOTA_PROJECT_ENV) {
        Some(project) => found.with_quota_project(project),
        None => found,
    };
    if found.quota_project_id().is_none() && found.client_id() == Some(GCLOUD_CLIENT_ID) {
        tracing::warn!(
            "Your application has authenticated using end user credentials from Google Cloud SDK without a quota project. You might receive a \"quota exceeded\" or \"API not enabled\" error. See the following page for troubleshooting: https://cloud.google.com/docs/authentication/adc-troubleshooting/user-creds. "
        );
    }
    Ok(found)
}

/// The gcloud ADC file's path, from `env`.
pub fn well_known_file(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let dir = if let Some(dir) = env(CLOUDSDK_CONFIG_ENV) {
        PathBuf::from(dir)
    } else if cfg!(windows) {
        let appdata = env("APPDATA").map(PathBuf::from);
        appdata
            .unwrap_or_else(|| {
                let drive = env("SystemDrive").unwrap_or_else(|| "C:".to_owned());
                PathBuf::from(format!("{drive}\\"))
            })
            .join("gcloud")
    } else {
        PathBuf::from(env("HOME")?).join(".config").join("gcloud")
    };
    Some(dir.join(ADC_FILE_NAME))
}

fn load(path: &Path) -> Result<UserCredentials> {
    UserCredentials::from_authorized_user_file(path, None).map_err(|err| {
        let message = if err.is_loading() {
            err.to_string()
        } else {
            format!(
                "Failed to load authorized user credentials from {}: {err}",
                path.display()
            )
        };
        Error::new(ErrorKind::Configuration, message).with_source(err)
    })
}

fn not_found(looked: &[String]) -> Error {
    Error::new(
        ErrorKind::Configuration,
        format!("{NOT_FOUND} Looked at: {}.", looked.join("; ")),
    )
}
