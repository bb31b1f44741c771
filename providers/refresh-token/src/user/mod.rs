//! `UserCredentials`: refresh-token ("authorized user") credentials.

mod builder;

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use credkit_core::{
    AccessToken, BuildError, Clock, Credentials, CredentialsBuilder, Error, ErrorKind, Result,
    TokenSource, Transport, oauth,
};
use credkit_refresh_handler::{RefreshHandler, RefreshHandlerSource};
use secrecy::SecretString;
use time::OffsetDateTime;

pub use builder::UserCredentialsBuilder;

use crate::grant;

/// The universe domain user credentials can refresh in.
pub const DEFAULT_UNIVERSE_DOMAIN: &str = "googleapis.com";

/// Google's OAuth 2.0 token endpoint, which [`UserCredentials::from_authorized_user_info`] always
/// uses.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// Refresh-token credentials for a user: the Rust counterpart of the reference library's
/// `google.oauth2.credentials.Credentials`.
///
/// `UserCredentials` is configuration plus a [`TokenSource`]: each `fetch_token` runs the
/// refresh grant (RFC 6749 section 6) against the token endpoint. It caches nothing; turn it into
/// the caching `Credentials` (lock-free hot path, single-flight refresh, refresh ahead, retries)
/// with `into_credentials`. The reference's state members (`valid`, `expired`, `token`, `expiry`,
/// `refresh`, `before_request`, `apply`) live there.
///
/// It is a cheap handle: clones share the state a refresh updates (the rotated refresh token, the
/// latest ID token and granted scopes), so the clone the caching layer holds and the one the
/// application keeps agree. The `with_*` methods make independent copies.
///
/// # Examples
///
/// ```
/// use credkit_refresh_token::UserCredentials;
///
/// let info = serde_json::json!({
///     "type": "authorized_user",
///     "client_id": "123.apps.googleusercontent.com",
///     "client_secret": "s3cret",
///     "refresh_token": "1//refresh",
/// });
/// let creds = UserCredentials::from_authorized_user_info(&info, None)?;
/// assert_eq!(creds.token_uri(), Some("https://oauth2.googleapis.com/token"));
/// assert!(!format!("{creds:?}").contains("s3cret"));
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
#[derive(Clone)]
pub struct UserCredentials {
    config: Arc<Config>,
    state: Arc<Mutex<State>>,
}

/// What does not change between refreshes.
#[derive(Clone)]
struct Config {
    token_uri: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    scopes: Option<Vec<String>>,
    default_scopes: Option<Vec<String>>,
    quota_project_id: Option<String>,
    refresh_handler: Option<Arc<dyn RefreshHandler>>,
    enable_reauth_refresh: bool,
    trust_boundary: Option<serde_json::Value>,
    universe_domain: String,
    account: String,
    credential_source: Option<String>,
    transport: Option<Arc<dyn Transport>>,
    clock: Arc<dyn Clock>,
}

/// What a refresh updates.
#[derive(Clone)]
pub(crate) struct State {
    pub(crate) token: Option<SecretString>,
    pub(crate) expiry: Option<OffsetDateTime>,
    pub(crate) refresh_token: Option<SecretString>,
    pub(crate) id_token: Option<SecretString>,
    pub(crate) granted_scopes: Option<Vec<String>>,
    pub(crate) rapt_token: Option<SecretString>,
}

impl UserCredentials {
    /// A builder with every constructor parameter of the reference.
    pub fn builder() -> UserCredentialsBuilder {
        UserCredentialsBuilder::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update is a few plain assignments, so a poisoned lock still holds consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The latest access token: the starting one, or the one the last refresh fetched.
    pub fn token(&self) -> Option<SecretString> {
        self.state().token.clone()
    }

    /// When [`token`](Self::token) expires; `None` means never.
    pub fn expiry(&self) -> Option<OffsetDateTime> {
        self.state().expiry
    }

    /// The refresh token: the configured one, or the one the endpoint rotated in.
    pub fn refresh_token(&self) -> Option<SecretString> {
        self.state().refresh_token.clone()
    }

    /// The OpenID Connect ID token of the last refresh (or the starting one).
    pub fn id_token(&self) -> Option<SecretString> {
        self.state().id_token.clone()
    }

    /// The scopes the server granted, as of the last refresh that reported them.
    pub fn granted_scopes(&self) -> Option<Vec<String>> {
        self.state().granted_scopes.clone()
    }

    /// The reauth proof token sent as `rapt`.
    pub fn rapt_token(&self) -> Option<SecretString> {
        self.state().rapt_token.clone()
    }

    /// A [`CredentialsBuilder`] over these credentials, seeded with the current token and its
    /// expiry and carrying the quota project and clock: add storage, a spawner or a retry policy,
    /// then `build()`.
    pub fn credentials_builder(&self) -> CredentialsBuilder {
        let (token, expiry) = {
            let state = self.state();
            (state.token.clone(), state.expiry)
        };
        let mut builder =
            Credentials::builder(self.clone()).with_clock(Arc::clone(&self.config.clock));
        if let Some(project) = &self.config.quota_project_id {
            builder = builder.with_quota_project(project.clone());
        }
        if let Some(token) = token {
            builder = builder
                .with_initial_token(AccessToken::from_secret(token).with_optional_expiry(expiry));
        }
        builder
    }

    /// The caching [`Credentials`] over these credentials, seeded with the current token and
    /// expiry and carrying the quota project: where the reference's state members (`valid`,
    /// `expired`, `token`, `expiry`, `refresh`, `before_request`, `apply`) live.
    ///
    /// ```
    /// use credkit_core::TokenState;
    /// use credkit_refresh_token::UserCredentials;
    ///
    /// let creds = UserCredentials::builder().with_token("ya29.t").with_quota_project_id("p").build()?;
    /// let credentials = creds.into_credentials()?;
    /// assert_eq!(credentials.token_state(), TokenState::Fresh); // no expiry: fresh until rejected
    /// assert_eq!(credentials.quota_project(), Some("p"));
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`BuildError`] when the quota project cannot go into an HTTP header.
    pub fn into_credentials(self) -> std::result::Result<Credentials, BuildError> {
        self.credentials_builder().build()
    }

