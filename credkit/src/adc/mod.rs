//! Application Default Credentials: the credentials of the environment the program runs in,
//! found without configuration, over a registry of credential types.
//!
//! # Discovery order
//!
//! As the reference's `google.auth.default()`; the first place that has credentials wins, and
//! a place that has them but broken (a file that is not JSON, a type nobody registered, a
//! missing field) is an error, never a reason to look further:
//!
//! 0. with the `access-token` feature (off by default; the reference has no such step), a
//!    token handed in as gcloud takes one, ahead of everything else as in gcloud:
//!    `CLOUDSDK_AUTH_ACCESS_TOKEN` (the token itself; a value that is not a usable token is an
//!    error), then the file named by gcloud's `auth/access_token_file` property
//!    (`CLOUDSDK_AUTH_ACCESS_TOKEN_FILE`, else the active configuration's
//!    `[auth] access_token_file`; it must exist), read on every fetch by
//!    `credkit_access_token::TokenFileSource` (a bare token, re-read every 60 s, or a JSON
//!    document with its expiry). Credential types `access_token` and `access_token_file`;
//!    they take no scopes, and issue no ID tokens. Whoever sets them hands the program its
//!    identity for this run on purpose, so they win, and a tool that runs gcloud too then
//!    acts as gcloud's identity;
//! 1. the file named by `GOOGLE_APPLICATION_CREDENTIALS`, if set and not empty (it must
//!    exist), of any registered `type`;
//! 2. `application_default_credentials.json` in gcloud's configuration folder
//!    (`$CLOUDSDK_CONFIG`, else `~/.config/gcloud`), of any registered `type`;
//! 3. the fallbacks, in order: the gcloud CLI (feature `gcloud`, opt-in: gcloud on `PATH`
//!    with an account logged in, read from gcloud's files), then the metadata server behind
//!    its probe.
//!
//! When nothing is found the error is [not configured](credkit_core::Error::is_not_configured),
//! with the reference's "Your default credentials were not found. ..." and a "Looked at:" list
//! of every place and why it had nothing. `GOOGLE_CLOUD_QUOTA_PROJECT` (or
//! [`Adc::with_quota_project`]) overrides the credential's quota project.
//!
//! # The registry
//!
//! A credentials file's `type` picks its [`Loader`]: `fn(&serde_json::Value, &LoadContext) ->
//! Result<Box<dyn AdcCredential>>`. The built-in types are registered in one table (with the
//! `refresh-token` feature: `authorized_user`); [`Adc::with_credential_type`] adds your own or
//! replaces a built-in one. A type nobody registered gets the reference's "The file ... does
//! not have a valid type. Type is ..., expected one of (...)." Each [`AdcCredential`] gives
//! its token source, and when it has them an ID-token source, the account's e-mail, the
//! project ID and a [`Signer`].
//!
//! # Project ID
//!
//! [`Adc::project_id`]: `GOOGLE_CLOUD_PROJECT` (else the legacy `GCLOUD_PROJECT`), the
//! credentials file's own project (a service account key's `project_id`), gcloud's
//! `[core] project` read from its files (`CLOUDSDK_CORE_PROJECT`, the active configuration of
//! `active_config`, `configurations/config_<name>`; gcloud is never run), then each fallback's
//! (the metadata server's).

mod env;
mod error;
mod fallback;
pub(crate) mod gcloud_config;
mod lazy;
mod registry;

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use credkit_core::credentials_file;
use credkit_core::{
    Clock, Credentials, CredentialsBuilder, Result, Signer, TokenSource, Transport,
};

#[cfg(feature = "metadata")]
#[cfg_attr(docsrs, doc(cfg(feature = "metadata")))]
pub use crate::metadata_adc::Metadata;
#[cfg(feature = "service-account")]
#[cfg_attr(docsrs, doc(cfg(feature = "service-account")))]
pub use crate::service_account_adc::ServiceAccount;
#[cfg(feature = "refresh-token")]
#[cfg_attr(docsrs, doc(cfg(feature = "refresh-token")))]
pub use crate::user::AuthorizedUser;
pub use env::{
    ADC_FILE_NAME, CLOUDSDK_CONFIG_ENV, CREDENTIALS_ENV, Env, LEGACY_PROJECT_ENV, PROJECT_ENV,
    QUOTA_PROJECT_ENV,
};
pub use fallback::AdcFallback;
pub use lazy::AdcSource;
pub use registry::{AdcCredential, LoadContext, Loader};

