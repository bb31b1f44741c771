//! `ServiceAccountCredentialsBuilder`, and the reference's `with_*` copies.

use std::fmt;
use std::sync::Arc;

use credkit_core::{BuildError, Clock, SystemClock, Transport};
use serde_json::{Map, Value};

use crate::credentials::{Config, ServiceAccountCredentials};
use crate::error;
use crate::key::{DEFAULT_UNIVERSE_DOMAIN, ServiceAccountKey};

/// Builds [`ServiceAccountCredentials`].
///
/// # Examples
///
/// ```
/// use credkit_service_account::{ServiceAccountCredentials, ServiceAccountKey};
/// use credkit_testing::TestKey;
///
/// let test_key = TestKey::generate()?;
/// let info = test_key.service_account_json("robot@p.iam.gserviceaccount.com", "https://oauth2.googleapis.com/token");
/// let creds = ServiceAccountCredentials::builder(ServiceAccountKey::from_json_str(&info)?)
///     .with_subject("user@example.com")
///     .with_scopes(["https://www.googleapis.com/auth/admin.directory.user"])
///     .build()?;
/// assert_eq!(creds.subject(), Some("user@example.com"));
/// assert!(!creds.uses_self_signed_jwt()); // delegation always uses the grant
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub struct ServiceAccountCredentialsBuilder {
    config: Config,
}

impl ServiceAccountCredentialsBuilder {
    pub(crate) fn new(key: ServiceAccountKey) -> Self {
        Self {
            config: Config::from_key(key, Arc::new(SystemClock)),
        }
    }

    /// The scopes to request, and the default scopes a client library names (used for
    /// self-signed JWTs only when there are no scopes; never sent in the grant, as in the
    /// reference). Default: none of either.
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The default scopes a client library names (the reference's `default_scopes`). Default:
    /// none.
    pub fn with_default_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.default_scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The user to act as (domain-wide delegation): the `sub` of the assertion. Delegation
    /// always uses the grant, never a self-signed JWT. An empty string means none.
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        let subject = subject.into();
        self.config.subject = (!subject.is_empty()).then_some(subject);
        self
    }

    /// The project billed for API calls, carried by every token. An empty string means none.
    pub fn with_quota_project(mut self, quota_project: impl Into<String>) -> Self {
        let quota_project = quota_project.into();
        self.config.quota_project = (!quota_project.is_empty()).then_some(quota_project);
        self
    }

    /// The token endpoint grants are sent to. Default: the key's `token_uri`. (The assertion's
    /// `aud` stays Google's token endpoint, as in the reference.)
    pub fn with_token_uri(mut self, token_uri: impl Into<String>) -> Self {
        self.config.token_uri = token_uri.into();
        self
    }

    /// The universe the account lives in; any other than `googleapis.com` turns
    /// [`with_always_use_jwt_access`](Self::with_always_use_jwt_access) on, as in the
    /// reference. An empty string means `googleapis.com`. Default: the key's.
    pub fn with_universe_domain(mut self, universe_domain: impl Into<String>) -> Self {
        let universe_domain = universe_domain.into();
        self.config.universe_domain = if universe_domain.is_empty() {
            DEFAULT_UNIVERSE_DOMAIN.to_owned()
        } else {
            universe_domain
        };
        if self.config.universe_domain != DEFAULT_UNIVERSE_DOMAIN {
            self.config.always_use_jwt_access = true;
        }
        self
    }

    /// Whether to use self-signed JWTs wherever the reference does with this setting (see
    /// [`ServiceAccountCredentials`]'s docs). Default: off in the `googleapis.com` universe, on
    /// elsewhere, where turning it off is a build error.
    pub fn with_always_use_jwt_access(mut self, always: bool) -> Self {
        self.config.always_use_jwt_access = always;
        self
    }

    /// Claims added to every assertion of the grant, replacing those of the same name (the
    /// reference's `additional_claims` / `with_claims`, merged into those set before).
    pub fn with_additional_claims(mut self, claims: Map<String, Value>) -> Self {
        self.config.additional_claims.extend(claims);
        self
    }

    /// The host of the API the credentials are for, such as `pubsub.googleapis.com`: self-signed
    /// JWTs made without scopes have `aud` = `https://{host}/` (what the reference's
    /// transports pass to `_create_self_signed_jwt` as their `default_host`). Default: none.
    pub fn with_default_host(mut self, host: impl Into<String>) -> Self {
        let host = host.into();
        self.config.default_host = (!host.is_empty()).then_some(host);
        self
    }

    /// The transport grants are sent through (`credkit_reqwest::ReqwestTransport`, say).
    /// Default: none; a grant without one fails with a configuration error (self-signed JWTs
    /// need none).
    pub fn with_transport(mut self, transport: impl Transport + 'static) -> Self {
        self.config.transport = Some(Arc::new(transport));
        self
    }