    /// The token endpoint.
    pub fn token_uri(&self) -> Option<&str> {
        self.config.token_uri.as_deref()
    }

    /// The OAuth client ID.
    pub fn client_id(&self) -> Option<&str> {
        self.config.client_id.as_deref()
    }

    /// The OAuth client secret.
    pub fn client_secret(&self) -> Option<&SecretString> {
        self.config.client_secret.as_ref()
    }

    /// The scopes requested on refresh.
    pub fn scopes(&self) -> Option<&[String]> {
        self.config.scopes.as_deref()
    }

    /// The scopes requested when [`scopes`](Self::scopes) is not set.
    pub fn default_scopes(&self) -> Option<&[String]> {
        self.config.default_scopes.as_deref()
    }

    /// Always `false`: user credentials carry their scopes from consent, so no scopes are
    /// required to use them.
    pub fn requires_scopes(&self) -> bool {
        false
    }

    /// Whether every one of `scopes` is among the requested scopes (or the default scopes when
    /// none are set). An empty list is always covered.
    ///
    /// ```
    /// use credkit_refresh_token::UserCredentials;
    ///
    /// let creds = UserCredentials::builder().with_scopes(["email", "profile"]).build()?;
    /// assert!(creds.has_scopes(&["email"]));
    /// assert!(!creds.has_scopes(&["drive"]));
    /// assert!(creds.has_scopes::<&str>(&[]));
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn has_scopes<S: AsRef<str>>(&self, scopes: &[S]) -> bool {
        let have: HashSet<&str> = self
            .config
            .scopes
            .as_ref()
            .or(self.config.default_scopes.as_ref())
            .map(|list| list.iter().map(String::as_str).collect())
            .unwrap_or_default();
        scopes.iter().all(|scope| have.contains(scope.as_ref()))
    }

    /// The project billed for API calls.
    pub fn quota_project_id(&self) -> Option<&str> {
        self.config.quota_project_id.as_deref()
    }

    /// The refresh handler, used when there is no refresh token.
    pub fn refresh_handler(&self) -> Option<&dyn RefreshHandler> {
        self.config.refresh_handler.as_deref()
    }

    /// Whether an `invalid_rapt` refresh may start the interactive reauth flow.
    pub fn enable_reauth_refresh(&self) -> bool {
        self.config.enable_reauth_refresh
    }

    /// The trust boundary, kept and copied only.
    pub fn trust_boundary(&self) -> Option<&serde_json::Value> {
        self.config.trust_boundary.as_ref()
    }

    /// The universe domain (`googleapis.com` unless set).
    pub fn universe_domain(&self) -> &str {
        &self.config.universe_domain
    }

    /// The account the credential belongs to, `""` if unknown.
    pub fn account(&self) -> &str {
        &self.config.account
    }

    /// The transport refreshes go through, if set.
    pub fn transport(&self) -> Option<&Arc<dyn Transport>> {
        self.config.transport.as_ref()
    }