use gcloud_config::GcloudConfig;
use registry::Registry;

/// Application Default Credentials discovery, and everything it can be told: the environment
/// to read, the transport and clock to build with, scopes, quota project, the metadata probe's
/// timeout, and credential types and fallbacks of your own.
///
/// ```no_run
/// # async fn f() -> credkit::core::Result<()> {
/// use credkit::Adc;
///
/// let credentials = Adc::new()
///     .with_scopes(["https://www.googleapis.com/auth/cloud-platform"])
///     .with_quota_project("my-billing-project")
///     .credentials()
///     .await?;
/// let headers = credentials.headers().await?;
/// # let _ = headers;
/// # Ok(()) }
/// # let _ = f;
/// ```
///
/// With a test's environment, nothing of the process's is read:
///
/// ```
/// # futures::executor::block_on(async {
/// use credkit::Adc;
///
/// let adc = Adc::new().with_env(|name| match name {
///     "CLOUDSDK_CONFIG" => Some("/nonexistent/gcloud".to_owned()),
///     // Off Google Cloud: the metadata server is not probed.
///     "NO_GCE_CHECK" => Some("True".to_owned()),
///     _ => None,
/// });
/// let err = adc.discover().await.unwrap_err();
/// assert!(err.is_not_configured());
/// assert!(err.to_string().starts_with("Your default credentials were not found."));
/// assert!(err.to_string().contains("/nonexistent/gcloud/application_default_credentials.json (no such file)"));
/// # });
/// ```
#[derive(Clone)]
#[must_use]
pub struct Adc {
    env: Env,
    transport: Option<Arc<dyn Transport>>,
    /// The default transport, built once on first use and shared by every discovery.
    default_transport: Arc<OnceLock<Arc<dyn Transport>>>,
    clock: Option<Arc<dyn Clock>>,
    scopes: Option<Vec<String>>,
    default_scopes: Option<Vec<String>>,
    quota_project: Option<String>,
    probe_timeout: Option<Duration>,
    registry: Registry,
    fallbacks: Vec<Arc<dyn AdcFallback>>,
}

impl Default for Adc {
    fn default() -> Self {
        Self::new()
    }
}

impl Adc {
    /// Discovery over the process environment, with the built-in credential types and
    /// fallbacks.
    pub fn new() -> Self {
        Self {
            env: Env::process(),
            transport: None,
            default_transport: Arc::default(),
            clock: None,
            scopes: None,
            default_scopes: None,
            quota_project: None,
            probe_timeout: None,
            registry: Registry::builtin(),
            fallbacks: fallback::builtin(),
        }
    }

    /// Reads each environment variable through `lookup` instead of the process environment
    /// (`credkit_testing::AdcEnv` makes an isolated one for tests).
    pub fn with_env(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env = Env::with_lookup(lookup);
        self
    }

    /// The transport token requests go through. Default: with the `reqwest` feature, a
    /// `ReqwestTransport` built on first use; without it, one must be given.
    pub fn with_transport(mut self, transport: impl Transport + 'static) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// The clock the credentials read (a `FakeClock` in tests). Default: each provider's
    /// (the system clock).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// The scopes to request, for the types that take scopes (user credentials: instead of
    /// the file's).
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The scopes a client library asks for when its caller gave none.
    pub fn with_default_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.default_scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The quota project, over `GOOGLE_CLOUD_QUOTA_PROJECT` and the file's.
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        self.quota_project = Some(project.into());
        self
    }

    /// How long the metadata server's probe may take. Default: `GCE_METADATA_TIMEOUT` (in
    /// seconds), else 3 s, as the reference's `_METADATA_DEFAULT_TIMEOUT`.
    pub fn with_probe_timeout(mut self, timeout: Duration) -> Self {
        self.probe_timeout = Some(timeout);
        self
    }

    /// Registers a credential type: files whose `type` is `name` are loaded by `loader`. A
    /// type registered again (a built-in one included) is replaced.
    pub fn with_credential_type(mut self, name: impl Into<String>, loader: Loader) -> Self {
        self.registry.register(name.into(), loader);
        self
    }

