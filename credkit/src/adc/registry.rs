//! The credential types ADC knows: a `type` string of a credentials file → a [`Loader`] that
//! turns the file's JSON into an [`AdcCredential`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{Clock, Result, Signer, TokenSource, Transport};

use super::env::Env;

/// Turns the JSON of a credentials file whose `type` it was registered for into a credential.
///
/// It returns an error whose message says what is wrong with the file (a missing field, a
/// malformed key); ADC prefixes it with "Failed to load `TYPE` credentials from `FILE`: ".
/// Never put a secret of the file in the message.
///
/// ```
/// use std::sync::Arc;
/// use credkit::adc::{AdcCredential, LoadContext, Loader};
/// use credkit::core::{AccessToken, Result, StaticSource, TokenSource};
///
/// #[derive(Debug)]
/// struct Fixed(Arc<dyn TokenSource>);
///
/// impl AdcCredential for Fixed {
///     fn credential_type(&self) -> &str {
///         "fixed_token"
///     }
///     fn token_source(&self) -> Arc<dyn TokenSource> {
///         Arc::clone(&self.0)
///     }
/// }
///
/// fn load_fixed(json: &serde_json::Value, _: &LoadContext) -> Result<Box<dyn AdcCredential>> {
///     let token = json["token"].as_str().unwrap_or_default();
///     Ok(Box::new(Fixed(Arc::new(StaticSource::new(AccessToken::new(token))))))
/// }
/// let loader: Loader = load_fixed;
/// # let _ = loader;
/// ```
pub type Loader = fn(&serde_json::Value, &LoadContext) -> Result<Box<dyn AdcCredential>>;

/// A credential ADC found: what a credential type's [`Loader`] returns, and what the gcloud
/// CLI and metadata server fallbacks return.
///
/// Only [`credential_type`](Self::credential_type) and [`token_source`](Self::token_source)
/// are required; the rest answer "not known" by default.
#[async_trait]
pub trait AdcCredential: Send + Sync + fmt::Debug {
    /// The credential's type: the file's `type` (`authorized_user`, `service_account`), or
    /// the fallback's name (`gcloud`, `metadata`).
    fn credential_type(&self) -> &str;

    /// The source of access tokens, ready to wrap in
    /// [`Credentials::builder`](credkit_core::Credentials::builder).
    fn token_source(&self) -> Arc<dyn TokenSource>;

    /// A source of ID tokens for `audience`; default: an error saying this type issues none.
    ///
    /// A type that cannot choose the audience (user credentials: the ID token of the refresh
    /// response, as the reference) ignores it.
    ///
    /// # Errors
    ///
    /// A [`Configuration`](credkit_core::ErrorKind::Configuration) error when this type issues
    /// no ID tokens, or none for `audience` (a service account outside the default universe).
    fn id_token_source(&self, audience: &str) -> Result<Arc<dyn TokenSource>> {
        let _ = audience;
        Err(super::error::no_id_tokens(self.credential_type()))
    }