    /// The clock expiries are computed with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.config.clock
    }

    /// Where the credential came from, as the reference's `get_cred_info()`: `None` unless the
    /// ADC loader (or [`UserCredentialsBuilder::with_credential_source`]) recorded a source;
    /// otherwise `credential_source`, `credential_type` (`"user credentials"`) and, when the
    /// account is known, `principal`.
    pub fn cred_info(&self) -> Option<serde_json::Value> {
        let source = self.config.credential_source.as_ref()?;
        let mut info = serde_json::Map::new();
        info.insert("credential_source".into(), source.clone().into());
        info.insert("credential_type".into(), "user credentials".into());
        if !self.config.account.is_empty() {
            info.insert("principal".into(), self.config.account.clone().into());
        }
        Some(info.into())
    }

    /// A copy with changed state (the refresh token, the token...), the configuration shared.
    pub(crate) fn copy_with_state(&self, change: impl FnOnce(&mut State)) -> Self {
        let mut state = self.state().clone();
        change(&mut state);
        Self {
            config: Arc::clone(&self.config),
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn copy_with(&self, change: impl FnOnce(&mut Config)) -> Self {
        let mut config = (*self.config).clone();
        change(&mut config);
        Self {
            config: Arc::new(config),
            state: Arc::new(Mutex::new(self.state().clone())),
        }
    }

    /// A copy billed to another quota project. Like every `with_*` copy it keeps the token and
    /// its expiry (the reference drops the expiry, making an expired copy look valid).
    #[must_use]
    pub fn with_quota_project(&self, quota_project_id: impl Into<String>) -> Self {
        let quota_project_id = quota_project_id.into();
        self.copy_with(|c| c.quota_project_id = Some(quota_project_id))
    }

    /// A copy that refreshes against another token endpoint: the one way to change the endpoint
    /// of credentials loaded from `authorized_user` JSON.
    #[must_use]
    pub fn with_token_uri(&self, token_uri: impl Into<String>) -> Self {
        let token_uri = token_uri.into();
        self.copy_with(|c| c.token_uri = Some(token_uri))
    }

    /// A copy in another universe domain (an empty one means the default).
    #[must_use]
    pub fn with_universe_domain(&self, universe_domain: impl Into<String>) -> Self {
        let domain = universe_domain.into();
        self.copy_with(|c| {
            c.universe_domain = if domain.is_empty() {
                DEFAULT_UNIVERSE_DOMAIN.to_owned()
            } else {
                domain
            };
        })
    }

    /// A copy for another account.
    #[must_use]
    pub fn with_account(&self, account: impl Into<String>) -> Self {
        let account = account.into();
        self.copy_with(|c| c.account = account)
    }

    /// A copy that requests other scopes on refresh (the reference has no such method).
    #[must_use]
    pub fn with_scopes<I, S>(&self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes = scopes.into_iter().map(Into::into).collect();
        self.copy_with(|c| c.scopes = Some(scopes))
    }

    /// A copy with another refresh handler (the reference's `refresh_handler` setter).
    #[must_use]
    pub fn with_refresh_handler(&self, handler: impl RefreshHandler + 'static) -> Self {
        let handler: Arc<dyn RefreshHandler> = Arc::new(handler);
        self.copy_with(|c| c.refresh_handler = Some(handler))
    }

    /// A copy without a refresh handler (the setter given `None`).
    #[must_use]
    pub fn without_refresh_handler(&self) -> Self {
        self.copy_with(|c| c.refresh_handler = None)
    }

    /// A copy that refreshes through `transport`.
    #[must_use]
    pub fn with_transport(&self, transport: impl Transport + 'static) -> Self {
        let transport: Arc<dyn Transport> = Arc::new(transport);
        self.copy_with(|c| c.transport = Some(transport))
    }

    /// A copy recording where the credential came from (see [`cred_info`](Self::cred_info)).
    pub(crate) fn with_credential_source(&self, source: String) -> Self {
        self.copy_with(|c| c.credential_source = Some(source))
    }

    /// A copy that computes expiries with `clock`.
    #[must_use]
    pub fn with_clock(&self, clock: impl Clock + 'static) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(clock);
        self.copy_with(|c| c.clock = clock)
    }

    /// The scopes a refresh requests: the scopes if set (even empty), else the default scopes.
    fn request_scopes(&self) -> &[String] {
        self.config
            .scopes
            .as_deref()
            .or(self.config.default_scopes.as_deref())
            .unwrap_or_default()
    }

    async fn refresh_grant(&self) -> Result<AccessToken> {
        let scopes = self.request_scopes();
        let (refresh_token, rapt_token) = {
            let state = self.state();
            (state.refresh_token.clone(), state.rapt_token.clone())
        };
        let config = &self.config;
        let (Some(refresh_token), Some(token_uri), Some(client_id), Some(client_secret)) = (
            refresh_token,
            config.token_uri.as_deref(),
            config.client_id.as_deref(),
            config.client_secret.as_ref(),
        ) else {
            return Err(Error::new(ErrorKind::Configuration, grant::MISSING_FIELDS));
        };
        let transport = config.transport.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::Configuration,
                "no transport to send the refresh through: give UserCredentials one with with_transport (credkit-reqwest's ReqwestTransport, for example)",
            )
        })?;
        let request = grant::refresh_request(&grant::RefreshGrant {
            token_uri,
            client_id,
            client_secret,
            refresh_token: &refresh_token,
            scopes,
            rapt_token: rapt_token.as_ref(),
        })?;
        tracing::debug!(
            client_id,
            scopes = scopes.len(),
            "sending the refresh-token grant"
        );
        let response = transport.send(request).await?;
        let now = config.clock.now();
        let token = oauth::read_token_response(&response, now)
            .map_err(|err| grant::reauth_needed(err, config.enable_reauth_refresh))?;
        grant::warn_on_scope_shortfall(scopes, token.granted_scopes());
        self.record(&token);
        Ok(token)
    }

    /// The refresh-handler path of spec 2.1: the handler's token, validated by
    /// [`RefreshHandlerSource`] (the spec's "already expired" text, with the lifetime-scaled
    /// threshold).
    async fn refresh_with_handler(&self, handler: Arc<dyn RefreshHandler>) -> Result<AccessToken> {
        let transport = self
            .config
            .transport
            .clone()
            .unwrap_or_else(|| Arc::new(NoTransport));
        let source = RefreshHandlerSource::builder(handler, transport)
            .with_scopes(self.request_scopes().iter().cloned())
            .with_clock(Arc::clone(&self.config.clock))
            .build()
            .map_err(|err| Error::new(ErrorKind::Configuration, err.to_string()))?;
        let token = source.fetch_token().await?;
        self.record(&token);
        Ok(token)
    }

    /// Updates the shared state from a fetched token, as the reference's `refresh` does.
    fn record(&self, token: &AccessToken) {
        let mut state = self.state();
        state.token = Some(token.secret().clone());
        state.expiry = token.expiry();
        if let Some(rotated) = token.rotated_refresh_token() {
            state.refresh_token = Some(rotated.clone());
        }
        state.id_token = token.id_token().cloned();
        if let Some(granted) = token.granted_scopes() {
            state.granted_scopes = Some(granted.to_vec());
        }
    }
}

