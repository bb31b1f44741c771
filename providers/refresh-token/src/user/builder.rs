//! `UserCredentialsBuilder`: every constructor parameter of the reference `Credentials`.

use std::fmt;
use std::sync::{Arc, Mutex};

use credkit_core::{BuildError, Clock, SystemClock, Transport, validate_token_text};
use credkit_refresh_handler::RefreshHandler;
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use super::{Config, DEFAULT_UNIVERSE_DOMAIN, State, UserCredentials};

/// Builds [`UserCredentials`] from the reference constructor's parameters, all optional.
///
/// Only `token` or a refresh token (with `token_uri`, `client_id` and `client_secret`) makes a
/// usable credential; the builder does not insist, exactly as the reference, and a refresh
/// without the fields fails with the reference's "necessary fields" message.
///
/// # Examples
///
/// ```
/// use credkit_refresh_token::UserCredentials;
///
/// let creds = UserCredentials::builder()
///     .with_refresh_token("1//refresh")
///     .with_client_id("123.apps.googleusercontent.com")
///     .with_client_secret("s3cret")
///     .with_token_uri("https://oauth2.googleapis.com/token")
///     .with_scopes(["https://www.googleapis.com/auth/cloud-platform"])
///     .with_quota_project_id("my-project")
///     .build()?;
/// assert_eq!(creds.client_id(), Some("123.apps.googleusercontent.com"));
/// assert_eq!(creds.universe_domain(), "googleapis.com");
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
#[must_use]
pub struct UserCredentialsBuilder {
    token: Option<SecretString>,
    refresh_token: Option<SecretString>,
    id_token: Option<SecretString>,
    token_uri: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    scopes: Option<Vec<String>>,
    default_scopes: Option<Vec<String>>,
    quota_project_id: Option<String>,
    expiry: Option<OffsetDateTime>,
    rapt_token: Option<SecretString>,
    refresh_handler: Option<Arc<dyn RefreshHandler>>,
    enable_reauth_refresh: bool,
    granted_scopes: Option<Vec<String>>,
    trust_boundary: Option<serde_json::Value>,
    universe_domain: Option<String>,
    account: Option<String>,
    credential_source: Option<String>,
    transport: Option<Arc<dyn Transport>>,
    clock: Arc<dyn Clock>,
}

impl Default for UserCredentialsBuilder {
    fn default() -> Self {
        Self {
            token: None,
            refresh_token: None,
            id_token: None,
            token_uri: None,
            client_id: None,
            client_secret: None,
            scopes: None,
            default_scopes: None,
            quota_project_id: None,
            expiry: None,
            rapt_token: None,
            refresh_handler: None,
            enable_reauth_refresh: false,
            granted_scopes: None,
            trust_boundary: None,
            universe_domain: None,
            account: None,
            credential_source: None,
            transport: None,
            clock: Arc::new(SystemClock),
        }
    }
}