    /// Adds a place to look after the built-in fallbacks.
    pub fn with_fallback(mut self, fallback: impl AdcFallback + 'static) -> Self {
        self.fallbacks.push(Arc::new(fallback));
        self
    }

    /// The registered credential types, in registration order.
    pub fn credential_types(&self) -> Vec<&str> {
        self.registry.names()
    }

    /// The environment this discovery reads.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The path of gcloud's ADC file, whether or not it exists.
    pub fn well_known_file(&self) -> Option<std::path::PathBuf> {
        self.env.well_known_file()
    }

    /// The first credential found (see the [module docs](self) for the order).
    ///
    /// # Errors
    ///
    /// Not configured when nothing was found (every place looked at is in the message); a
    /// configuration error for a file that is named but missing, unreadable, not JSON, of an
    /// unregistered type or refused by its loader; a fallback's own failure.
    pub async fn discover(&self) -> Result<Discovered> {
        let mut looked = Vec::new();
        #[cfg(feature = "access-token")]
        {
            let context = self.context(None, String::new());
            match crate::access_token_adc::find(&context).await? {
                Some((credential, origin)) => {
                    return Ok(Discovered {
                        credential: Arc::from(credential),
                        context: LoadContext {
                            origin: origin.clone(),
                            ..context
                        },
                        origin,
                    });
                }
                None => looked.push(format!("{} (not set)", crate::access_token_adc::PLACES)),
            }
        }
        if let Some(found) = self.find_file(&mut looked)? {
            return Ok(found);
        }
        let context = self.context(None, String::new());
        for fallback in &self.fallbacks {
            match fallback.credential(&context).await {
                Ok(credential) => {
                    return Ok(Discovered {
                        credential: Arc::from(credential),
                        origin: fallback.place().to_owned(),
                        context,
                    });
                }
                Err(err) if err.is_not_configured() => {
                    looked.push(format!("{} ({})", fallback.place(), err.message()));
                }
                Err(err) => return Err(err),
            }
        }
        Err(error::not_found(&looked))
    }

    /// The caching [`Credentials`] over the first credential found, with a tokio spawner for
    /// background refresh ahead when called inside a tokio runtime (feature `reqwest`).
    ///
    /// # Errors
    ///
    /// As [`discover`](Self::discover), and a quota project that cannot go into a header.
    pub async fn credentials(&self) -> Result<Credentials> {
        Ok(self.discover().await?.credentials_builder().build()?)
    }

    /// The caching [`Credentials`] of ID tokens for `audience` (a Cloud Run URL, an IAP client
    /// ID) from the first credential found, as [`credentials`](Self::credentials) for access
    /// tokens: a service account signs its own, the metadata server issues them
    /// (`identity?audience=`), impersonated credentials ask IAM's `generateIdToken`, the gcloud
    /// CLI runs `print-identity-token`, and a user's refresh token yields the ID token of each
    /// refresh (issued to the OAuth client, whatever `audience` says, as in the reference).
    /// Each is cached until shortly before its `exp`, with one fetch for concurrent callers.
    ///
    /// ```no_run
    /// # async fn f() -> credkit::Result<()> {
    /// let ids = credkit::Adc::new()
    ///     .id_token_credentials("https://my-service-abc123-uc.a.run.app")
    ///     .await?;
    /// let headers = ids.headers().await?; // Authorization: Bearer <the ID token>
    /// # let _ = headers;
    /// # Ok(()) }
    /// # let _ = f;
    /// ```
    ///
    /// # Errors
    ///
    /// As [`discover`](Self::discover); a configuration error when the credential found issues
    /// no ID tokens (the message names its type).
    pub async fn id_token_credentials(&self, audience: &str) -> Result<Credentials> {
        self.discover().await?.id_token_credentials(audience)
    }

    /// A source that discovers on its first fetch and again on each fetch while nothing is
    /// found, then keeps what it found: see [`AdcSource`].
    pub fn source(&self) -> AdcSource {
        AdcSource::new(self.clone())
    }