    /// The clock `iat`, `exp` and expiries are read from. Default: [`SystemClock`].
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.config.clock = Arc::new(clock);
        self
    }

    /// Builds the credentials. Nothing is sent until the first fetch.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] ([`is_invalid_value`](BuildError::is_invalid_value)) for
    /// `always_use_jwt_access` turned off outside the default universe ("`always_use_jwt_access`
    /// should be True for non-default universe domain", the reference's text), or an empty
    /// `token_uri` or email.
    pub fn build(self) -> Result<ServiceAccountCredentials, BuildError> {
        let config = self.config;
        if config.universe_domain != DEFAULT_UNIVERSE_DOMAIN && !config.always_use_jwt_access {
            return Err(error::jwt_access_required());
        }
        if config.token_uri.is_empty() {
            return Err(error::empty("token_uri"));
        }
        if config.email.is_empty() {
            return Err(error::empty("service account email (client_email)"));
        }
        Ok(ServiceAccountCredentials::from_config(config))
    }
}

impl fmt::Debug for ServiceAccountCredentialsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt_as("ServiceAccountCredentialsBuilder", f)
    }
}

// ===== the reference's copies, all made by the builder =====

impl ServiceAccountCredentials {
    /// A builder holding every setting of these credentials (the key shared): change what
    /// differs, then `build()` an independent copy.
    pub fn to_builder(&self) -> ServiceAccountCredentialsBuilder {
        ServiceAccountCredentialsBuilder {
            config: self.config().clone(),
        }
    }

    /// A copy with `scopes` and `default_scopes` (the reference's `with_scopes`; both replaced).
    ///
    /// # Errors
    ///
    /// As [`ServiceAccountCredentialsBuilder::build`]. The reference's copies cannot fail (but
    /// for `with_always_use_jwt_access`); here every copy is built, and so checked, by the one
    /// builder.
    pub fn with_scopes<I, S>(
        &self,
        scopes: I,
        default_scopes: Option<Vec<String>>,
    ) -> Result<Self, BuildError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut builder = self.to_builder().with_scopes(scopes);
        builder.config.default_scopes = default_scopes;
        builder.build()
    }

    /// A copy acting as `subject` (domain-wide delegation; the reference's `with_subject`).
    ///
    /// # Errors
    ///
    /// As [`with_scopes`](Self::with_scopes).
    pub fn with_subject(&self, subject: impl Into<String>) -> Result<Self, BuildError> {
        self.to_builder().with_subject(subject).build()
    }

    /// A copy with a quota project (the reference's `with_quota_project`).
    ///
    /// # Errors
    ///
    /// As [`with_scopes`](Self::with_scopes).
    pub fn with_quota_project(&self, quota_project: impl Into<String>) -> Result<Self, BuildError> {
        self.to_builder().with_quota_project(quota_project).build()
    }

    /// A copy sending grants to `token_uri` (the reference's `with_token_uri`).
    ///
    /// # Errors
    ///
    /// As [`with_scopes`](Self::with_scopes).
    pub fn with_token_uri(&self, token_uri: impl Into<String>) -> Result<Self, BuildError> {
        self.to_builder().with_token_uri(token_uri).build()
    }

    /// A copy in another universe (the reference's `with_universe_domain`).
    ///
    /// # Errors
    ///
    /// As [`with_scopes`](Self::with_scopes).
    pub fn with_universe_domain(
        &self,
        universe_domain: impl Into<String>,
    ) -> Result<Self, BuildError> {
        self.to_builder()
            .with_universe_domain(universe_domain)
            .build()
    }

    /// A copy with `always_use_jwt_access` set (the reference's `with_always_use_jwt_access`).
    ///
    /// ```
    /// # use credkit_service_account::ServiceAccountCredentials;
    /// # let key = credkit_testing::TestKey::generate()?;
    /// # let creds = ServiceAccountCredentials::from_service_account_json(&key.service_account_json("a@b.c", "https://t.example/token"))?;
    /// let elsewhere = creds.with_universe_domain("example.com")?;
    /// assert!(elsewhere.always_use_jwt_access());
    /// assert_eq!(
    ///     elsewhere.with_always_use_jwt_access(false).unwrap_err().to_string(),
    ///     "always_use_jwt_access should be True for non-default universe domain"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Off outside the default universe, as in the reference; otherwise as
    /// [`with_scopes`](Self::with_scopes).
    pub fn with_always_use_jwt_access(&self, always: bool) -> Result<Self, BuildError> {
        self.to_builder().with_always_use_jwt_access(always).build()
    }

    /// A copy whose assertions carry `claims` too, merged over the current additional claims
    /// (the reference's `with_claims`).
    ///
    /// # Errors
    ///
    /// As [`with_scopes`](Self::with_scopes).
    pub fn with_additional_claims(&self, claims: Map<String, Value>) -> Result<Self, BuildError> {
        self.to_builder().with_additional_claims(claims).build()
    }
}
