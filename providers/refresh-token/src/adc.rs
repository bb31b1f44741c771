//! Application Default Credentials discovery for user credentials.

use std::path::{Path, PathBuf};

use credkit_core::{Error, ErrorKind, Result};

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
