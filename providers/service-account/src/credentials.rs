//! `ServiceAccountCredentials`: access tokens for a service account key, by the JWT-bearer grant
//! or as self-signed JWTs.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::{AccessToken, Clock, Result, Signer, TokenSource, Transport};
use serde_json::{Map, Value};

use crate::builder::ServiceAccountCredentialsBuilder;
use crate::key::{DEFAULT_UNIVERSE_DOMAIN, ServiceAccountKey};
use crate::signer::ServiceAccountSigner;
use crate::{error, grant};

/// Google's OAuth 2.0 token endpoint: the `aud` of every JWT-bearer assertion, whatever the
/// `token_uri` the assertion is sent to (the reference's `_GOOGLE_OAUTH2_TOKEN_ENDPOINT`).
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// Access tokens for a service account, from its key: the reference's
/// `google.oauth2.service_account.Credentials`.
///
/// A [`TokenSource`]: each fetch signs a new JWT. Wrap it in
/// [`Credentials`](credkit_core::Credentials) for caching and retries.
///
/// # How a token is made
///
/// Exactly where the reference uses them, the token is a **self-signed JWT** (signed locally,
/// no request, valid one hour: its expiry is the JWT's `exp`), with claims `iss` = `sub` = the
/// account's email, `iat`, `exp` = `iat` + 3600, and either `aud` or `scope`:
///
/// - with [`always_use_jwt_access`](ServiceAccountCredentialsBuilder::with_always_use_jwt_access)
///   (always on outside the `googleapis.com` universe): `scope` = the scopes when there are
///   some; else `aud` = `https://{default host}/` when a
///   [default host](ServiceAccountCredentialsBuilder::with_default_host) is set; else `scope` =
///   the default scopes when there are some;
/// - without it: `aud` = `https://{default host}/` when there are no scopes and a default host
///   is set.
///
/// Never with a [subject](ServiceAccountCredentialsBuilder::with_subject). Otherwise the token
/// comes from the **JWT-bearer grant** (RFC 7523): a POST to the `token_uri` with the form
/// `assertion=<JWT>&grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`, the assertion's
/// header `{"alg": "RS256", "kid": <private_key_id>, "typ": "JWT"}` and claims `iat` (read from
/// the clock before the request), `exp` = `iat` + 3600, `iss` = the email, `aud` =
/// `https://oauth2.googleapis.com/token` (the reference's constant, whatever the `token_uri`),
/// `scope` = the scopes joined by spaces (empty without scopes: the reference sends no default
/// scopes in the grant), then the [additional
/// claims](ServiceAccountCredentialsBuilder::with_additional_claims) (which may replace the
/// others), then `sub` = the subject unless an additional claim set it.
///
/// Every token carries the [quota project](Self::quota_project), if any.
///
/// # Errors
///
/// Before any request: a subject outside the default universe ("domain wide delegation is not
/// supported for non-default universe domain"), no transport for a grant, an invalid
/// `token_uri` (all permanent configuration errors). Then the transport's errors, and the token
/// endpoint's, read by `credkit_core::oauth` (an `invalid_grant` is permanent, a 503 transient,
/// the assertion scrubbed from any text kept).
///
/// # Hung servers and cancellation
///
/// A token endpoint that never answers is the transport's timeout (`credkit-reqwest`: 30 s in
/// all), a transient error the caching layer retries. Dropping the future while the grant is in
/// flight drops the request; nothing is kept, and the next fetch signs a new assertion. A
/// self-signed JWT has no await point that waits on anything but the signer.
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
///     .with_scopes(["https://www.googleapis.com/auth/cloud-platform"])
///     .with_quota_project("billing-project")
///     .build()?;
/// assert_eq!(creds.service_account_email(), "robot@p.iam.gserviceaccount.com");
/// assert!(!creds.requires_scopes());
/// assert!(!format!("{creds:?}").contains("PRIVATE KEY"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ServiceAccountCredentials {
    config: Arc<Config>,
}

/// Every setting, shared by clones; copies get a new one (the key inside stays shared).
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) signer: ServiceAccountSigner,
    pub(crate) email: String,
    pub(crate) token_uri: String,
    pub(crate) project_id: Option<String>,
    pub(crate) scopes: Option<Vec<String>>,
    pub(crate) default_scopes: Option<Vec<String>>,
    pub(crate) subject: Option<String>,
    pub(crate) quota_project: Option<String>,
    pub(crate) additional_claims: Map<String, Value>,
    pub(crate) always_use_jwt_access: bool,
    pub(crate) universe_domain: String,
    pub(crate) default_host: Option<String>,
    pub(crate) transport: Option<Arc<dyn Transport>>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// What a fetch does: sign a JWT here, or trade an assertion for a token.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// A self-signed JWT with this `aud`.
    SelfSignedAudience(String),
    /// A self-signed JWT with this `scope`.
    SelfSignedScope(String),
    /// The JWT-bearer grant.
    Grant,
}