    /// The account's e-mail address, when known (it may ask a server); default: none.
    ///
    /// # Errors
    ///
    /// When finding it out failed (a metadata server that did not answer).
    async fn email(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// The project the credential belongs to, when known (a service account key's
    /// `project_id`; it may ask a server); default: none.
    ///
    /// # Errors
    ///
    /// When finding it out failed.
    async fn project_id(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// A signer for the account, when the credential can sign (a service account key);
    /// default: none.
    fn signer(&self) -> Option<Arc<dyn Signer>> {
        None
    }

    /// The provider's own value (a `credkit::refresh_token::UserCredentials`, a
    /// `credkit::gcloud::GcloudSource`), to reach what this trait does not expose by a
    /// downcast; default: none.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use credkit::adc::AdcCredential;
    /// use credkit::core::{AccessToken, StaticSource, TokenSource};
    ///
    /// #[derive(Debug)]
    /// struct Mine(Arc<StaticSource>);
    ///
    /// impl AdcCredential for Mine {
    ///     fn credential_type(&self) -> &str {
    ///         "mine"
    ///     }
    ///     fn token_source(&self) -> Arc<dyn TokenSource> {
    ///         self.0.clone()
    ///     }
    ///     fn as_any(&self) -> Option<&dyn std::any::Any> {
    ///         Some(&*self.0)
    ///     }
    /// }
    ///
    /// let found: Box<dyn AdcCredential> =
    ///     Box::new(Mine(Arc::new(StaticSource::new(AccessToken::new("ya29.t")))));
    /// let provider = found.as_any().and_then(|any| any.downcast_ref::<StaticSource>());
    /// assert!(provider.is_some());
    /// ```
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// What a [`Loader`] (and a fallback) gets besides the file: where the file is, how to read
/// the environment, the transport and clock to build with, and the caller's choices of scopes
/// and quota project.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LoadContext {
    pub(crate) env: Env,
    pub(crate) transport: Option<Arc<dyn Transport>>,
    /// The default transport, built on first use and shared by every context of one `Adc`.
    pub(crate) default_transport: Arc<OnceLock<Arc<dyn Transport>>>,
    pub(crate) clock: Option<Arc<dyn Clock>>,
    pub(crate) scopes: Option<Vec<String>>,
    pub(crate) default_scopes: Option<Vec<String>>,
    pub(crate) quota_project: Option<String>,
    pub(crate) probe_timeout: Option<Duration>,
    pub(crate) path: Option<PathBuf>,
    pub(crate) origin: String,
}

impl LoadContext {
    /// How to read the environment (never `std::env` directly: a test's lookup is here).
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The environment variable `name`; an empty value counts as unset.
    pub fn var(&self, name: &str) -> Option<String> {
        self.env.var(name)
    }

    /// The transport to send requests through.
    ///
    /// # Errors
    ///
    /// When none was given and the `reqwest` feature is off, or the default transport could
    /// not be built.
    pub fn transport(&self) -> Result<Arc<dyn Transport>> {
        if let Some(transport) = &self.transport {
            return Ok(Arc::clone(transport));
        }
        if let Some(transport) = self.default_transport.get() {
            return Ok(Arc::clone(transport));
        }
        let built = super::default_transport(&self.env)?;
        Ok(Arc::clone(self.default_transport.get_or_init(|| built)))
    }

    /// The clock to read, when the caller gave one (tests); otherwise the provider's default.
    pub fn clock(&self) -> Option<&Arc<dyn Clock>> {
        self.clock.as_ref()
    }

    /// The scopes the caller asked for.
    pub fn scopes(&self) -> Option<&[String]> {
        self.scopes.as_deref()
    }

    /// The scopes a client library asks for when the caller asked for none.
    pub fn default_scopes(&self) -> Option<&[String]> {
        self.default_scopes.as_deref()
    }

    /// The quota project to apply: the caller's, else `GOOGLE_CLOUD_QUOTA_PROJECT`; `None`
    /// keeps the file's.
    pub fn quota_project(&self) -> Option<&str> {
        self.quota_project.as_deref()
    }

    /// The caller's timeout for a probe (the metadata server's); `None`: the prober's default
    /// (`GCE_METADATA_TIMEOUT`, else 3 s).
    pub fn probe_timeout(&self) -> Option<Duration> {
        self.probe_timeout
    }

    /// The credentials file being loaded; `None` in a fallback.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Where the credential comes from, as the reference records it: `<path> file via the
    /// GOOGLE_APPLICATION_CREDENTIALS environment variable`, or the well-known file's path.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The loader built in for `credential_type`, for a credential that nests another (the
    /// source of an `impersonated_service_account` file).
    #[cfg_attr(not(feature = "impersonated"), allow(dead_code))]
    pub(crate) fn builtin_loader(credential_type: &str) -> Option<Loader> {
        Registry::builtin().get(credential_type)
    }
}

/// The credential types ADC knows without registration. Adding a provider is one line here
/// (and its loader function in its module).
const BUILTIN_TYPES: &[(&str, Loader)] = &[
    #[cfg(feature = "refresh-token")]
    (crate::user::AUTHORIZED_USER, crate::user::load),
    #[cfg(feature = "service-account")]
    (
        crate::service_account_adc::SERVICE_ACCOUNT,
        crate::service_account_adc::load,
    ),
    #[cfg(feature = "impersonated")]
    (
        crate::impersonated_adc::IMPERSONATED,
        crate::impersonated_adc::load,
    ),
    #[cfg(feature = "external-account")]
    (
        crate::external_account_adc::EXTERNAL,
        crate::external_account_adc::load,
    ),
    #[cfg(feature = "external-account")]
    (
        crate::external_account_adc::EXTERNAL_USER,
        crate::external_account_adc::load_authorized_user,
    ),
];

/// The registered types, in registration order; a later registration of a type replaces an
/// earlier one.
#[derive(Clone)]
pub(crate) struct Registry {
    types: Vec<(String, Loader)>,
}

impl Registry {
    pub(crate) fn builtin() -> Self {
        Self {
            types: BUILTIN_TYPES
                .iter()
                .map(|(name, loader)| ((*name).to_owned(), *loader))
                .collect(),
        }
    }

    pub(crate) fn register(&mut self, name: String, loader: Loader) {
        self.types.retain(|(known, _)| *known != name);
        self.types.push((name, loader));
    }

    pub(crate) fn get(&self, name: &str) -> Option<Loader> {
        self.types
            .iter()
            .find(|(known, _)| known == name)
            .map(|(_, loader)| *loader)
    }

    pub(crate) fn names(&self) -> Vec<&str> {
        self.types.iter().map(|(name, _)| name.as_str()).collect()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}