    /// The project ID (see the [module docs](self) for the order).
    ///
    /// # Errors
    ///
    /// Not configured when no place knows one (the message lists them); a broken credentials
    /// file; a fallback's failure.
    pub async fn project_id(&self) -> Result<String> {
        let mut looked = Vec::new();
        if let Some(project) = self
            .env
            .var(PROJECT_ENV)
            .or_else(|| self.env.var(LEGACY_PROJECT_ENV))
        {
            return Ok(project);
        }
        looked.push(format!("{PROJECT_ENV} and {LEGACY_PROJECT_ENV} (not set)"));
        let mut files = Vec::new();
        match self.find_file(&mut files)? {
            Some(found) => {
                if let Some(project) = found.credential.project_id().await? {
                    return Ok(project);
                }
                looked.push(format!(
                    "the credentials file {} (no project)",
                    found.origin
                ));
            }
            None => looked.push("the credentials file (none found)".to_owned()),
        }
        let config = GcloudConfig::new(&self.env);
        if let Some(project) = config.property("core", "project") {
            return Ok(project);
        }
        looked.push(config.properties_file().map_or_else(
            || "gcloud's configuration (no configuration folder)".to_owned(),
            |file| {
                format!(
                    "gcloud's configuration {} (no [core] project)",
                    file.display()
                )
            },
        ));
        let context = self.context(None, String::new());
        for fallback in &self.fallbacks {
            match fallback.project_id(&context).await {
                Ok(Some(project)) => return Ok(project),
                Ok(None) => looked.push(format!("{} (no project)", fallback.place())),
                Err(err) if err.is_not_configured() => {
                    looked.push(format!("{} ({})", fallback.place(), err.message()));
                }
                Err(err) => return Err(err),
            }
        }
        Err(error::no_project_id(&looked))
    }

    /// The credentials file of steps 1 and 2, loaded; `None` (with the places in `looked`)
    /// when there is none.
    fn find_file(&self, looked: &mut Vec<String>) -> Result<Option<Discovered>> {
        if let Some(path) = self.env.var(CREDENTIALS_ENV) {
            let origin =
                format!("{path} file via the GOOGLE_APPLICATION_CREDENTIALS environment variable");
            return self.load_file(Path::new(&path), &path, origin).map(Some);
        }
        looked.push(format!("{CREDENTIALS_ENV} (not set)"));
        let Some(path) = self.env.well_known_file() else {
            looked.push(
                "gcloud's configuration folder (neither CLOUDSDK_CONFIG nor a home folder is set)"
                    .to_owned(),
            );
            return Ok(None);
        };
        if !path.is_file() {
            looked.push(format!("{} (no such file)", path.display()));
            return Ok(None);
        }
        let shown = path.display().to_string();
        self.load_file(&path, &shown, shown.clone()).map(Some)
    }

    /// The file at `path` through the loader of its `type`.
    fn load_file(&self, path: &Path, shown: &str, origin: String) -> Result<Discovered> {
        let json = credentials_file::read_json(path)?;
        let found_type = json.get("type").and_then(serde_json::Value::as_str);
        let Some(loader) = found_type.and_then(|t| self.registry.get(t)) else {
            return Err(error::unknown_type(
                shown,
                found_type,
                &self.registry.names(),
            ));
        };
        let credential_type = found_type.unwrap_or_default().to_owned();
        let context = self.context(Some(path), origin.clone());
        let credential = loader(&json, &context)
            .map_err(|err| error::load_failed(shown, &credential_type, err))?;
        Ok(Discovered {
            credential: Arc::from(credential),
            origin,
            context,
        })
    }

    /// What loaders and fallbacks are given.
    fn context(&self, path: Option<&Path>, origin: String) -> LoadContext {
        LoadContext {
            env: self.env.clone(),
            transport: self.transport.clone(),
            default_transport: Arc::clone(&self.default_transport),
            clock: self.clock.clone(),
            scopes: self.scopes.clone(),
            default_scopes: self.default_scopes.clone(),
            quota_project: self
                .quota_project
                .clone()
                .or_else(|| self.env.var(QUOTA_PROJECT_ENV)),
            probe_timeout: self.probe_timeout,
            path: path.map(Path::to_path_buf),
            origin,
        }
    }
}

