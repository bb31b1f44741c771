//! `IdTokenCredentials`: OpenID Connect ID tokens for a target audience, signed by Google for a
//! service account key.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::{
    AccessToken, BuildError, Clock, Result, Signer, SystemClock, TokenSource, Transport,
};
use serde_json::{Map, Value};

use crate::credentials::ServiceAccountCredentials;
use crate::key::{DEFAULT_UNIVERSE_DOMAIN, ServiceAccountKey};
use crate::signer::ServiceAccountSigner;
use crate::{error, grant};

/// ID tokens for a service account: the reference's
/// `google.oauth2.service_account.IDTokenCredentials`.
///
/// A [`TokenSource`] whose token is an ID token (`aud` = the target audience) for services
/// that want ID tokens rather than access tokens (Cloud Run, IAP, Cloud Functions). Each fetch
/// sends the JWT-bearer grant with an assertion whose claims are `iat`, `exp` = `iat` + 3600,
/// `iss` = the email, `aud` = `https://oauth2.googleapis.com/token`, `target_audience`, then the
/// additional claims; the response's `id_token` is the token and its `exp` (read without
/// verifying the signature, as the reference does) its expiry. Every token carries the quota
/// project, if any.
///
/// Outside the `googleapis.com` universe the reference asks the IAM Credentials API's
/// `generateIdToken` instead; credkit does not support that yet, and a fetch there fails with a
/// permanent configuration error saying so (impersonated credentials will add it).
///
/// # Errors
///
/// No transport, an invalid `token_uri`, another universe (before any request); the transport's
/// errors; the token endpoint's errors; "No ID token in response."; an ID token without a
/// readable `exp`.
///
/// # Examples
///
/// ```
/// use credkit_service_account::{IdTokenCredentials, ServiceAccountKey};
/// use credkit_testing::TestKey;
///
/// let test_key = TestKey::generate()?;
/// let info = test_key.service_account_json("robot@p.iam.gserviceaccount.com", "https://oauth2.googleapis.com/token");
/// let creds = IdTokenCredentials::builder(ServiceAccountKey::from_json_str(&info)?, "https://my-service.a.run.app")
///     .build()?;
/// assert_eq!(creds.target_audience(), "https://my-service.a.run.app");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct IdTokenCredentials {
    config: Arc<IdConfig>,
}

#[derive(Clone)]
pub(crate) struct IdConfig {
    pub(crate) signer: ServiceAccountSigner,
    pub(crate) email: String,
    pub(crate) token_uri: String,
    pub(crate) target_audience: String,
    pub(crate) additional_claims: Map<String, Value>,
    pub(crate) quota_project: Option<String>,
    pub(crate) universe_domain: String,
    pub(crate) transport: Option<Arc<dyn Transport>>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// Builds [`IdTokenCredentials`].
#[must_use]
pub struct IdTokenCredentialsBuilder {
    config: IdConfig,
}

impl IdTokenCredentials {
    /// A builder for ID tokens of `key` for `target_audience`.
    pub fn builder(
        key: ServiceAccountKey,
        target_audience: impl Into<String>,
    ) -> IdTokenCredentialsBuilder {
        let parts = key.into_parts();
        IdTokenCredentialsBuilder {
            config: IdConfig {
                signer: parts.signer,
                email: parts.client_email,
                token_uri: parts.token_uri,
                target_audience: target_audience.into(),
                additional_claims: Map::new(),
                quota_project: None,
                universe_domain: parts.universe_domain,
                transport: None,
                clock: Arc::new(SystemClock),
            },
        }
    }

    /// A builder holding every setting of these credentials (the key shared).
    pub fn to_builder(&self) -> IdTokenCredentialsBuilder {
        IdTokenCredentialsBuilder {
            config: (*self.config).clone(),
        }
    }

    /// A copy for another audience (the reference's `with_target_audience`).
    ///
    /// # Errors
    ///
    /// As [`IdTokenCredentialsBuilder::build`].
    pub fn with_target_audience(&self, audience: impl Into<String>) -> Result<Self, BuildError> {
        self.to_builder().with_target_audience(audience).build()
    }

    /// A copy with a quota project (the reference's `with_quota_project`).
    ///
    /// # Errors
    ///
    /// As [`IdTokenCredentialsBuilder::build`].
    pub fn with_quota_project(&self, quota_project: impl Into<String>) -> Result<Self, BuildError> {
        self.to_builder().with_quota_project(quota_project).build()
    }

    /// A copy sending grants to `token_uri` (the reference's `with_token_uri`).
    ///
    /// # Errors
    ///
    /// As [`IdTokenCredentialsBuilder::build`].
    pub fn with_token_uri(&self, token_uri: impl Into<String>) -> Result<Self, BuildError> {
        self.to_builder().with_token_uri(token_uri).build()
    }

    /// The audience ID tokens are for.
    pub fn target_audience(&self) -> &str {
        &self.config.target_audience
    }

    /// The service account's email.
    pub fn service_account_email(&self) -> &str {
        &self.config.email
    }

    /// The email JWTs are signed as.
    pub fn signer_email(&self) -> &str {
        &self.config.email
    }