impl UserCredentialsBuilder {
    /// The access token to start with. Default: none (the credential is invalid until refreshed).
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(SecretString::from(token.into()));
        self
    }

    /// The refresh token. Default: none (no refresh possible).
    pub fn with_refresh_token(mut self, refresh_token: impl Into<String>) -> Self {
        self.refresh_token = Some(SecretString::from(refresh_token.into()));
        self
    }

    /// The OpenID Connect ID token to start with. Default: none.
    pub fn with_id_token(mut self, id_token: impl Into<String>) -> Self {
        self.id_token = Some(SecretString::from(id_token.into()));
        self
    }

    /// The token endpoint. Default: none (the reference's constructor has no default either;
    /// [`UserCredentials::from_authorized_user_info`] sets Google's).
    pub fn with_token_uri(mut self, token_uri: impl Into<String>) -> Self {
        self.token_uri = Some(token_uri.into());
        self
    }

    /// The OAuth client ID. Default: none.
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The OAuth client secret. Default: none.
    pub fn with_client_secret(mut self, client_secret: impl Into<String>) -> Self {
        self.client_secret = Some(SecretString::from(client_secret.into()));
        self
    }

    /// The scopes to request on refresh. Default: none. Set (even empty), they win over the
    /// default scopes.
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The scopes a client library asks for when the user set none. Default: none.
    pub fn with_default_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.default_scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The project billed for API calls (`x-goog-user-project`). Default: none.
    pub fn with_quota_project_id(mut self, quota_project_id: impl Into<String>) -> Self {
        self.quota_project_id = Some(quota_project_id.into());
        self
    }

    /// When the starting token expires. Default: none (it never does).
    pub fn with_expiry(mut self, expiry: OffsetDateTime) -> Self {
        self.expiry = Some(expiry);
        self
    }

    /// The reauth proof token sent as `rapt` on refresh. Default: none.
    pub fn with_rapt_token(mut self, rapt_token: impl Into<String>) -> Self {
        self.rapt_token = Some(SecretString::from(rapt_token.into()));
        self
    }

    /// A function that fetches the token itself (from a broker, say), used when there is no
    /// refresh token; see `credkit_refresh_handler::handler_fn`. Default: none.
    ///
    /// ```
    /// use credkit_refresh_handler::handler_fn;
    /// use credkit_refresh_token::UserCredentials;
    ///
    /// let creds = UserCredentials::builder()
    ///     .with_refresh_handler(handler_fn(|_transport, _scopes| async {
    ///         Ok(("ya29.from-broker".to_owned(), time::OffsetDateTime::now_utc() + time::Duration::hours(1)))
    ///     }))
    ///     .build()?;
    /// assert!(creds.refresh_handler().is_some());
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn with_refresh_handler(mut self, handler: impl RefreshHandler + 'static) -> Self {
        self.refresh_handler = Some(Arc::new(handler));
        self
    }

    /// Whether an `invalid_rapt` refresh may start the interactive reauth flow. Default: false.
    /// The flow is not in this release: with or without it, such a refresh fails with
    /// "Reauthentication is needed...".
    pub fn with_enable_reauth_refresh(mut self, enable: bool) -> Self {
        self.enable_reauth_refresh = enable;
        self
    }

    /// The scopes known to be granted. Default: none.
    pub fn with_granted_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.granted_scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The trust boundary, kept and copied only (as the reference). Default: none.
    pub fn with_trust_boundary(mut self, trust_boundary: serde_json::Value) -> Self {
        self.trust_boundary = Some(trust_boundary);
        self
    }

    /// The universe domain. Default (and for an empty value): `googleapis.com`, the only one a
    /// user credential can refresh in.
    pub fn with_universe_domain(mut self, universe_domain: impl Into<String>) -> Self {
        self.universe_domain = Some(universe_domain.into());
        self
    }

    /// The account the credential belongs to. Default: `""` (unknown).
    pub fn with_account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// Where the credential came from, for [`UserCredentials::cred_info`]. The ADC loader sets
    /// it. Default: none.
    pub fn with_credential_source(mut self, source: impl Into<String>) -> Self {
        self.credential_source = Some(source.into());
        self
    }

    /// The transport refreshes are sent through (`credkit_reqwest::ReqwestTransport`, say).
    /// Default: none; a refresh without one fails with a configuration error.
    pub fn with_transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The clock expiries are computed with. Default: [`SystemClock`].
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the credentials.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] when the starting access token cannot go into an HTTP header (it is
    /// empty, or holds whitespace or control characters such as CR and LF).
    pub fn build(self) -> Result<UserCredentials, BuildError> {
        if let Some(token) = &self.token {
            validate_token_text(token.expose_secret(), "access token")
                .map_err(|err| BuildError::invalid_value(err.to_string()))?;
        }
        let universe_domain = self
            .universe_domain
            .filter(|domain| !domain.is_empty())
            .unwrap_or_else(|| DEFAULT_UNIVERSE_DOMAIN.to_owned());
        let config = Config {
            token_uri: self.token_uri,
            client_id: self.client_id,
            client_secret: self.client_secret,
            scopes: self.scopes,
            default_scopes: self.default_scopes,
            quota_project_id: self.quota_project_id,
            refresh_handler: self.refresh_handler,
            enable_reauth_refresh: self.enable_reauth_refresh,
            trust_boundary: self.trust_boundary,
            universe_domain,
            account: self.account.unwrap_or_default(),
            credential_source: self.credential_source,
            transport: self.transport,
            clock: self.clock,
        };
        let state = State {
            token: self.token,
            expiry: self.expiry,
            refresh_token: self.refresh_token,
            id_token: self.id_token,
            granted_scopes: self.granted_scopes,
            rapt_token: self.rapt_token,
        };
        Ok(UserCredentials {
            config: Arc::new(config),
            state: Arc::new(Mutex::new(state)),
        })
    }
}

impl fmt::Debug for UserCredentialsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |present: bool| present.then_some("[REDACTED]");
        f.debug_struct("UserCredentialsBuilder")
            .field("token", &redacted(self.token.is_some()))
            .field("refresh_token", &redacted(self.refresh_token.is_some()))
            .field("id_token", &redacted(self.id_token.is_some()))
            .field("token_uri", &self.token_uri)
            .field("client_id", &self.client_id)
            .field("client_secret", &redacted(self.client_secret.is_some()))
            .field("scopes", &self.scopes)
            .field("default_scopes", &self.default_scopes)
            .field("quota_project_id", &self.quota_project_id)
            .field("expiry", &self.expiry)
            .field("rapt_token", &redacted(self.rapt_token.is_some()))
            .field("refresh_handler", &self.refresh_handler)
            .field("enable_reauth_refresh", &self.enable_reauth_refresh)
            .field("universe_domain", &self.universe_domain)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}