#[async_trait]
impl TokenSource for UserCredentials {
    /// Runs the refresh-token grant.
    ///
    /// # Errors
    ///
    /// The universe-domain guard, the "necessary fields" guard (both before any request), a
    /// transport failure, the token endpoint's error (`"<error>: <error_description>"`, with the
    /// status and OAuth fields), "Reauthentication is needed..." for `invalid_rapt`, or an invalid
    /// response.
    async fn fetch_token(&self) -> Result<AccessToken> {
        if self.config.universe_domain != DEFAULT_UNIVERSE_DOMAIN {
            return Err(Error::new(
                ErrorKind::Configuration,
                grant::universe_error(&self.config.universe_domain),
            ));
        }
        let has_refresh_token = self.state().refresh_token.is_some();
        match &self.config.refresh_handler {
            Some(handler) if !has_refresh_token => {
                self.refresh_with_handler(Arc::clone(handler)).await
            }
            _ => self.refresh_grant().await,
        }
    }

    fn name(&self) -> &'static str {
        "authorized user (refresh token)"
    }
}

/// The transport a refresh handler gets when the credentials have none: every request fails
/// with a configuration error.
#[derive(Debug)]
struct NoTransport;

#[async_trait]
impl Transport for NoTransport {
    async fn send(
        &self,
        _request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>> {
        Err(Error::new(
            ErrorKind::Configuration,
            "the refresh handler tried to send a request, but the credentials have no transport: give UserCredentials one with with_transport",
        ))
    }
}

impl fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_fields("UserCredentials", &self.config, &self.state(), f)
    }
}

/// The one `Debug` rendering of the credentials and their builder: secrets show only whether
/// they are present.
fn fmt_fields(
    name: &str,
    config: &Config,
    state: &State,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    let redacted = |present: bool| present.then_some("[REDACTED]");
    f.debug_struct(name)
        .field("token", &redacted(state.token.is_some()))
        .field("expiry", &state.expiry)
        .field("refresh_token", &redacted(state.refresh_token.is_some()))
        .field("id_token", &redacted(state.id_token.is_some()))
        .field("token_uri", &config.token_uri)
        .field("client_id", &config.client_id)
        .field("client_secret", &redacted(config.client_secret.is_some()))
        .field("scopes", &config.scopes)
        .field("default_scopes", &config.default_scopes)
        .field("granted_scopes", &state.granted_scopes)
        .field("quota_project_id", &config.quota_project_id)
        .field("rapt_token", &redacted(state.rapt_token.is_some()))
        .field("refresh_handler", &config.refresh_handler)
        .field("enable_reauth_refresh", &config.enable_reauth_refresh)
        .field("universe_domain", &config.universe_domain)
        .field("account", &config.account)
        .finish_non_exhaustive()
}