impl Config {
    pub(crate) fn from_key(key: ServiceAccountKey, clock: Arc<dyn Clock>) -> Self {
        let parts = key.into_parts();
        let universe_domain = parts.universe_domain;
        Self {
            signer: parts.signer,
            email: parts.client_email,
            token_uri: parts.token_uri,
            project_id: parts.project_id,
            scopes: None,
            default_scopes: None,
            subject: None,
            quota_project: None,
            additional_claims: Map::new(),
            always_use_jwt_access: universe_domain != DEFAULT_UNIVERSE_DOMAIN,
            universe_domain,
            default_host: None,
            transport: None,
            clock,
        }
    }

    /// The reference's `_create_self_signed_jwt(audience)` followed by `_use_self_signed_jwt()`.
    pub(crate) fn plan(&self) -> Plan {
        if self.subject.is_some() {
            return Plan::Grant;
        }
        let scopes = non_empty(self.scopes.as_deref());
        let default_scopes = non_empty(self.default_scopes.as_deref());
        let audience = self
            .default_host
            .as_deref()
            .map(|host| format!("https://{host}/"));
        match (self.always_use_jwt_access, scopes, audience, default_scopes) {
            (true, Some(scopes), _, _) => Plan::SelfSignedScope(scopes.join(" ")),
            (_, None, Some(audience), _) => Plan::SelfSignedAudience(audience),
            (true, None, None, Some(defaults)) => Plan::SelfSignedScope(defaults.join(" ")),
            _ => Plan::Grant,
        }
    }

    fn with_quota_project(&self, token: AccessToken) -> AccessToken {
        match &self.quota_project {
            Some(project) => token.with_quota_project(project.clone()),
            None => token,
        }
    }
}

fn non_empty(scopes: Option<&[String]>) -> Option<&[String]> {
    scopes.filter(|s| !s.is_empty())
}

impl ServiceAccountCredentials {
    /// A builder for credentials of `key`.
    pub fn builder(key: ServiceAccountKey) -> ServiceAccountCredentialsBuilder {
        ServiceAccountCredentialsBuilder::new(key)
    }

    /// Credentials from parsed `service_account` JSON, as the reference's
    /// `from_service_account_info` (see [`ServiceAccountKey`] for what is read). Give them a
    /// transport with [`to_builder`](Self::to_builder) unless they only make self-signed JWTs.
    ///
    /// # Errors
    ///
    /// As [`ServiceAccountKey::from_json`].
    pub fn from_service_account_info(info: &Value) -> Result<Self, credkit_core::BuildError> {
        Self::builder(ServiceAccountKey::from_json(info)?).build()
    }

    /// Credentials from `service_account` JSON text, as
    /// [`from_service_account_info`](Self::from_service_account_info).
    ///
    /// # Errors
    ///
    /// As [`ServiceAccountKey::from_json_str`].
    pub fn from_service_account_json(info: &str) -> Result<Self, credkit_core::BuildError> {
        Self::builder(ServiceAccountKey::from_json_str(info)?).build()
    }

    /// Credentials from a `service_account` key file, as the reference's
    /// `from_service_account_file`.
    ///
    /// # Errors
    ///
    /// As [`ServiceAccountKey::from_file`].
    pub fn from_service_account_file(
        path: impl AsRef<std::path::Path>,
    ) -> Result<Self, credkit_core::BuildError> {
        Self::builder(ServiceAccountKey::from_file(path)?).build()
    }

