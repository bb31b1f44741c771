//! What the vault tells its observer.

use std::sync::Arc;

use credkit_core::RefreshEvent;

/// Something that happened to a user's credentials, for metrics, alerting and offboarding.
///
/// Given to the callback set with [`VaultBuilder::on_event`](crate::VaultBuilder::on_event).
/// No event carries a secret: users appear by their ID, tokens only as their expiry.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum VaultEvent {
    /// The user's grant was revoked or expired: a refresh was answered `invalid_grant`. The
    /// record is marked "consent needed" in the storage, so every process sharing it stops
    /// refreshing the user; reported once, by the process whose refresh was refused. Ask the
    /// user to consent again, then [`insert`](crate::Vault::insert) the new grant.
    #[non_exhaustive]
    ConsentNeeded {
        /// The user.
        user: Arc<str>,
    },
    /// Something happened to the user's cached token (refreshed, failed, storage failed...).
    #[non_exhaustive]
    Refresh {
        /// The user.
        user: Arc<str>,
        /// What happened.
        event: RefreshEvent,
    },
}

/// The observer callback.
pub(crate) type Observer = Arc<dyn Fn(&VaultEvent) + Send + Sync>;
