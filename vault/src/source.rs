//! One user's token source: the refresh-token grant of the user's stored refresh token, which
//! stops at the first `invalid_grant` and says so in the storage, for every process.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{AccessToken, CredentialRecord, LeaseOptions, Result, TokenSource};
use credkit_refresh_token::UserCredentials;
use secrecy::{ExposeSecret, SecretString};

use crate::error;
use crate::events::VaultEvent;
use crate::meta::Meta;
use crate::vault::Shared;

/// What every copy of a user's credentials in this process knows of the grant.
#[derive(Debug, Default)]
pub(crate) struct UserState {
    /// The grant was refused (`invalid_grant`), here or in the stored record.
    consent_needed: AtomicBool,
    /// Until when (Unix seconds, on the vault's clock) a call for a user whose consent is
    /// needed is refused without reading the storage.
    recheck_at: AtomicI64,
}

impl UserState {
    pub(crate) fn new(consent_needed: bool) -> Self {
        Self {
            consent_needed: AtomicBool::new(consent_needed),
            recheck_at: AtomicI64::new(0),
        }
    }

    /// Whether the user's consent is needed, as far as this process knows.
    pub(crate) fn consent_needed(&self) -> bool {
        self.consent_needed.load(Ordering::Acquire)
    }

    /// Marks the grant refused at `now` (Unix seconds): calls are refused without a look at
    /// the storage for `interval`. True if it was not known already.
    fn refused(&self, now: i64, interval: Duration) -> bool {
        let next = now.saturating_add(i64::try_from(interval.as_secs()).unwrap_or(i64::MAX));
        self.recheck_at.fetch_max(next, Ordering::AcqRel);
        !self.consent_needed.swap(true, Ordering::AcqRel)
    }

    fn set(&self, consent_needed: bool) {
        self.consent_needed.store(consent_needed, Ordering::Release);
    }

    /// Whether a call at `now` (Unix seconds) is refused without a look at the storage; the
    /// first call after the interval is let through (and sets the next one).
    pub(crate) fn refuse_without_looking(&self, now: i64, interval: Duration) -> bool {
        let due = self.recheck_at.load(Ordering::Acquire);
        if now < due {
            return true;
        }
        let next = now.saturating_add(i64::try_from(interval.as_secs()).unwrap_or(i64::MAX));
        // One caller wins the look; the others are refused until it is done.
        self.recheck_at
            .compare_exchange(due, next, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
    }
}

/// A user's source: the user's `UserCredentials` (built from the vault's client and the stored
/// record) behind the consent check.
pub(crate) struct UserSource {
    pub(crate) user: Arc<str>,
    pub(crate) key: String,
    pub(crate) credentials: UserCredentials,
    pub(crate) state: Arc<UserState>,
    pub(crate) shared: Arc<Shared>,
}

#[async_trait]
impl TokenSource for UserSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        if self.state.consent_needed() {
            return Err(error::consent_needed(&self.user));
        }
        let presented = self.credentials.refresh_token();
        match self.credentials.fetch_token().await {
            Err(err) if err.oauth_error() == Some("invalid_grant") => {
                self.refused(presented.as_ref()).await;
                Err(error::consent_needed(&self.user))
            }
            fetched => fetched,
        }
    }

    fn name(&self) -> &'static str {
        "vault user (refresh token)"
    }

    fn adopt_record(&self, record: &CredentialRecord) {
        self.credentials.adopt_record(record);
        self.state
            .set(Meta::read(record).consent_needed_at.is_some());
    }

    fn quota_project(&self) -> Option<&str> {
        self.credentials.quota_project().filter(|p| !p.is_empty())
    }
}

impl UserSource {
    /// The token endpoint refused `presented`: the record is marked "consent needed" (if it
    /// still holds that refresh token: a new grant inserted meanwhile is not touched), and the
    /// observer told, once.
    async fn refused(&self, presented: Option<&SecretString>) {
        let now = self.shared.clock.now().unix_timestamp();
        let first = self.state.refused(now, self.shared.consent_recheck);
        let marked = self.mark(presented).await;
        if first && marked {
            tracing::warn!(
                user = %self.user,
                "a refresh was answered invalid_grant: the user must consent again; no refresh is attempted until a new grant is inserted"
            );
            self.shared.emit(&VaultEvent::ConsentNeeded {
                user: Arc::clone(&self.user),
            });
        }
    }

    /// Marks the stored record; false if it was marked already, holds another grant, or could
    /// not be marked (reported).
    async fn mark(&self, presented: Option<&SecretString>) -> bool {
        let storage = &self.shared.storage;
        // Normally this refresh holds the user's lease already: the storage then hands it out
        // again to nobody, and this wait ends at once for stores without reentrant leases
        // (they refuse: marking goes ahead without it, as the refresh itself did).
        let options = LeaseOptions::new(Duration::ZERO, Arc::clone(&self.shared.clock));
        let lease = error::guarded("leasing", storage.lease(&self.key, &options))
            .await
            .ok()
            .flatten();
        let outcome = error::guarded("marking", async {
            let Some(record) = storage.load(&self.key).await? else {
                return Ok(false);
            };
            let mut meta = Meta::read(&record);
            let same = match (record.refresh_token(), presented) {
                (Some(stored), Some(presented)) => {
                    stored.expose_secret() == presented.expose_secret()
                }
                _ => false,
            };
            if !same {
                // A new grant was inserted meanwhile: it is the one to use.
                self.state.set(meta.consent_needed_at.is_some());
                self.credentials.adopt_record(&record);
                return Ok(false);
            }
            if meta.consent_needed_at.is_some() {
                return Ok(false);
            }
            meta.consent_needed_at = Some(self.shared.clock.now());
            storage.store(&self.key, &meta.write(record)).await?;
            Ok::<bool, credkit_core::Error>(true)
        })
        .await;
        if let Some(lease) = lease {
            let _ = lease.release().await;
        }
        outcome.unwrap_or_else(|err| {
            tracing::warn!(
                user = %self.user,
                error = %err,
                "the record could not be marked \"consent needed\"; other processes will find out at their next refresh"
            );
            true
        })
    }
}

impl std::fmt::Debug for UserSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSource")
            .field("user", &self.user)
            .field("consent_needed", &self.state.consent_needed())
            .finish_non_exhaustive()
    }
}