    pub(crate) fn from_config(config: Config) -> Self {
        Self {
            config: Arc::new(config),
        }
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The service account's email.
    pub fn service_account_email(&self) -> &str {
        &self.config.email
    }

    /// The email JWTs are signed as: the service account's.
    pub fn signer_email(&self) -> &str {
        &self.config.email
    }

    /// The signer of the key (a cheap clone), for signed URLs and JWTs of your own.
    pub fn signer(&self) -> ServiceAccountSigner {
        self.config.signer.clone()
    }

    /// The key file's `project_id`, if any.
    pub fn project_id(&self) -> Option<&str> {
        self.config.project_id.as_deref()
    }

    /// Whether no scopes were set (default scopes do not count), as the reference's
    /// `requires_scopes`.
    pub fn requires_scopes(&self) -> bool {
        non_empty(self.config.scopes.as_deref()).is_none()
    }

    /// The scopes, if set.
    pub fn scopes(&self) -> Option<&[String]> {
        self.config.scopes.as_deref()
    }

    /// The default scopes, if set.
    pub fn default_scopes(&self) -> Option<&[String]> {
        self.config.default_scopes.as_deref()
    }

    /// The subject of domain-wide delegation, if any.
    pub fn subject(&self) -> Option<&str> {
        self.config.subject.as_deref()
    }

    /// The project billed for API calls, if any: every token carries it.
    pub fn quota_project(&self) -> Option<&str> {
        self.config.quota_project.as_deref()
    }

    /// The universe the account lives in.
    pub fn universe_domain(&self) -> &str {
        &self.config.universe_domain
    }

    /// The token endpoint grants are sent to.
    pub fn token_uri(&self) -> &str {
        &self.config.token_uri
    }

    /// Whether self-signed JWTs are used wherever the reference uses them with this setting
    /// (always true outside the default universe).
    pub fn always_use_jwt_access(&self) -> bool {
        self.config.always_use_jwt_access
    }

    /// The default host self-signed JWTs are made for, if any.
    pub fn default_host(&self) -> Option<&str> {
        self.config.default_host.as_deref()
    }

    /// The additional claims of every assertion.
    pub fn additional_claims(&self) -> &Map<String, Value> {
        &self.config.additional_claims
    }

    /// Whether the next fetch makes a self-signed JWT (no request) rather than a grant.
    pub fn uses_self_signed_jwt(&self) -> bool {
        self.config.plan() != Plan::Grant
    }

    async fn self_signed(
        &self,
        audience: Option<&str>,
        scope: Option<&str>,
    ) -> Result<AccessToken> {
        let config = &self.config;
        let now = config.clock.now();
        let (iat, exp) = crate::jwt::issued_and_expiry(now);
        let mut claims = Map::new();
        claims.insert("iss".to_owned(), config.email.clone().into());
        claims.insert("sub".to_owned(), config.email.clone().into());
        claims.insert("iat".to_owned(), iat.into());
        claims.insert("exp".to_owned(), exp.into());
        if let Some(audience) = audience {
            claims.insert("aud".to_owned(), audience.into());
        }
        if let Some(scope) = scope {
            claims.insert("scope".to_owned(), scope.into());
        }
        let jwt = crate::encode_jwt(&config.signer, &claims).await?;
        let expiry = time::OffsetDateTime::from_unix_timestamp(exp).unwrap_or(now);
        tracing::debug!(email = %config.email, "made a self-signed JWT");
        Ok(AccessToken::from_secret(jwt)
            .with_issued_at(now)
            .with_expiry(expiry))
    }
}

#[async_trait]
impl TokenSource for ServiceAccountCredentials {
    /// A self-signed JWT or the JWT-bearer grant's token (see the type's docs), carrying the
    /// quota project.
    ///
    /// # Errors
    ///
    /// See the type's docs.
    async fn fetch_token(&self) -> Result<AccessToken> {
        let config = &self.config;
        if config.universe_domain != DEFAULT_UNIVERSE_DOMAIN && config.subject.is_some() {
            return Err(error::delegation_outside_universe());
        }
        let token = match config.plan() {
            Plan::SelfSignedAudience(audience) => self.self_signed(Some(&audience), None).await?,
            Plan::SelfSignedScope(scope) => self.self_signed(None, Some(&scope)).await?,
            Plan::Grant => grant::access_token(config).await?,
        };
        Ok(config.with_quota_project(token))
    }

    fn name(&self) -> &'static str {
        "service account"
    }

    fn clock(&self) -> Option<Arc<dyn Clock>> {
        Some(Arc::clone(&self.config.clock))
    }
}

impl fmt::Debug for ServiceAccountCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt_as("ServiceAccountCredentials", f)
    }
}

impl Config {
    pub(crate) fn fmt_as(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("email", &self.email)
            .field("key_id", &self.signer.key_id())
            .field("scopes", &self.scopes)
            .field("default_scopes", &self.default_scopes)
            .field("subject", &self.subject)
            .field("quota_project", &self.quota_project)
            .field("token_uri", &self.token_uri)
            .field("universe_domain", &self.universe_domain)
            .field("always_use_jwt_access", &self.always_use_jwt_access)
            .field("default_host", &self.default_host)
            .field(
                "additional_claims",
                &self.additional_claims.keys().collect::<Vec<_>>(),
            )
            .field("transport", &self.transport.is_some())
            .finish_non_exhaustive()
    }
}
