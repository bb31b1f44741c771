//! `external_account_authorized_user` credentials (the reference's module of that name): a
//! workforce pool user's refresh token, refreshed at STS with the OAuth client authenticated by
//! HTTP basic, the refresh token's rotations kept as for `authorized_user` credentials.

mod info;
mod json;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use credkit_core::time::{Duration as TimeDuration, OffsetDateTime};
use credkit_core::{
    AccessToken, BuildError, Clock, CredentialRecord, Error, ErrorKind, REFRESH_THRESHOLD, Result,
    SystemClock, TokenSource, Transport,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

pub use info::{EXTERNAL_ACCOUNT_AUTHORIZED_USER, ExternalAccountAuthorizedUserInfo};

use crate::credentials::{DEFAULT_UNIVERSE_DOMAIN, check_url};
use crate::sts::{ClientAuth, StsClient};
use json::Field;

/// The reference's text when a refresh lacks a member (its grammar kept).
const MISSING_REFRESH_FIELDS: &str = "The credentials do not contain the necessary fields need to refresh the access token. You must specify refresh_token, token_url, client_id, and client_secret.";

/// The reference's text when the credentials can neither be used nor refreshed.
const NEITHER_VALID_NOR_REFRESHABLE: &str = "Token should be created with fields to make it valid (`token` and `expiry`), or fields to allow it to refresh (`refresh_token`, `token_url`, `client_id`, `client_secret`).";

/// The reference's `can_refresh`: all four present and, as Python tests them, not empty.
pub(crate) fn can_refresh(
    refresh_token: Option<&SecretString>,
    token_url: Option<&str>,
    client_id: Option<&str>,
    client_secret: Option<&SecretString>,
) -> bool {
    refresh_token.is_some_and(|t| !t.expose_secret().is_empty())
        && token_url.is_some_and(|u| !u.is_empty())
        && client_id.is_some_and(|c| !c.is_empty())
        && client_secret.is_some_and(|s| !s.expose_secret().is_empty())
}

/// Credentials of a workforce identity federation user, from an
/// `external_account_authorized_user` file: the reference's
/// `external_account_authorized_user.Credentials`.
///
/// Each [`fetch_token`](TokenSource::fetch_token) sends the refresh-token grant to STS
/// (`grant_type=refresh_token&refresh_token=...`, the client in `Authorization: Basic
/// base64(client_id:client_secret)`). The refresh token rotates as a user's does: a new one in
/// STS's answer replaces the old one here and is reported on the token
/// ([`AccessToken::rotated_refresh_token`]), so [`Credentials`](credkit_core::Credentials)
/// stores it (with a storage) before handing the token out; a record read from storage gives
/// its refresh token back ([`TokenSource::adopt_record`]). The file's `token` and `expiry` are
/// the [initial token](TokenSource::initial_token).
///
/// A [`TokenSource`]: wrap it in `Credentials` for caching, single flight, refresh ahead and
/// retries. Clones share one state (the refresh token, the latest access token).
///
/// # Examples
///
/// ```
/// use credkit_external_account::ExternalAccountAuthorizedUserInfo;
/// // Any `Transport`: `credkit_reqwest::ReqwestTransport` in a program; the test kit's
/// // in-memory token endpoint here.
/// let transport = credkit_testing::FakeTokenEndpoint::new();
///
/// let info = ExternalAccountAuthorizedUserInfo::from_json_str(r#"{
///   "type": "external_account_authorized_user",
///   "audience": "//iam.googleapis.com/locations/global/workforcePools/pool/providers/oidc",
///   "refresh_token": "refresh-token",
///   "token_url": "https://sts.googleapis.com/v1/oauth/token",
///   "client_id": "client-id",
///   "client_secret": "client-secret"
/// }"#)?;
/// let creds = info.builder().with_transport(transport).build()?;
/// assert!(creds.can_refresh());
/// assert!(!format!("{creds:?}").contains("refresh-token"));
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
#[derive(Clone)]
pub struct ExternalAccountAuthorizedUserCredentials {
    config: Arc<Config>,
    state: Arc<Mutex<State>>,
}

/// What does not change between refreshes.
struct Config {
    audience: Option<String>,
    token_url: Option<String>,
    token_info_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    revoke_url: Option<String>,
    scopes: Option<Vec<String>>,
    quota_project: Option<String>,
    universe_domain: String,
    trust_boundary: Option<Value>,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
}

/// What a refresh updates.
#[derive(Clone, Default)]
struct State {
    token: Option<SecretString>,
    expiry: Option<OffsetDateTime>,
    refresh_token: Option<SecretString>,
}

impl ExternalAccountAuthorizedUserCredentials {
    /// A builder; every member is optional, but [`build`](ExternalAccountAuthorizedUserCredentialsBuilder::build)
    /// wants a transport, and a valid token or the four members a refresh needs.
    pub fn builder() -> ExternalAccountAuthorizedUserCredentialsBuilder {
        ExternalAccountAuthorizedUserCredentialsBuilder {
            audience: None,
            refresh_token: None,
            token_url: None,
            token_info_url: None,
            client_id: None,
            client_secret: None,
            revoke_url: None,
            scopes: None,
            quota_project: None,
            universe_domain: None,
            token: None,
            expiry: None,
            trust_boundary: None,
            transport: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// A builder holding what `info` read (the reference's `from_info`).
    pub fn from_info(
        info: &ExternalAccountAuthorizedUserInfo,
    ) -> ExternalAccountAuthorizedUserCredentialsBuilder {
        let mut builder = Self::builder();
        builder.audience.clone_from(&info.audience);
        builder.refresh_token.clone_from(&info.refresh_token);
        builder.token_url.clone_from(&info.token_url);
        builder.token_info_url.clone_from(&info.token_info_url);
        builder.client_id.clone_from(&info.client_id);
        builder.client_secret.clone_from(&info.client_secret);
        builder.revoke_url.clone_from(&info.revoke_url);
        builder.scopes.clone_from(&info.scopes);
        builder.quota_project.clone_from(&info.quota_project);
        builder.universe_domain.clone_from(&info.universe_domain);
        builder.token.clone_from(&info.token);
        builder.expiry = info.expiry;
        builder.trust_boundary.clone_from(&info.trust_boundary);
        builder
    }

    /// A builder holding these credentials' configuration and current state (the latest
    /// token, the current refresh token): the reference's `with_quota_project`,
    /// `with_token_uri` and `with_universe_domain` copies are this, one setter, and `build`.
    pub fn to_builder(&self) -> ExternalAccountAuthorizedUserCredentialsBuilder {
        let state = self.state().clone();
        let config = &self.config;
        ExternalAccountAuthorizedUserCredentialsBuilder {
            audience: config.audience.clone(),
            refresh_token: state.refresh_token,
            token_url: config.token_url.clone(),
            token_info_url: config.token_info_url.clone(),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            revoke_url: config.revoke_url.clone(),
            scopes: config.scopes.clone(),
            quota_project: config.quota_project.clone(),
            universe_domain: Some(config.universe_domain.clone()),
            token: state.token,
            expiry: state.expiry,
            trust_boundary: config.trust_boundary.clone(),
            transport: Some(Arc::clone(&config.transport)),
            clock: Arc::clone(&config.clock),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update is a few plain assignments: a poisoned lock still holds consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The STS audience (the workforce pool provider).
    pub fn audience(&self) -> Option<&str> {
        self.config.audience.as_deref()
    }

    /// The STS endpoint refreshes go to.
    pub fn token_url(&self) -> Option<&str> {
        self.config.token_url.as_deref()
    }

    /// The STS introspection endpoint (kept, never called).
    pub fn token_info_url(&self) -> Option<&str> {
        self.config.token_info_url.as_deref()
    }

    /// The STS revocation endpoint (kept, never called).
    pub fn revoke_url(&self) -> Option<&str> {
        self.config.revoke_url.as_deref()
    }

    /// The OAuth client ID.
    pub fn client_id(&self) -> Option<&str> {
        self.config.client_id.as_deref()
    }

    /// The OAuth client secret.
    pub fn client_secret(&self) -> Option<&SecretString> {
        self.config.client_secret.as_ref()
    }

    /// The scopes (read-only: the refresh grant sends none, as the reference).
    pub fn scopes(&self) -> Option<&[String]> {
        self.config.scopes.as_deref()
    }

    /// The quota project (`quota_project_id`).
    pub fn quota_project(&self) -> Option<&str> {
        self.config.quota_project.as_deref()
    }

    /// The universe domain (`googleapis.com` unless set).
    pub fn universe_domain(&self) -> &str {
        &self.config.universe_domain
    }

    /// The refresh token: the configured one, or the one STS (or a stored record) rotated in.
    pub fn refresh_token(&self) -> Option<SecretString> {
        self.state().refresh_token.clone()
    }

    /// The latest access token: the starting one, or the last refresh's.
    pub fn token(&self) -> Option<SecretString> {
        self.state().token.clone()
    }

    /// When [`token`](Self::token) expires; `None` means never.
    pub fn expiry(&self) -> Option<OffsetDateTime> {
        self.state().expiry
    }

    /// The reference's `can_refresh`: `refresh_token`, `token_url`, `client_id` and
    /// `client_secret` all present and not empty.
    pub fn can_refresh(&self) -> bool {
        can_refresh(
            self.state().refresh_token.as_ref(),
            self.config.token_url.as_deref(),
            self.config.client_id.as_deref(),
            self.config.client_secret.as_ref(),
        )
    }

    /// Always `true`: these credentials are a user's.
    pub fn is_user(&self) -> bool {
        true
    }

    /// The credentials as their file, as the reference's `to_json(strip)`: its `info` members
    /// in its order (`audience`, `refresh_token` (the current one), `token_url`,
    /// `token_info_url`, `client_id`, `client_secret`, `token`, `expiry`, `revoke_url`,
    /// `scopes`, `quota_project_id`, `universe_domain`, `trust_boundary`, then `type`), absent
    /// ones left out, every key in `strip` removed, written as Python's `json.dumps`.
    ///
    /// It holds secrets, as the file does, so it comes in a buffer zeroized on drop.
    ///
    /// ```
    /// use credkit_external_account::ExternalAccountAuthorizedUserCredentials;
    /// use credkit_testing::FakeTokenEndpoint;
    ///
    /// let creds = ExternalAccountAuthorizedUserCredentials::builder()
    ///     .with_refresh_token("rt")
    ///     .with_token_url("https://sts.googleapis.com/v1/oauth/token")
    ///     .with_client_id("id")
    ///     .with_client_secret("secret")
    ///     .with_transport(FakeTokenEndpoint::new())
    ///     .build()?;
    /// assert_eq!(
    ///     creds.to_json(&["client_secret"]).as_str(),
    ///     r#"{"refresh_token": "rt", "token_url": "https://sts.googleapis.com/v1/oauth/token", "client_id": "id", "universe_domain": "googleapis.com", "type": "external_account_authorized_user"}"#
    /// );
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn to_json(&self, strip: &[&str]) -> Zeroizing<String> {
        fn secret(s: &SecretString) -> Field<'_> {
            Field::Text(s.expose_secret())
        }
        let state = self.state().clone();
        let config = &self.config;
        let expiry = state.expiry.map(info::format_expiry);
        let entries: [(&str, Option<Field<'_>>); 14] = [
            ("audience", config.audience.as_deref().map(Field::Text)),
            ("refresh_token", state.refresh_token.as_ref().map(secret)),
            ("token_url", config.token_url.as_deref().map(Field::Text)),
            (
                "token_info_url",
                config.token_info_url.as_deref().map(Field::Text),
            ),
            ("client_id", config.client_id.as_deref().map(Field::Text)),
            ("client_secret", config.client_secret.as_ref().map(secret)),
            ("token", state.token.as_ref().map(secret)),
            ("expiry", expiry.as_deref().map(Field::Text)),
            ("revoke_url", config.revoke_url.as_deref().map(Field::Text)),
            ("scopes", config.scopes.as_deref().map(Field::List)),
            (
                "quota_project_id",
                config.quota_project.as_deref().map(Field::Text),
            ),
            (
                "universe_domain",
                Some(Field::Text(config.universe_domain.as_str())),
            ),
            (
                "trust_boundary",
                config.trust_boundary.as_ref().map(Field::Json),
            ),
            ("type", Some(Field::Text(EXTERNAL_ACCOUNT_AUTHORIZED_USER))),
        ];
        let kept: Vec<(&str, Field<'_>)> = entries
            .into_iter()
            .filter(|(key, _)| !strip.contains(key))
            .filter_map(|(key, value)| value.map(|v| (key, v)))
            .collect();
        json::python_object(&kept)
    }

    /// The state as a [`CredentialRecord`] for a [`Storage`](credkit_core::Storage): the
    /// latest access token with its expiry, the refresh token, and the non-secret
    /// configuration (`audience`, `token_url`, `client_id`, `quota_project_id`,
    /// `universe_domain`) as provider fields. The client secret is not written: it stays in
    /// the file. `Credentials` writes such records itself after every refresh when given a
    /// storage; this is for seeding one.
    pub fn to_record(&self) -> CredentialRecord {
        let state = self.state().clone();
        let mut fields = Map::new();
        let mut put = |key: &str, value: Option<&str>| {
            if let Some(value) = value {
                fields.insert(key.to_owned(), Value::from(value));
            }
        };
        put("audience", self.audience());
        put("token_url", self.token_url());
        put("client_id", self.client_id());
        put("quota_project_id", self.quota_project());
        put("universe_domain", Some(self.universe_domain()));
        let mut record = CredentialRecord::new().with_provider_fields(fields);
        if let Some(token) = state.token {
            record = record.with_access_token(
                &AccessToken::from_secret(token).with_optional_expiry(state.expiry),
            );
        }
        if let Some(refresh_token) = state.refresh_token {
            record = record.with_refresh_token(refresh_token);
        }
        record
    }

    /// A copy that resumes from a stored record: its refresh token (a rotation survives a
    /// restart this way), access token and expiry replace the current ones where present. The
    /// configuration stays this copy's own.
    #[must_use]
    pub fn with_record(&self, record: &CredentialRecord) -> Self {
        let mut state = self.state().clone();
        if let Some(refresh_token) = record.refresh_token() {
            state.refresh_token = Some(refresh_token.clone());
        }
        if let Some(token) = record.access_token() {
            state.token = Some(token.secret().clone());
            state.expiry = token.expiry();
        }
        Self {
            config: Arc::clone(&self.config),
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// The STS client of one refresh, or the reference's error when a member is missing.
    fn client(&self, refresh_token: Option<&SecretString>) -> Result<StsClient> {
        let config = &self.config;
        let (Some(token_url), Some(client_id), Some(client_secret)) = (
            config.token_url.as_ref(),
            config.client_id.as_ref(),
            config.client_secret.as_ref(),
        ) else {
            return Err(missing_refresh_fields());
        };
        if !can_refresh(
            refresh_token,
            Some(token_url),
            Some(client_id),
            Some(client_secret),
        ) {
            return Err(missing_refresh_fields());
        }
        Ok(StsClient {
            token_url: token_url.clone(),
            client_auth: Some(ClientAuth {
                client_id: client_id.clone(),
                client_secret: Some(client_secret.clone()),
            }),
            transport: Arc::clone(&config.transport),
            clock: Arc::clone(&config.clock),
        })
    }
}

fn missing_refresh_fields() -> Error {
    Error::new(ErrorKind::Configuration, MISSING_REFRESH_FIELDS).with_transient(false)
}

#[async_trait]
impl TokenSource for ExternalAccountAuthorizedUserCredentials {
    /// The refresh-token grant at STS (see the type's docs).
    ///
    /// # Errors
    ///
    /// The reference's "necessary fields" error (before any request) when `refresh_token`,
    /// `token_url`, `client_id` or `client_secret` is missing or empty; a transport failure;
    /// STS's error (`"<error>: <error_description>"`, with the status and the OAuth fields;
    /// `invalid_grant` is permanent); an invalid response. A failure leaves the refresh token
    /// as it was.
    async fn fetch_token(&self) -> Result<AccessToken> {
        let refresh_token = self.state().refresh_token.clone();
        let client = self.client(refresh_token.as_ref())?;
        let Some(refresh_token) = refresh_token else {
            return Err(missing_refresh_fields());
        };
        let token = client.refresh(&refresh_token).await?;
        {
            let mut state = self.state();
            state.token = Some(token.secret().clone());
            state.expiry = token.expiry();
            if let Some(rotated) = token.rotated_refresh_token() {
                state.refresh_token = Some(rotated.clone());
            }
        }
        // The project travels with the token, so a chain bills to the member that supplied it.
        Ok(match self.quota_project().filter(|p| !p.is_empty()) {
            Some(project) => token.with_quota_project(project),
            None => token,
        })
    }

    fn name(&self) -> &'static str {
        EXTERNAL_ACCOUNT_AUTHORIZED_USER
    }

    /// The file's `token` (and `expiry`), or the last refresh's, with the quota project.
    fn initial_token(&self) -> Option<AccessToken> {
        let (token, expiry) = {
            let state = self.state();
            (state.token.clone()?, state.expiry)
        };
        let token = AccessToken::from_secret(token).with_optional_expiry(expiry);
        Some(match self.quota_project().filter(|p| !p.is_empty()) {
            Some(project) => token.with_quota_project(project),
            None => token,
        })
    }

    /// Takes the stored refresh token, so the next refresh sends the one the last holder
    /// stored (another process may have rotated it since).
    fn adopt_record(&self, record: &CredentialRecord) {
        if let Some(refresh_token) = record.refresh_token() {
            self.state().refresh_token = Some(refresh_token.clone());
        }
    }

    fn clock(&self) -> Option<Arc<dyn Clock>> {
        Some(Arc::clone(&self.config.clock))
    }

    /// The quota project; an empty one sends no `x-goog-user-project` at all.
    fn quota_project(&self) -> Option<&str> {
        self.config
            .quota_project
            .as_deref()
            .filter(|p| !p.is_empty())
    }
}

impl fmt::Debug for ExternalAccountAuthorizedUserCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        let redacted = |present: bool| present.then_some("[REDACTED]");
        f.debug_struct("ExternalAccountAuthorizedUserCredentials")
            .field("audience", &self.config.audience)
            .field("token_url", &self.config.token_url)
            .field("client_id", &self.config.client_id)
            .field(
                "client_secret",
                &redacted(self.config.client_secret.is_some()),
            )
            .field("refresh_token", &redacted(state.refresh_token.is_some()))
            .field("token", &redacted(state.token.is_some()))
            .field("expiry", &state.expiry)
            .field("scopes", &self.config.scopes)
            .field("quota_project", &self.config.quota_project)
            .field("universe_domain", &self.config.universe_domain)
            .finish_non_exhaustive()
    }
}

/// A builder of [`ExternalAccountAuthorizedUserCredentials`].
#[must_use]
pub struct ExternalAccountAuthorizedUserCredentialsBuilder {
    audience: Option<String>,
    refresh_token: Option<SecretString>,
    token_url: Option<String>,
    token_info_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    revoke_url: Option<String>,
    scopes: Option<Vec<String>>,
    quota_project: Option<String>,
    universe_domain: Option<String>,
    token: Option<SecretString>,
    expiry: Option<OffsetDateTime>,
    trust_boundary: Option<Value>,
    transport: Option<Arc<dyn Transport>>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for ExternalAccountAuthorizedUserCredentialsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |present: bool| present.then_some("[REDACTED]");
        f.debug_struct("ExternalAccountAuthorizedUserCredentialsBuilder")
            .field("audience", &self.audience)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &redacted(self.client_secret.is_some()))
            .field("refresh_token", &redacted(self.refresh_token.is_some()))
            .field("token", &redacted(self.token.is_some()))
            .field("expiry", &self.expiry)
            .finish_non_exhaustive()
    }
}

impl ExternalAccountAuthorizedUserCredentialsBuilder {
    /// The STS audience: the workforce pool provider,
    /// `//iam.googleapis.com/locations/global/workforcePools/POOL/providers/PROVIDER`.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The refresh token.
    pub fn with_refresh_token(mut self, refresh_token: impl Into<SecretString>) -> Self {
        self.refresh_token = Some(refresh_token.into());
        self
    }

    /// The STS endpoint refreshes go to (the file's `token_url`, such as
    /// `https://sts.googleapis.com/v1/oauth/token`; the reference's `with_token_uri`).
    pub fn with_token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// The STS introspection endpoint (kept, never called).
    pub fn with_token_info_url(mut self, url: impl Into<String>) -> Self {
        self.token_info_url = Some(url.into());
        self
    }

    /// The STS revocation endpoint (kept, never called).
    pub fn with_revoke_url(mut self, url: impl Into<String>) -> Self {
        self.revoke_url = Some(url.into());
        self
    }

    /// The OAuth client ID, sent in the `Authorization: Basic` header.
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The OAuth client secret, sent in the `Authorization: Basic` header.
    pub fn with_client_secret(mut self, client_secret: impl Into<SecretString>) -> Self {
        self.client_secret = Some(client_secret.into());
        self
    }

    /// The scopes (kept and written back; the refresh grant sends none).
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The project billed for the requests the credentials authorize (`x-goog-user-project`).
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        self.quota_project = Some(project.into());
        self
    }

    /// The universe domain; `googleapis.com` unless set (an empty one too, as the reference).
    pub fn with_universe_domain(mut self, domain: impl Into<String>) -> Self {
        self.universe_domain = Some(domain.into());
        self
    }

    /// An access token already held (the file's `token`), served until it goes stale.
    pub fn with_token(mut self, token: impl Into<SecretString>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// When that token expires (the file's `expiry`); without one it never does.
    pub fn with_expiry(mut self, expiry: OffsetDateTime) -> Self {
        self.expiry = Some(expiry);
        self
    }

    /// The transport refreshes go through.
    pub fn with_transport(mut self, transport: impl Transport + 'static) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// The clock token lifetimes are counted by (and the validity of the initial token judged
    /// by); the same one goes to the `Credentials` wrapping these.
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The credentials.
    ///
    /// # Errors
    ///
    /// No transport; a `token_url` that is not an absolute URL; and, as the reference's
    /// constructor, credentials neither valid now (a `token` not expired, by the builder's
    /// clock, with the reference's 3 min 45 s margin) nor refreshable ("Token should be
    /// created with fields to make it valid (`token` and `expiry`), or fields to allow it to
    /// refresh (`refresh_token`, `token_url`, `client_id`, `client_secret`).").
    pub fn build(
        self,
    ) -> std::result::Result<ExternalAccountAuthorizedUserCredentials, BuildError> {
        let transport = self.transport.ok_or_else(|| {
            BuildError::missing_field("transport (give the builder one with with_transport)")
        })?;
        let token_url = match self.token_url {
            Some(url) if !url.is_empty() => Some(check_url(&url, "token_url")?),
            other => other,
        };
        let valid = self.token.is_some()
            && self.expiry.is_none_or(|expiry| {
                self.clock.now()
                    < expiry - TimeDuration::try_from(REFRESH_THRESHOLD).unwrap_or_default()
            });
        let refreshable = can_refresh(
            self.refresh_token.as_ref(),
            token_url.as_deref(),
            self.client_id.as_deref(),
            self.client_secret.as_ref(),
        );
        if !valid && !refreshable {
            return Err(BuildError::missing_fields(NEITHER_VALID_NOR_REFRESHABLE));
        }
        Ok(ExternalAccountAuthorizedUserCredentials {
            config: Arc::new(Config {
                audience: self.audience,
                token_url,
                token_info_url: self.token_info_url,
                client_id: self.client_id,
                client_secret: self.client_secret,
                revoke_url: self.revoke_url,
                scopes: self.scopes,
                quota_project: self.quota_project,
                universe_domain: self
                    .universe_domain
                    .filter(|d| !d.is_empty())
                    .unwrap_or_else(|| DEFAULT_UNIVERSE_DOMAIN.to_owned()),
                trust_boundary: self.trust_boundary,
                transport,
                clock: self.clock,
            }),
            state: Arc::new(Mutex::new(State {
                token: self.token,
                expiry: self.expiry,
                refresh_token: self.refresh_token,
            })),
        })
    }
}
