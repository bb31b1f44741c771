//! What the vault answers about users: never a token.

use credkit_core::{CredentialRecord, TokenState};
use time::OffsetDateTime;

use crate::meta::Meta;

/// A user's standing in the vault, read from the storage: for operators and dashboards. It
/// holds no token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserStatus {
    /// The user.
    pub user: String,
    /// Whether a grant is stored.
    pub stored: bool,
    /// Whether the stored grant holds a refresh token.
    pub has_refresh_token: bool,
    /// When the user consented, as recorded at insert.
    pub granted_at: Option<OffsetDateTime>,
    /// When a refresh was answered `invalid_grant` (the user must consent again); `None` while
    /// the grant works.
    pub consent_needed_at: Option<OffsetDateTime>,
    /// When the stored access token expires.
    pub token_expiry: Option<OffsetDateTime>,
    /// The stored access token's state now (`None`: no access token stored).
    pub token_state: Option<TokenState>,
    /// The scopes the stored access token was granted, when the server said.
    pub granted_scopes: Option<Vec<String>>,
    /// Whether this process holds the user's credentials in memory.
    pub cached: bool,
}

impl UserStatus {
    /// The status of `user` with `record` (if any), judged at `now`.
    pub(crate) fn new(
        user: &str,
        record: Option<&CredentialRecord>,
        now: OffsetDateTime,
        threshold: std::time::Duration,
        cached: bool,
    ) -> Self {
        let meta = record.map(Meta::read).unwrap_or_default();
        let token = record.and_then(CredentialRecord::access_token);
        Self {
            user: user.to_owned(),
            stored: record.is_some(),
            has_refresh_token: record.is_some_and(|r| r.refresh_token().is_some()),
            granted_at: meta.granted_at,
            consent_needed_at: meta.consent_needed_at,
            token_expiry: token.as_ref().and_then(credkit_core::AccessToken::expiry),
            token_state: token.as_ref().map(|t| t.state(now, threshold)),
            granted_scopes: token
                .as_ref()
                .and_then(|t| t.granted_scopes().map(<[String]>::to_vec)),
            cached,
        }
    }

    /// Whether the user must consent again before the vault refreshes for them.
    pub fn consent_needed(&self) -> bool {
        self.consent_needed_at.is_some()
    }
}

/// What [`Vault::insert`](crate::Vault::insert) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inserted {
    /// No grant was stored for the user.
    New,
    /// An older grant (or one marked "consent needed") was replaced.
    Replaced,
}

/// What [`Vault::remove`](crate::Vault::remove) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Removed {
    /// The refresh token was revoked, and the record deleted.
    Revoked,
    /// The token endpoint no longer knew the refresh token (revoked or expired already); the
    /// record was deleted.
    AlreadyInvalid,
    /// Nothing was stored for the user.
    NotStored,
}
