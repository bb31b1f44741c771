//! A user's grant, as the vault takes it in.

use std::fmt;

use credkit_core::{AccessToken, Error};
use credkit_refresh_token::UserCredentials;
use secrecy::SecretString;
use time::OffsetDateTime;

use crate::error;

/// What a user's consent gave: a refresh token, and the first access token if there is one.
/// [`Vault::insert`](crate::Vault::insert) stores it.
///
/// From an OAuth callback, build one from the token response; from `credkit login` or
/// credkit-login's flows, convert the `UserCredentials` they return.
///
/// ```
/// use credkit_vault::Grant;
///
/// let grant = Grant::new("1//refresh-token");
/// assert!(!format!("{grant:?}").contains("1//refresh-token"));
/// ```
#[derive(Clone)]
pub struct Grant {
    pub(crate) refresh_token: SecretString,
    pub(crate) access_token: Option<AccessToken>,
    pub(crate) granted_at: Option<OffsetDateTime>,
    pub(crate) replacing: bool,
}

impl Grant {
    /// A grant of `refresh_token`.
    pub fn new(refresh_token: impl Into<SecretString>) -> Self {
        Self {
            refresh_token: refresh_token.into(),
            access_token: None,
            granted_at: None,
            replacing: false,
        }
    }

    /// The access token issued with the refresh token (saves the first refresh).
    #[must_use]
    pub fn with_access_token(mut self, token: AccessToken) -> Self {
        self.access_token = Some(token);
        self
    }

    /// When the user consented (default: when it is inserted, on the vault's clock). An insert
    /// refuses to replace a grant stored with a later time, unless [`replacing`](Self::replacing).
    #[must_use]
    pub fn with_granted_at(mut self, at: OffsetDateTime) -> Self {
        self.granted_at = Some(at);
        self
    }

    /// Replace whatever is stored for the user, newer or not.
    #[must_use]
    pub fn replacing(mut self) -> Self {
        self.replacing = true;
        self
    }
}

impl TryFrom<&UserCredentials> for Grant {
    type Error = Error;

    /// The refresh token of `credentials` (what `credkit login` and credkit-login's flows
    /// return), with its access token if it has one.
    ///
    /// # Errors
    ///
    /// A [`Configuration`](credkit_core::ErrorKind::Configuration) error when it has no
    /// refresh token.
    fn try_from(credentials: &UserCredentials) -> Result<Self, Error> {
        let refresh_token = credentials
            .refresh_token()
            .ok_or_else(error::no_refresh_token)?;
        let mut grant = Self::new(refresh_token);
        if let Some(token) = credentials.token() {
            let mut token =
                AccessToken::from_secret(token).with_optional_expiry(credentials.expiry());
            if let Some(scopes) = credentials.granted_scopes() {
                token = token.with_granted_scopes(scopes);
            }
            grant = grant.with_access_token(token);
        }
        Ok(grant)
    }
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("access_token", &self.access_token.is_some())
            .field("granted_at", &self.granted_at)
            .field("replacing", &self.replacing)
            .finish_non_exhaustive()
    }
}
