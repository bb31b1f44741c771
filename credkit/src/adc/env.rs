//! The environment ADC reads: variables through a lookup (the process's, or a test's map), and
//! the files gcloud keeps in its configuration folder.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// The environment variable naming a credentials file.
pub const CREDENTIALS_ENV: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// The environment variable overriding gcloud's configuration folder.
pub const CLOUDSDK_CONFIG_ENV: &str = "CLOUDSDK_CONFIG";
/// The environment variable overriding the quota project.
pub const QUOTA_PROJECT_ENV: &str = "GOOGLE_CLOUD_QUOTA_PROJECT";
/// The environment variable naming the project.
pub const PROJECT_ENV: &str = "GOOGLE_CLOUD_PROJECT";
/// The reference's legacy name for [`PROJECT_ENV`], read when that is unset.
pub const LEGACY_PROJECT_ENV: &str = "GCLOUD_PROJECT";
/// The file `gcloud auth application-default login` writes in gcloud's configuration folder.
pub const ADC_FILE_NAME: &str = "application_default_credentials.json";

/// A lookup of environment variables.
type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// How ADC reads an environment variable: the process environment, or a map of a test's.
#[derive(Clone)]
pub struct Env {
    lookup: Arc<Lookup>,
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Self::with_lookup(|name| std::env::var(name).ok())
    }

    /// Each variable read through `lookup`.
    pub fn with_lookup(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            lookup: Arc::new(lookup),
        }
    }

    /// The variable `name`; an empty value counts as unset.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.is_empty())
    }

    /// gcloud's configuration folder: `$CLOUDSDK_CONFIG`, else `$HOME/.config/gcloud`
    /// (`%APPDATA%\gcloud` on Windows, falling back to `%SystemDrive%\gcloud`); `None` when
    /// neither `CLOUDSDK_CONFIG` nor a home folder is set.
    pub fn gcloud_config_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = self.var(CLOUDSDK_CONFIG_ENV) {
            return Some(PathBuf::from(dir));
        }
        if cfg!(windows) {
            let root = self.var("APPDATA").map_or_else(
                || {
                    let drive = self.var("SystemDrive").unwrap_or_else(|| "C:".to_owned());
                    PathBuf::from(format!("{drive}\\"))
                },
                PathBuf::from,
            );
            return Some(root.join("gcloud"));
        }
        Some(
            PathBuf::from(self.var("HOME")?)
                .join(".config")
                .join("gcloud"),
        )
    }

    /// The path of gcloud's ADC file, whether or not it exists.
    pub fn well_known_file(&self) -> Option<PathBuf> {
        Some(self.gcloud_config_dir()?.join(ADC_FILE_NAME))
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env").finish_non_exhaustive()
    }
}
