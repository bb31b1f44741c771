//! `UserCredentialsBuilder`: every constructor parameter of the reference `Credentials`.

use std::fmt;
use std::sync::{Arc, Mutex};

use credkit_core::{AccessToken, BuildError, Clock, SystemClock, Transport};
use credkit_refresh_handler::RefreshHandler;
use secrecy::SecretString;
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
    config: Config,
    state: State,
}

impl Default for UserCredentialsBuilder {
    fn default() -> Self {
        Self {
            config: Config {
                token_uri: None,
                client_id: None,
                client_secret: None,
                scopes: None,
                default_scopes: None,
                quota_project_id: None,
                refresh_handler: None,
                enable_reauth_refresh: false,
                trust_boundary: None,
                universe_domain: DEFAULT_UNIVERSE_DOMAIN.to_owned(),
                account: String::new(),
                credential_source: None,
                transport: None,
                clock: Arc::new(SystemClock),
            },
            state: State {
                token: None,
                expiry: None,
                refresh_token: None,
                id_token: None,
                granted_scopes: None,
                rapt_token: None,
            },
        }
    }
}

impl UserCredentialsBuilder {
    /// The access token to start with. Default: none (the credential is invalid until refreshed).
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.state.token = Some(SecretString::from(token.into()));
        self
    }

    /// The refresh token. Default: none (no refresh possible).
    pub fn with_refresh_token(mut self, refresh_token: impl Into<String>) -> Self {
        self.state.refresh_token = Some(SecretString::from(refresh_token.into()));
        self
    }

    /// The OpenID Connect ID token to start with. Default: none.
    pub fn with_id_token(mut self, id_token: impl Into<String>) -> Self {
        self.state.id_token = Some(SecretString::from(id_token.into()));
        self
    }

    /// The token endpoint. Default: none (the reference's constructor has no default either;
    /// [`UserCredentials::from_authorized_user_info`] sets Google's).
    pub fn with_token_uri(mut self, token_uri: impl Into<String>) -> Self {
        self.config.token_uri = Some(token_uri.into());
        self
    }

    /// The OAuth client ID. Default: none.
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.config.client_id = Some(client_id.into());
        self
    }

    /// The OAuth client secret. Default: none.
    pub fn with_client_secret(mut self, client_secret: impl Into<String>) -> Self {
        self.config.client_secret = Some(SecretString::from(client_secret.into()));
        self
    }

    /// The scopes to request on refresh. Default: none. Set (even empty), they win over the
    /// default scopes.
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The scopes a client library asks for when the user set none. Default: none.
    pub fn with_default_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.default_scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The project billed for API calls (`x-goog-user-project`). Default: none.
    pub fn with_quota_project_id(mut self, quota_project_id: impl Into<String>) -> Self {
        self.config.quota_project_id = Some(quota_project_id.into());
        self
    }

    /// When the starting token expires. Default: none (it never does).
    pub fn with_expiry(mut self, expiry: OffsetDateTime) -> Self {
        self.state.expiry = Some(expiry);
        self
    }

    /// The reauth proof token sent as `rapt` on refresh. Default: none.
    pub fn with_rapt_token(mut self, rapt_token: impl Into<String>) -> Self {
        self.state.rapt_token = Some(SecretString::from(rapt_token.into()));
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
        self.config.refresh_handler = Some(Arc::new(handler));
        self
    }

    /// Whether an `invalid_rapt` refresh may start the interactive reauth flow. Default: false.
    /// The flow is not in this release: with or without it, such a refresh fails with
    /// "Reauthentication is needed...".
    pub fn with_enable_reauth_refresh(mut self, enable: bool) -> Self {
        self.config.enable_reauth_refresh = enable;
        self
    }

    /// The scopes known to be granted. Default: none.
    pub fn with_granted_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.state.granted_scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The trust boundary, kept and copied only (as the reference). Default: none.
    pub fn with_trust_boundary(mut self, trust_boundary: serde_json::Value) -> Self {
        self.config.trust_boundary = Some(trust_boundary);
        self
    }

    /// The universe domain. Default (and for an empty value): `googleapis.com`, the only one a
    /// user credential can refresh in.
    pub fn with_universe_domain(mut self, universe_domain: impl Into<String>) -> Self {
        let domain = universe_domain.into();
        self.config.universe_domain = if domain.is_empty() {
            DEFAULT_UNIVERSE_DOMAIN.to_owned()
        } else {
            domain
        };
        self
    }

    /// The account the credential belongs to. Default: `""` (unknown).
    pub fn with_account(mut self, account: impl Into<String>) -> Self {
        self.config.account = account.into();
        self
    }

    /// Where the credential came from, for [`UserCredentials::cred_info`]. The ADC loader sets
    /// it. Default: none.
    pub fn with_credential_source(mut self, source: impl Into<String>) -> Self {
        self.config.credential_source = Some(source.into());
        self
    }

    /// The transport refreshes are sent through (`credkit_reqwest::ReqwestTransport`, say).
    /// Default: none; a refresh without one fails with a configuration error.
    pub fn with_transport(mut self, transport: impl Transport + 'static) -> Self {
        self.config.transport = Some(Arc::new(transport));
        self
    }

    /// The clock expiries are computed with. Default: [`SystemClock`].
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.config.clock = Arc::new(clock);
        self
    }

    /// Builds the credentials.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] when the starting access token cannot go into an HTTP header (it is
    /// empty, or holds whitespace or control characters such as CR and LF).
    pub fn build(self) -> Result<UserCredentials, BuildError> {
        if let Some(token) = &self.state.token {
            AccessToken::validated(token.clone()).map_err(|err| {
                BuildError::invalid_value(err.message().to_owned()).with_source(err)
            })?;
        }
        Ok(UserCredentials {
            config: Arc::new(self.config),
            state: Arc::new(Mutex::new(self.state)),
        })
    }
}

impl fmt::Debug for UserCredentialsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        super::fmt_fields("UserCredentialsBuilder", &self.config, &self.state, f)
    }
}