    /// The signer of the key (a cheap clone).
    pub fn signer(&self) -> ServiceAccountSigner {
        self.config.signer.clone()
    }

    /// The project billed for API calls, if any.
    pub fn quota_project(&self) -> Option<&str> {
        self.config.quota_project.as_deref()
    }

    /// The token endpoint grants are sent to.
    pub fn token_uri(&self) -> &str {
        &self.config.token_uri
    }

    /// The universe the account lives in.
    pub fn universe_domain(&self) -> &str {
        &self.config.universe_domain
    }
}

impl IdTokenCredentialsBuilder {
    /// The audience ID tokens are for.
    pub fn with_target_audience(mut self, audience: impl Into<String>) -> Self {
        self.config.target_audience = audience.into();
        self
    }

    /// The project billed for API calls, carried by every token. An empty string means none.
    pub fn with_quota_project(mut self, quota_project: impl Into<String>) -> Self {
        let quota_project = quota_project.into();
        self.config.quota_project = (!quota_project.is_empty()).then_some(quota_project);
        self
    }

    /// The token endpoint grants are sent to. Default: the key's `token_uri`.
    pub fn with_token_uri(mut self, token_uri: impl Into<String>) -> Self {
        self.config.token_uri = token_uri.into();
        self
    }

    /// The universe the account lives in (an empty string means `googleapis.com`). Default: the
    /// key's.
    pub fn with_universe_domain(mut self, universe_domain: impl Into<String>) -> Self {
        let universe_domain = universe_domain.into();
        self.config.universe_domain = if universe_domain.is_empty() {
            DEFAULT_UNIVERSE_DOMAIN.to_owned()
        } else {
            universe_domain
        };
        self
    }

    /// Claims added to every assertion, merged over those set before.
    pub fn with_additional_claims(mut self, claims: Map<String, Value>) -> Self {
        self.config.additional_claims.extend(claims);
        self
    }

    /// The transport grants are sent through. Default: none; a fetch without one fails with a
    /// configuration error.
    pub fn with_transport(mut self, transport: impl Transport + 'static) -> Self {
        self.config.transport = Some(Arc::new(transport));
        self
    }

    /// The clock `iat` and `exp` are read from. Default: [`SystemClock`].
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.config.clock = Arc::new(clock);
        self
    }

    /// Builds the credentials.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] ([`is_invalid_value`](BuildError::is_invalid_value)) for an empty target
    /// audience or `token_uri`.
    pub fn build(self) -> Result<IdTokenCredentials, BuildError> {
        if self.config.target_audience.is_empty() {
            return Err(error::empty("target audience"));
        }
        if self.config.token_uri.is_empty() {
            return Err(error::empty("token_uri"));
        }
        Ok(IdTokenCredentials {
            config: Arc::new(self.config),
        })
    }
}

impl ServiceAccountCredentials {
    /// ID tokens for `target_audience` from the same key, token endpoint, universe, quota
    /// project, transport and clock (scopes, subject and additional claims are not carried
    /// over: the reference's `IDTokenCredentials` has none of them).
    ///
    /// # Errors
    ///
    /// As [`IdTokenCredentialsBuilder::build`].
    pub fn id_token_credentials(
        &self,
        target_audience: impl Into<String>,
    ) -> Result<IdTokenCredentials, BuildError> {
        let config = self.config();
        IdTokenCredentialsBuilder {
            config: IdConfig {
                signer: config.signer.clone(),
                email: config.email.clone(),
                token_uri: config.token_uri.clone(),
                target_audience: target_audience.into(),
                additional_claims: Map::new(),
                quota_project: config.quota_project.clone(),
                universe_domain: config.universe_domain.clone(),
                transport: config.transport.clone(),
                clock: Arc::clone(&config.clock),
            },
        }
        .build()
    }
}

#[async_trait]
impl TokenSource for IdTokenCredentials {
    /// The grant's ID token, expiring at its own `exp`, carrying the quota project.
    ///
    /// # Errors
    ///
    /// See the type's docs.
    async fn fetch_token(&self) -> Result<AccessToken> {
        let config = &self.config;
        if config.universe_domain != DEFAULT_UNIVERSE_DOMAIN {
            return Err(error::id_token_outside_universe(&config.universe_domain));
        }
        let token = grant::id_token(config).await?;
        Ok(match &config.quota_project {
            Some(project) => token.with_quota_project(project.clone()),
            None => token,
        })
    }

    fn name(&self) -> &'static str {
        "service account ID token"
    }

    fn clock(&self) -> Option<Arc<dyn Clock>> {
        Some(Arc::clone(&self.config.clock))
    }
}

impl IdConfig {
    fn fmt_as(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("email", &self.email)
            .field("key_id", &self.signer.key_id())
            .field("target_audience", &self.target_audience)
            .field("quota_project", &self.quota_project)
            .field("token_uri", &self.token_uri)
            .field("universe_domain", &self.universe_domain)
            .field(
                "additional_claims",
                &self.additional_claims.keys().collect::<Vec<_>>(),
            )
            .field("transport", &self.transport.is_some())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for IdTokenCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt_as("IdTokenCredentials", f)
    }
}

impl fmt::Debug for IdTokenCredentialsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt_as("IdTokenCredentialsBuilder", f)
    }
}