/// The default transport: with the `reqwest` feature, a `ReqwestTransport`.
#[cfg(feature = "reqwest")]
fn default_transport(env: &Env) -> Result<Arc<dyn Transport>> {
    let mut builder = credkit_reqwest::ReqwestTransport::builder();
    // Plain http to the metadata server: the transport allows exactly its well-known hosts,
    // and the one `GCE_METADATA_HOST` names, nothing wider.
    if let Some(host) = env.var("GCE_METADATA_HOST") {
        builder = builder.allow_plain_http_host(host);
    }
    // AWS's instance metadata service over IPv6, which an `external_account` file's AWS source
    // may name (its IPv4 address is the metadata server's, already allowed).
    #[cfg(feature = "external-account")]
    {
        builder = builder.allow_plain_http_host("[fd00:ec2::254]");
    }
    Ok(Arc::new(builder.build()?))
}

/// The default transport: none without the `reqwest` feature.
#[cfg(not(feature = "reqwest"))]
fn default_transport(env: &Env) -> Result<Arc<dyn Transport>> {
    let _ = env;
    Err(error::no_transport())
}

impl fmt::Debug for Adc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Adc")
            .field("credential_types", &self.registry)
            .field("fallbacks", &self.fallbacks)
            .finish_non_exhaustive()
    }
}

/// A credential ADC found, and where.
#[derive(Clone, Debug)]
pub struct Discovered {
    credential: Arc<dyn AdcCredential>,
    origin: String,
    context: LoadContext,
}

impl Discovered {
    /// The credential.
    pub fn credential(&self) -> &dyn AdcCredential {
        &*self.credential
    }

    /// Its type: the file's `type`, or the fallback's name (`gcloud`).
    pub fn credential_type(&self) -> &str {
        self.credential.credential_type()
    }

    /// Where it was found: a file (`<path> file via the GOOGLE_APPLICATION_CREDENTIALS
    /// environment variable`, or the well-known file's path) or a fallback's place.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The source of access tokens.
    pub fn token_source(&self) -> Arc<dyn TokenSource> {
        self.credential.token_source()
    }

    /// A source of ID tokens for `audience`.
    ///
    /// # Errors
    ///
    /// A configuration error when this type issues no ID tokens.
    pub fn id_token_source(&self, audience: &str) -> Result<Arc<dyn TokenSource>> {
        self.credential.id_token_source(audience)
    }

    /// The account's e-mail address, when known.
    ///
    /// # Errors
    ///
    /// As [`AdcCredential::email`].
    pub async fn email(&self) -> Result<Option<String>> {
        self.credential.email().await
    }

    /// The credential's own project, when known (see [`Adc::project_id`] for the whole
    /// order).
    ///
    /// # Errors
    ///
    /// As [`AdcCredential::project_id`].
    pub async fn project_id(&self) -> Result<Option<String>> {
        self.credential.project_id().await
    }

    /// A signer for the account, when the credential can sign.
    pub fn signer(&self) -> Option<Arc<dyn Signer>> {
        self.credential.signer()
    }

    /// A [`CredentialsBuilder`] over the token source, with the discovery's clock and, inside
    /// a tokio runtime with the `reqwest` feature, a tokio spawner for background refresh
    /// ahead: add a storage or an observer, then `build()`.
    pub fn credentials_builder(&self) -> CredentialsBuilder {
        builder_for(self.token_source(), &self.context)
    }

    /// The caching [`Credentials`] over the ID-token source for `audience`, as
    /// [`credentials_builder`](Self::credentials_builder) for access tokens.
    ///
    /// # Errors
    ///
    /// As [`id_token_source`](Self::id_token_source).
    pub fn id_token_credentials(&self, audience: &str) -> Result<Credentials> {
        Ok(builder_for(self.id_token_source(audience)?, &self.context).build()?)
    }
}

/// `Credentials::builder(source)` with the context's clock and the spawner of the runtime.
fn builder_for(source: Arc<dyn TokenSource>, context: &LoadContext) -> CredentialsBuilder {
    let mut builder = Credentials::builder(source);
    if let Some(clock) = context.clock() {
        builder = builder.with_clock(Arc::clone(clock));
    }
    #[cfg(feature = "reqwest")]
    if let Some(spawner) = credkit_tokio::TokioSpawner::try_current() {
        builder = builder.with_spawner(spawner);
    }
    builder
}
