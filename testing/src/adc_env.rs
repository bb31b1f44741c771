//! `AdcEnv`: an isolated environment for Application Default Credentials tests.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use tempfile::TempDir;

/// The variables that make the metadata server's address: all pointed at loopback.
const METADATA_VARS: [&str; 3] = ["GCE_METADATA_HOST", "GCE_METADATA_IP", "GCE_METADATA_ROOT"];

/// An isolated environment for ADC tests: an explicit map of variables (nothing of the
/// process environment leaks in), a temporary `HOME` whose gcloud folder is `CLOUDSDK_CONFIG`,
/// an empty `bin` folder as the whole `PATH` (so no gcloud, unless
/// [`with_gcloud_dir`](Self::with_gcloud_dir) puts the test kit's fake first), and the metadata
/// server's address (`GCE_METADATA_HOST`, `GCE_METADATA_IP`, `GCE_METADATA_ROOT`) on a
/// loopback port nothing listens on with its probe off (`NO_GCE_CHECK=True`), unless
/// [`with_metadata_host`](Self::with_metadata_host) names a fake (and turns the probe on).
///
/// Use it as a lookup ([`lookup`](Self::lookup), for `credkit::Adc::with_env`) or as the whole
/// environment of a child process ([`command`](Self::command), or
/// `Command::env_clear().envs(env.vars())`). The folder is removed when the value is dropped.
///
/// ```
/// use credkit_testing::AdcEnv;
///
/// let env = AdcEnv::new().with_var("GOOGLE_CLOUD_PROJECT", "my-project");
/// let lookup = env.lookup();
/// assert_eq!(lookup("GOOGLE_CLOUD_PROJECT").as_deref(), Some("my-project"));
/// assert_eq!(lookup("GOOGLE_APPLICATION_CREDENTIALS"), None);
/// assert!(lookup("GCE_METADATA_HOST").unwrap().starts_with("127.0.0.1:"));
/// assert_eq!(lookup("NO_GCE_CHECK").as_deref(), Some("True"));
/// assert!(env.gcloud_config_dir().starts_with(env.home()));
/// ```
#[derive(Debug)]
pub struct AdcEnv {
    dir: TempDir,
    vars: BTreeMap<String, String>,
}

