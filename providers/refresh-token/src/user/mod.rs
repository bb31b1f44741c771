//! `UserCredentials`: refresh-token ("authorized user") credentials.

mod authorized_user;
mod builder;
mod grant;
mod record;
mod scopes;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use credkit_core::{Clock, Transport};
use credkit_refresh_handler::RefreshHandler;
use secrecy::SecretString;
use time::OffsetDateTime;

pub use builder::UserCredentialsBuilder;

use crate::reauth::ReauthSettings;

/// The universe domain user credentials can refresh in.
pub const DEFAULT_UNIVERSE_DOMAIN: &str = "googleapis.com";

/// Google's OAuth 2.0 token endpoint, which [`UserCredentials::from_authorized_user_info`] always
/// uses.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// Refresh-token credentials for a user: the Rust counterpart of the reference library's
/// `google.oauth2.credentials.Credentials`.
///
/// `UserCredentials` is configuration plus a [`TokenSource`](credkit_core::TokenSource): each
/// `fetch_token` runs the refresh grant (RFC 6749 section 6) against the token endpoint. It
/// caches nothing; turn it into the caching `Credentials` (lock-free hot path, single-flight
/// refresh, refresh ahead, retries) with `Credentials::new(creds)` or `Credentials::builder(creds)`,
/// which take its clock, quota project and token. The reference's state members (`valid`,
/// `expired`, `token`, `expiry`, `refresh`, `before_request`, `apply`) live there.
///
/// It is a cheap handle: clones share the state a refresh updates (the rotated refresh token, the
/// latest ID token and granted scopes), so the clone the caching layer holds and the one the
/// application keeps agree. [`to_builder`](Self::to_builder) and the `with_*` copies the
/// reference has make independent copies.
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
    quota_project: Option<String>,
    refresh_handler: Option<Arc<dyn RefreshHandler>>,
    enable_reauth_refresh: bool,
    reauth: ReauthSettings,
    trust_boundary: Option<serde_json::Value>,
    universe_domain: String,
    account: String,
    credential_source: Option<String>,
    transport: Option<Arc<dyn Transport>>,
    clock: Arc<dyn Clock>,
}

/// What a refresh updates.
#[derive(Clone)]
struct State {
    token: Option<SecretString>,
    expiry: Option<OffsetDateTime>,
    refresh_token: Option<SecretString>,
    id_token: Option<SecretString>,
    granted_scopes: Option<Vec<String>>,
    rapt_token: Option<SecretString>,
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

    /// The scopes set to be requested on refresh; see
    /// [`requested_scopes`](Self::requested_scopes) for what a refresh actually requests.
    pub fn scopes(&self) -> Option<&[String]> {
        self.config.scopes.as_deref()
    }

    /// The scopes requested when [`scopes`](Self::scopes) is not set.
    pub fn default_scopes(&self) -> Option<&[String]> {
        self.config.default_scopes.as_deref()
    }

    /// The project billed for API calls (the reference's `quota_project_id`).
    pub fn quota_project(&self) -> Option<&str> {
        self.config.quota_project.as_deref()
    }

    /// The refresh handler, used when there is no refresh token.
    pub fn refresh_handler(&self) -> Option<&dyn RefreshHandler> {
        self.config.refresh_handler.as_deref()
    }

    /// Whether an `invalid_rapt` refresh may run the reauthentication flow (when a caller
    /// waits for it: see [`credkit_core::interactive`]).
    pub fn enable_reauth_refresh(&self) -> bool {
        self.config.enable_reauth_refresh
    }

    /// The reauthentication API's base URL (`https://reauth.googleapis.com` unless set).
    pub fn reauth_uri(&self) -> &str {
        &self.config.reauth.uri
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

    /// Where the credential came from: the file's path (with how it was found) as Application
    /// Default Credentials discovery, or
    /// [`UserCredentialsBuilder::with_credential_source`], recorded it; `None` otherwise.
    ///
    /// ```
    /// use credkit_refresh_token::UserCredentials;
    ///
    /// let creds = UserCredentials::builder().with_credential_source("/etc/creds.json").build()?;
    /// assert_eq!(creds.credential_source(), Some("/etc/creds.json"));
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn credential_source(&self) -> Option<&str> {
        self.config.credential_source.as_deref()
    }

    /// Where the credential came from, as the reference's `get_cred_info()`: `None` unless a
    /// [`credential_source`](Self::credential_source) is recorded; otherwise
    /// `credential_source`, `credential_type` (`"user credentials"`) and, when the account is
    /// known, `principal`.
    pub fn cred_info(&self) -> Option<serde_json::Value> {
        let source = self.credential_source()?;
        let mut info = serde_json::Map::new();
        info.insert("credential_source".into(), source.into());
        info.insert("credential_type".into(), "user credentials".into());
        if !self.config.account.is_empty() {
            info.insert("principal".into(), self.config.account.clone().into());
        }
        Some(info.into())
    }

    /// A copy with changed state (the refresh token, the token...), the configuration shared.
    fn copy_with_state(&self, change: impl FnOnce(&mut State)) -> Self {
        let mut state = self.state().clone();
        change(&mut state);
        Self {
            config: Arc::clone(&self.config),
            state: Arc::new(Mutex::new(state)),
        }
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
        .field("quota_project", &config.quota_project)
        .field("rapt_token", &redacted(state.rapt_token.is_some()))
        .field("refresh_handler", &config.refresh_handler)
        .field("enable_reauth_refresh", &config.enable_reauth_refresh)
        .field("reauth", &config.reauth)
        .field("universe_domain", &config.universe_domain)
        .field("account", &config.account)
        .finish_non_exhaustive()
}
