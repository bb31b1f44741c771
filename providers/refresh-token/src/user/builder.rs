//! `UserCredentialsBuilder`: every constructor parameter of the reference `Credentials`.

use std::fmt;
use std::sync::{Arc, Mutex};

use credkit_core::{AccessToken, BuildError, Clock, SystemClock, Transport};
use credkit_refresh_handler::RefreshHandler;
use secrecy::SecretString;
use time::OffsetDateTime;

use super::{Config, DEFAULT_UNIVERSE_DOMAIN, State, UserCredentials};
use crate::error;
use crate::reauth::{PasswordPrompt, ReauthChallenge, ReauthSettings};

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
///     .with_quota_project("my-project")
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
                quota_project: None,
                refresh_handler: None,
                enable_reauth_refresh: false,
                reauth: ReauthSettings::default(),
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
    /// A builder holding `config` and `state`, for [`UserCredentials::to_builder`].
    pub(super) fn from_parts(config: Config, state: State) -> Self {
        Self { config, state }
    }

    /// The access token to start with. Default: none (the credential is invalid until refreshed).
    pub fn with_token(mut self, token: impl Into<SecretString>) -> Self {
        self.state.token = Some(token.into());
        self
    }

    /// The refresh token. Default: none (no refresh possible).
    ///
    /// Like every secret setter (`with_token`, `with_id_token`, `with_client_secret`,
    /// `with_rapt_token`) it takes a `&str`, a `String` or a [`SecretString`], so a caller who
    /// already holds the secret wrapped never has to expose it:
    ///
    /// ```
    /// use credkit_refresh_token::UserCredentials;
    /// use secrecy::{ExposeSecret, SecretString};
    ///
    /// let from_vault = SecretString::from("1//refresh");
    /// let creds = UserCredentials::builder().with_refresh_token(from_vault).build()?;
    /// assert_eq!(creds.refresh_token().map(|t| t.expose_secret().to_owned()).as_deref(), Some("1//refresh"));
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn with_refresh_token(mut self, refresh_token: impl Into<SecretString>) -> Self {
        self.state.refresh_token = Some(refresh_token.into());
        self
    }

    /// The OpenID Connect ID token to start with. Default: none.
    pub fn with_id_token(mut self, id_token: impl Into<SecretString>) -> Self {
        self.state.id_token = Some(id_token.into());
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
    pub fn with_client_secret(mut self, client_secret: impl Into<SecretString>) -> Self {
        self.config.client_secret = Some(client_secret.into());
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
    pub fn with_quota_project(mut self, quota_project: impl Into<String>) -> Self {
        self.config.quota_project = Some(quota_project.into());
        self
    }

    /// When the starting token expires. Default: none (it never does).
    pub fn with_expiry(mut self, expiry: OffsetDateTime) -> Self {
        self.state.expiry = Some(expiry);
        self
    }

    /// The reauth proof token sent as `rapt` on refresh. Default: none.
    pub fn with_rapt_token(mut self, rapt_token: impl Into<SecretString>) -> Self {
        self.state.rapt_token = Some(rapt_token.into());
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

    /// No refresh handler (the reference's `refresh_handler` set to `None`). The default.
    pub fn without_refresh_handler(mut self) -> Self {
        self.config.refresh_handler = None;
        self
    }

    /// Whether a refresh the token endpoint refuses with `invalid_grant` and the subtype
    /// `invalid_rapt` or `rapt_required` may run the reauthentication flow. Default: false: such
    /// a refresh fails with "Reauthentication is needed. Please run `gcloud auth
    /// application-default login` to reauthenticate.".
    ///
    /// On, the flow runs only when a caller waits for the refresh inside
    /// [`credkit_core::interactive`]; a refresh nobody waits for (refresh ahead on a spawner,
    /// one started by `apply`) still fails with that error, and a challenge is answered only if
    /// a caller still waits when it comes. See the crate docs on reauthentication.
    ///
    /// ```
    /// use credkit_refresh_token::{prompt_fn, UserCredentials};
    /// use secrecy::SecretString;
    ///
    /// let creds = UserCredentials::builder()
    ///     .with_enable_reauth_refresh(true)
    ///     .with_password_prompt(prompt_fn(|_| async { Ok(SecretString::from("hunter2")) }))
    ///     .build()?;
    /// assert!(creds.enable_reauth_refresh());
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn with_enable_reauth_refresh(mut self, enable: bool) -> Self {
        self.config.enable_reauth_refresh = enable;
        self
    }

    /// The reauthentication API's base URL. Default: `https://reauth.googleapis.com`. It must
    /// be `https://`, or `http://` to a loopback host (for tests), as the token endpoint;
    /// [`build`](Self::build) checks it.
    ///
    /// ```
    /// use credkit_refresh_token::UserCredentials;
    ///
    /// let creds = UserCredentials::builder().with_reauth_uri("http://127.0.0.1:8080").build()?;
    /// assert_eq!(creds.reauth_uri(), "http://127.0.0.1:8080");
    /// assert!(UserCredentials::builder().with_reauth_uri("http://example.com").build().is_err());
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn with_reauth_uri(mut self, uri: impl Into<String>) -> Self {
        self.config.reauth.uri = uri.into();
        self
    }

    /// How the `PASSWORD` challenge asks for the user's password. Default: none, so a password
    /// challenge fails with the reference's "not in an interactive session" error. An empty
    /// answer is sent as `" "`, as the reference does.
    pub fn with_password_prompt(mut self, prompt: impl PasswordPrompt + 'static) -> Self {
        self.config.reauth.prompt = Some(Arc::new(prompt));
        self
    }

    /// Answers challenges of `challenge_type` with `handler`, in place of the built-in answer
    /// (or of an earlier handler for that type). Built in: `PASSWORD` (through
    /// [`with_password_prompt`](Self::with_password_prompt)), `SAML` (the reference's error)
    /// and `SECURITY_KEY` (an error until a handler is plugged in: see
    /// [`ReauthChallenge`](crate::ReauthChallenge) for the reference's `WebAuthn` plugin
    /// protocol). A type other than those three is added to the types offered at
    /// `sessions:start`.
    pub fn with_reauth_challenge(
        mut self,
        challenge_type: impl Into<String>,
        handler: impl ReauthChallenge + 'static,
    ) -> Self {
        self.config
            .reauth
            .plug(challenge_type.into(), Arc::new(handler));
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
    /// empty, or holds whitespace or control characters such as CR and LF), or the reauth URL
    /// is refused (not https, and not http to a loopback host).
    pub fn build(self) -> Result<UserCredentials, BuildError> {
        self.config.reauth.check()?;
        if let Some(token) = &self.state.token {
            AccessToken::validated(token.clone()).map_err(error::unusable_token)?;
        }
        Ok(UserCredentials {
            config: Arc::new(self.config),
            state: Arc::new(Mutex::new(self.state)),
        })
    }
}

// ===== copies of UserCredentials, all made by the builder =====

impl UserCredentials {
    /// A builder holding every setting of these credentials and their current state (token,
    /// expiry, refresh token, ID token, granted scopes, rapt token): change what differs, then
    /// `build()` an independent copy.
    ///
    /// This is the way to copy with a setting the reference has no `with_*` copy for (scopes,
    /// transport, clock...).
    ///
    /// ```
    /// use credkit_refresh_token::UserCredentials;
    ///
    /// let creds = UserCredentials::builder().with_client_id("123").build()?;
    /// let copy = creds.to_builder().with_scopes(["email"]).build()?;
    /// assert_eq!(copy.scopes(), Some(&["email".to_owned()][..]));
    /// assert_eq!(copy.client_id(), Some("123"));
    /// assert_eq!(creds.scopes(), None);
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn to_builder(&self) -> UserCredentialsBuilder {
        UserCredentialsBuilder::from_parts((*self.config).clone(), self.state().clone())
    }

    /// A copy billed to another quota project (the reference's `with_quota_project`).
    ///
    /// Like every `with_*` copy it goes through [`to_builder`](Self::to_builder), so it keeps the
    /// token and its expiry (the reference drops the expiry, making an expired copy look valid).
    ///
    /// # Errors
    ///
    /// As [`UserCredentialsBuilder::build`]. The reference's copies cannot fail; here every copy
    /// is built, and so checked, by the one builder.
    pub fn with_quota_project(&self, quota_project: impl Into<String>) -> Result<Self, BuildError> {
        self.to_builder().with_quota_project(quota_project).build()
    }

    /// A copy that refreshes against another token endpoint (the reference's `with_token_uri`):
    /// the one way to change the endpoint of credentials loaded from `authorized_user` JSON.
    ///
    /// # Errors
    ///
    /// As [`with_quota_project`](Self::with_quota_project).
    pub fn with_token_uri(&self, token_uri: impl Into<String>) -> Result<Self, BuildError> {
        self.to_builder().with_token_uri(token_uri).build()
    }

    /// A copy in another universe domain (the reference's `with_universe_domain`; an empty one
    /// means the default).
    ///
    /// # Errors
    ///
    /// As [`with_quota_project`](Self::with_quota_project).
    pub fn with_universe_domain(
        &self,
        universe_domain: impl Into<String>,
    ) -> Result<Self, BuildError> {
        self.to_builder()
            .with_universe_domain(universe_domain)
            .build()
    }

    /// A copy for another account (the reference's `with_account`).
    ///
    /// # Errors
    ///
    /// As [`with_quota_project`](Self::with_quota_project).
    pub fn with_account(&self, account: impl Into<String>) -> Result<Self, BuildError> {
        self.to_builder().with_account(account).build()
    }

    /// A copy with another refresh handler (the reference's `refresh_handler` property setter,
    /// given a handler).
    ///
    /// # Errors
    ///
    /// As [`with_quota_project`](Self::with_quota_project).
    pub fn with_refresh_handler(
        &self,
        handler: impl RefreshHandler + 'static,
    ) -> Result<Self, BuildError> {
        self.to_builder().with_refresh_handler(handler).build()
    }

    /// A copy without a refresh handler (the reference's `refresh_handler` property setter,
    /// given `None`).
    ///
    /// # Errors
    ///
    /// As [`with_quota_project`](Self::with_quota_project).
    pub fn without_refresh_handler(&self) -> Result<Self, BuildError> {
        self.to_builder().without_refresh_handler().build()
    }
}

impl fmt::Debug for UserCredentialsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        super::fmt_fields("UserCredentialsBuilder", &self.config, &self.state, f)
    }
}