impl AdcEnv {
    /// A new isolated environment (see the type's docs).
    ///
    /// # Panics
    ///
    /// When the temporary folder cannot be made: a broken test machine.
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder for AdcEnv");
        let home = dir.path().join("home");
        let config = home.join(".config").join("gcloud");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&config).expect("AdcEnv's gcloud folder");
        std::fs::create_dir_all(&bin).expect("AdcEnv's bin folder");
        Self {
            dir,
            vars: BTreeMap::new(),
        }
        .with_var("HOME", home.display().to_string())
        .with_var("CLOUDSDK_CONFIG", config.display().to_string())
        .with_var("PATH", bin.display().to_string())
        .with_metadata_host(format!("127.0.0.1:{}", closed_port()))
        .without_metadata_check()
    }

    /// Sets `name` to `value`.
    #[must_use]
    pub fn with_var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Unsets `name`.
    #[must_use]
    pub fn without_var(mut self, name: &str) -> Self {
        self.vars.remove(name);
        self
    }

    /// Points the metadata server's address variables at `host` (`127.0.0.1:PORT` of a fake)
    /// and turns its probe on (removes `NO_GCE_CHECK`).
    #[must_use]
    pub fn with_metadata_host(mut self, host: impl Into<String>) -> Self {
        self.vars.remove("NO_GCE_CHECK");
        let host = host.into();
        for name in METADATA_VARS {
            self = self.with_var(name, host.clone());
        }
        self
    }

    /// Sets `NO_GCE_CHECK=True` as well: the metadata server is not even probed.
    #[must_use]
    pub fn without_metadata_check(self) -> Self {
        self.with_var("NO_GCE_CHECK", "True")
    }

    /// Makes `PATH` the folder `dir` (the test kit's `FakeGcloud::dir`), then a folder of
    /// links to the few utilities the fake's script runs (`sed`, `sleep`, `cat`): never a
    /// system folder, so a gcloud installed on the machine is not on it
    /// ([`has_real_gcloud`](Self::has_real_gcloud) says so).
    ///
    /// # Panics
    ///
    /// When the folder of links cannot be made.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn with_gcloud_dir(self, dir: &Path) -> Self {
        let tools = self.dir.path().join("tools");
        std::fs::create_dir_all(&tools).expect("AdcEnv's tools folder");
        #[cfg(unix)]
        for tool in ["sed", "sleep", "cat"] {
            let found = ["/usr/bin", "/bin"]
                .iter()
                .map(|system| Path::new(system).join(tool))
                .find(|candidate| candidate.exists());
            if let Some(found) = found {
                let link = tools.join(tool);
                if !link.exists() {
                    std::os::unix::fs::symlink(found, link).expect("AdcEnv links a utility");
                }
            }
        }
        let path = std::env::join_paths([dir, tools.as_path()]).map_or_else(
            |_| dir.display().to_string(),
            |p| p.to_string_lossy().into_owned(),
        );
        self.with_var("PATH", path)
    }

    /// Whether a directory of `PATH` other than `fake` holds a `gcloud`: a test using
    /// [`with_gcloud_dir`](Self::with_gcloud_dir) asserts this is false.
    pub fn has_real_gcloud(&self, fake: &Path) -> bool {
        self.vars.get("PATH").is_some_and(|path| {
            std::env::split_paths(path)
                .filter(|dir| dir != fake)
                .any(|dir| dir.join("gcloud").exists())
        })
    }

    /// Writes `json` to `credentials.json` in the environment's folder and names it in
    /// `GOOGLE_APPLICATION_CREDENTIALS`.
    ///
    /// # Panics
    ///
    /// When the file cannot be written.
    #[must_use]
    pub fn with_credentials_file(self, json: &str) -> Self {
        let path = self.write("credentials.json", json);
        self.with_var("GOOGLE_APPLICATION_CREDENTIALS", path.display().to_string())
    }

    /// Writes `json` as gcloud's `application_default_credentials.json`.
    ///
    /// # Panics
    ///
    /// When the file cannot be written.
    #[must_use]
    pub fn with_well_known_file(self, json: &str) -> Self {
        self.write_well_known_file(json);
        self
    }

    /// Writes `json` as gcloud's `application_default_credentials.json` (after the fact:
    /// `gcloud auth application-default login` run while a test's program runs); returns its
    /// path.
    ///
    /// # Panics
    ///
    /// When the file cannot be written.
    #[allow(clippy::expect_used)]
    pub fn write_well_known_file(&self, json: &str) -> PathBuf {
        let path = self
            .gcloud_config_dir()
            .join("application_default_credentials.json");
        std::fs::write(&path, json).expect("AdcEnv writes the well-known file");
        path
    }

    /// Writes gcloud's active configuration `default` with these `[core]` properties
    /// (`account`, `project`).
    ///
    /// # Panics
    ///
    /// When the file cannot be written.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn with_gcloud_properties(self, core: &[(&str, &str)]) -> Self {
        let dir = self.gcloud_config_dir().join("configurations");
        std::fs::create_dir_all(&dir).expect("AdcEnv's gcloud configurations folder");
        let lines: Vec<String> = core
            .iter()
            .map(|(name, value)| format!("{name} = {value}"))
            .collect();
        let text = format!("[core]\n{}\n", lines.join("\n"));
        std::fs::write(dir.join("config_default"), text)
            .expect("AdcEnv writes gcloud's properties");
        self
    }

    /// Writes `text` to the file `name` in the environment's folder; returns its path.
    ///
    /// # Panics
    ///
    /// When the file cannot be written.
    #[allow(clippy::expect_used)]
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("AdcEnv writes a file");
        path
    }

    /// The environment's folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The temporary `HOME`.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// gcloud's configuration folder (`CLOUDSDK_CONFIG`, inside the home).
    pub fn gcloud_config_dir(&self) -> PathBuf {
        self.home().join(".config").join("gcloud")
    }

    /// The variable `name`, if set.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The variables, as `(name, value)` pairs for `Command::envs`.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A lookup over a snapshot of the variables, for `credkit::Adc::with_env`.
    pub fn lookup(&self) -> impl Fn(&str) -> Option<String> + Send + Sync + Clone + 'static {
        let vars = Arc::new(self.vars.clone());
        move |name| vars.get(name).cloned()
    }

    /// `program` with exactly these variables (`env_clear` first), run in the environment's
    /// folder.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .envs(self.vars())
            .current_dir(self.dir.path());
        command
    }
}

impl Default for AdcEnv {
    fn default() -> Self {
        Self::new()
    }
}

/// A loopback port nothing listens on: one the OS just gave and took back.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_or(9, |addr| addr.port())
}
