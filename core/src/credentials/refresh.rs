//! What one refresh does (load from storage on start, fetch, check, store), with no way back to
//! the cache: the flight that runs it is built in `inner.rs`, which depends on this file and not
//! the other way round.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use super::errors;
use super::events::{Observer, RefreshEvent};
use super::snapshot::{Rendering, Snapshot};
use crate::TokenState;
use crate::{
    AccessToken, Clock, CredentialRecord, Error, ErrorKind, Lease, LeaseOptions, Result, Spawner,
    Storage, TokenSource,
};

/// What a refresh resolves to, for every caller that waited on it.
pub(super) type Outcome = Result<Refreshed>;

/// A refresh in flight. Any clone may drive it; it runs once.
pub(super) type SharedRefresh = Shared<BoxFuture<'static, Outcome>>;

/// A refresh's new token and how it was obtained.
#[derive(Clone)]
pub(super) struct Refreshed {
    pub(super) snapshot: Arc<Snapshot>,
    pub(super) how: Obtained,
}

/// Why a refresh started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Trigger {
    /// The token is missing or expired: callers wait for this refresh.
    Invalid,
    /// The token is stale: callers keep it while this refresh runs ahead.
    Ahead,
    /// `Credentials::refresh` asked for a new token.
    Forced,
}

impl Trigger {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::Ahead => "ahead",
            Self::Forced => "forced",
        }
    }
}

/// Everything a refresh needs. Shared by the handle and every flight.
pub(super) struct Config {
    pub(super) source: Arc<dyn TokenSource>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) storage: Option<StorageSlot>,
    pub(super) spawner: Option<Arc<dyn Spawner>>,
    pub(super) observer: Option<Observer>,
    pub(super) rendering: Rendering,
    pub(super) min_retry_interval: Duration,
    pub(super) flight_deadline: Duration,
    pub(super) retries: Option<u32>,
    pub(super) lease_policy: LeasePolicy,
}

/// What a refresh does when the storage's lease cannot be had.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct LeasePolicy {
    /// Refresh without the lease when another holder kept it past the wait (default: fail with
    /// the storage's transient timeout).
    pub(super) refresh_on_timeout: bool,
    /// Fail when the lease cannot be had because the storage fails (default: refresh locally).
    pub(super) fail_closed: bool,
}

/// The storage, the key of our record, and the last record we know it holds.
pub(super) struct StorageSlot {
    pub(super) storage: Arc<dyn Storage>,
    pub(super) key: String,
    /// The record as last loaded or stored; `None` until known. New tokens are merged into it so
    /// a store never drops the provider's fields or the refresh token.
    pub(super) record: Mutex<Option<CredentialRecord>>,
    /// What a source handed over for storage that could not be stored yet (the record was out
    /// of reach): the next store carries it.
    pub(super) pending: Mutex<RecordUpdate>,
}

/// What a fetched token asks to be stored besides itself: a rotated refresh token, and the
/// provider's secrets (see [`AccessToken::with_provider_secret`]).
#[derive(Default)]
pub(super) struct RecordUpdate {
    refresh_token: Option<SecretString>,
    provider_secrets: Vec<(String, SecretString)>,
}

impl RecordUpdate {
    /// Takes what `token` carries for storage off it.
    fn take_from(token: &mut AccessToken) -> Self {
        Self {
            refresh_token: token.take_rotated_refresh_token(),
            provider_secrets: token.take_provider_secrets(),
        }
    }

    fn is_empty(&self) -> bool {
        self.refresh_token.is_none() && self.provider_secrets.is_empty()
    }

    /// This update with `newer` on top: where both set something, `newer`'s wins.
    fn then(mut self, newer: Self) -> Self {
        if newer.refresh_token.is_some() {
            self.refresh_token = newer.refresh_token;
        }
        self.provider_secrets.extend(newer.provider_secrets);
        self
    }

    /// `record` with this update written in (later secrets of one name over earlier ones).
    fn apply(&self, mut record: CredentialRecord) -> CredentialRecord {
        if let Some(refresh_token) = &self.refresh_token {
            record = record.with_refresh_token(refresh_token.clone());
        }
        for (name, secret) in &self.provider_secrets {
            record = record.with_provider_secret(name.clone(), secret.clone());
        }
        record
    }
}

/// What one refresh is to do.
pub(super) struct Plan {
    pub(super) trigger: Trigger,
    /// Try the stored token before fetching (the first refresh only).
    pub(super) check_storage: bool,
    /// When the flight's deadline passes.
    pub(super) deadline: OffsetDateTime,
    /// The token this process had (cached, or rejected and dropped): a stored token equal to
    /// it is no news.
    pub(super) known: Option<Arc<Snapshot>>,
    /// Set while the refresh holds the storage's lease.
    pub(super) holds_lease: Arc<AtomicBool>,
}

/// How a refresh got its token.
#[derive(Clone, Copy, Debug)]
pub(super) struct Obtained {
    pub(super) from_storage: bool,
    pub(super) rotated: bool,
}

impl Config {
    /// Tells the observer, if any. A panicking observer is caught and logged: it never reaches
    /// a caller.
    pub(super) fn emit(&self, event: &RefreshEvent) {
        if let Some(observer) = &self.observer
            && catch_unwind(AssertUnwindSafe(|| observer(event))).is_err()
        {
            quietly(|| {
                tracing::error!(
                    source = self.source.name(),
                    "the on_refresh observer panicked; the event was dropped"
                );
            });
        }
    }

    /// Gets a token: the stored one when `check_storage` and it is usable; else, under the
    /// storage's lease if it offers one, a token another process stored meanwhile or a fetched
    /// one, checked and stored (with any rotated refresh token) before it is returned.
    ///
    /// `known` is the token this process had (cached, or rejected and dropped): a stored token
    /// equal to it is no news, and `Forced` refreshes always fetch.
    pub(super) async fn obtain(&self, plan: &Plan) -> Result<Refreshed> {
        let Plan {
            trigger,
            check_storage,
            deadline,
            known,
            holds_lease,
        } = plan;
        let (trigger, check_storage, deadline) = (*trigger, *check_storage, *deadline);
        if check_storage && let Some(snapshot) = self.stored_token(trigger).await {
            return Ok(Refreshed {
                snapshot,
                how: Obtained {
                    from_storage: true,
                    rotated: false,
                },
            });
        }
        // Held until the end of this function; dropped (released) on any early return,
        // cancellation or panic.
        let lease = self.take_lease(deadline).await?;
        holds_lease.store(lease.is_some(), Ordering::Release);
        if lease.is_some()
            && trigger != Trigger::Forced
            && let Some(snapshot) = self.stored_under_lease(known.as_deref()).await
        {
            self.release(lease).await;
            holds_lease.store(false, Ordering::Release);
            return Ok(Refreshed {
                snapshot,
                how: Obtained {
                    from_storage: true,
                    rotated: false,
                },
            });
        }
        // The refresh token the record held before this fetch: after a lapse, a stored one
        // that differs is another holder's newer rotation.
        let before = lease.as_ref().and_then(|_| self.known_refresh_token());
        let mut fetched = self.fetch_and_store().await;
        if lease.as_ref().is_some_and(|lease| !lease.is_held())
            && let Some(snapshot) = self.stored_after_lapse(before.as_ref()).await
        {
            fetched = Ok(Refreshed {
                snapshot,
                how: Obtained {
                    from_storage: true,
                    rotated: false,
                },
            });
        }
        self.release(lease).await;
        holds_lease.store(false, Ordering::Release);
        fetched
    }

    /// The refresh token of the record as last known, if any.
    fn known_refresh_token(&self) -> Option<SecretString> {
        let slot = self.storage.as_ref()?;
        lock(&slot.record)
            .as_ref()
            .and_then(|record| record.refresh_token().cloned())
    }

    /// The lease lapsed during the refresh (the storage says so, as when it fenced our store
    /// off): another holder may have stored a newer rotation. If the stored refresh token is
    /// no longer `before` (the one the record held before this fetch), the stored record wins:
    /// any rotation of ours still pending is dropped, the record is adopted, and its token is
    /// returned if fresh. Otherwise (nobody stored a rotation, ours landed, or the record
    /// cannot be loaded) ours stands, pending if its store failed.
    async fn stored_after_lapse(&self, before: Option<&SecretString>) -> Option<Arc<Snapshot>> {
        let slot = self.storage.as_ref()?;
        // Ours: the record this refresh stored, or tried to.
        let ours = self.known_refresh_token();
        let record = self.load_reported(slot).await?;
        let same = |a: Option<&SecretString>, b: Option<&SecretString>| {
            a.map(ExposeSecret::expose_secret) == b.map(ExposeSecret::expose_secret)
        };
        if same(record.refresh_token(), before) || same(record.refresh_token(), ours.as_ref()) {
            return None;
        }
        drop(std::mem::take(&mut *lock(&slot.pending)));
        self.source.adopt_record(&record);
        let token = remember(slot, record)?;
        self.fresh_snapshot(token)
    }

    /// Fetches a token, checks it, and stores it with any rotated refresh token.
    async fn fetch_and_store(&self) -> Result<Refreshed> {
        let fetched = AssertUnwindSafe(self.source.fetch_token())
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(errors::source_panicked()));
        let mut token = fetched?;
        let update = RecordUpdate::take_from(&mut token);
        let how = Obtained {
            from_storage: false,
            rotated: update.refresh_token.is_some(),
        };
        let now = self.clock.now();
        if let Some(expiry) = token.expiry()
            && expiry <= now
        {
            // Never cache or store an expired token; but a rotation it came with is real, and
            // losing it would log the user out (and so are the provider's secrets).
            if !update.is_empty() {
                self.persist(None, update).await;
            }
            return Err(errors::expired_on_arrival(now - expiry));
        }
        let snapshot = Arc::new(Snapshot::new(token, &self.rendering)?);
        // Stored before anyone sees the token: a crash never loses a rotated refresh token.
        self.persist(Some(snapshot.token()), update).await;
        // A slow store can outlast a short-lived token: never hand out one already expired.
        if snapshot.state(self.clock.now()) == TokenState::Invalid {
            return Err(errors::expired_while_storing());
        }
        Ok(Refreshed { snapshot, how })
    }

    /// The storage's lease on our key, if it offers one; waits at most until `deadline`.
    async fn take_lease(&self, deadline: OffsetDateTime) -> Result<Option<Lease>> {
        let Some(slot) = self.storage.as_ref() else {
            return Ok(None);
        };
        // Half of what is left, so that a refresh without the lease (when the builder allows
        // it) still has time to finish within the deadline.
        let wait = Duration::try_from(deadline - self.clock.now()).unwrap_or(Duration::ZERO) / 2;
        let options = LeaseOptions::new(wait, Arc::clone(&self.clock));
        let taken = AssertUnwindSafe(slot.storage.lease(&slot.key, &options))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(errors::storage_panicked("taking the lease on")));
        let error = match taken {
            Ok(lease) => return Ok(lease),
            Err(error) => error,
        };
        let timed_out = error.kind() == ErrorKind::Timeout;
        let refresh_locally = if timed_out {
            self.lease_policy.refresh_on_timeout
        } else {
            !self.lease_policy.fail_closed
        };
        quietly(|| {
            tracing::warn!(
                source = self.source.name(),
                kind = %error.kind(),
                error = %error,
                refresh_locally,
                "the storage's refresh lease could not be taken"
            );
        });
        self.emit(&RefreshEvent::LeaseUnavailable {
            error: error.clone(),
            refreshed_locally: refresh_locally,
        });
        if refresh_locally {
            Ok(None)
        } else {
            Err(error)
        }
    }

    /// Releases `lease`, if any, reporting a failure (the lease then lapses by itself).
    async fn release(&self, lease: Option<Lease>) {
        if let Some(lease) = lease
            && let Err(error) = lease.release().await
        {
            self.storage_failed(error, "releasing the lease on");
        }
    }

    /// Under the lease: the record again (another process may have refreshed while this one
    /// waited), adopted by the source; its token if it is fresh and not the one this process
    /// already had.
    async fn stored_under_lease(&self, known: Option<&Snapshot>) -> Option<Arc<Snapshot>> {
        let slot = self.storage.as_ref()?;
        let record = self.load_reported(slot).await?;
        self.adopt(slot, &record);
        let token = remember(slot, record)?;
        if known.is_some_and(|known| known.is_token(&token)) {
            return None;
        }
        self.fresh_snapshot(token)
    }

    /// The record under our key, or `None` when there is none or loading failed (reported).
    async fn load_reported(&self, slot: &StorageSlot) -> Option<CredentialRecord> {
        match self.load(slot).await {
            Ok(record) => record,
            Err(error) => {
                self.storage_failed(error, "loading");
                None
            }
        }
    }

    /// `token` ready to cache, if it is fresh now.
    fn fresh_snapshot(&self, token: AccessToken) -> Option<Arc<Snapshot>> {
        if token.state(self.clock.now(), self.rendering.threshold) != TokenState::Fresh {
            return None;
        }
        Snapshot::new(token, &self.rendering).ok().map(Arc::new)
    }

    /// Hands a record read from storage to the source, unless this process holds a rotation
    /// the storage has not taken yet (the stored refresh token would then be the older one).
    /// A pending provider secret alone does not hold adoption back: missing another process's
    /// rotation would cost the refresh token, while the secret is still stored with the next
    /// store.
    fn adopt(&self, slot: &StorageSlot, record: &CredentialRecord) {
        if lock(&slot.pending).refresh_token.is_none() {
            self.source.adopt_record(record);
        }
    }

    /// Loads the record on start, remembers it, and returns its token if it is usable: fresh,
    /// or stale when the cache has nothing usable (refresh ahead then follows as usual).
    async fn stored_token(&self, trigger: Trigger) -> Option<Arc<Snapshot>> {
        let slot = self.storage.as_ref()?;
        let record = match self.load(slot).await {
            Ok(record) => record.unwrap_or_default(),
            Err(error) => {
                let replace = !error.is_transient();
                self.storage_failed(error, "loading");
                if replace {
                    // Unreadable for good (corrupt, or not a record): the next store replaces
                    // it rather than leaving every later rotation unstored.
                    *lock(&slot.record) = Some(CredentialRecord::new());
                }
                return None;
            }
        };
        self.adopt(slot, &record);
        let token = record.access_token();
        *lock(&slot.record) = Some(record);
        let token = token?;
        let state = token.state(self.clock.now(), self.rendering.threshold);
        let usable = state == TokenState::Fresh
            || (state == TokenState::Stale && trigger == Trigger::Invalid);
        if !usable {
            return None;
        }
        match Snapshot::new(token, &self.rendering) {
            Ok(snapshot) => Some(Arc::new(snapshot)),
            Err(error) => {
                self.storage_failed(error, "reading");
                None
            }
        }
    }

    /// Merges `token` (and what `update` carries: a rotated refresh token, the provider's
    /// secrets) into the known record and stores it in one call. Failures are reported, not
    /// returned (see [`RefreshEvent::StorageFailed`]).
    async fn persist(&self, token: Option<&AccessToken>, update: RecordUpdate) {
        let Some(slot) = self.storage.as_ref() else {
            return;
        };
        let update = std::mem::take(&mut *lock(&slot.pending)).then(update);
        let known = lock(&slot.record).clone();
        let base = match known {
            Some(record) => record,
            None => match self.load(slot).await {
                Ok(record) => record.unwrap_or_default(),
                Err(error) if error.is_transient() => {
                    // Storing blind now could drop the refresh token and provider fields of a
                    // record that is only out of reach; the next refresh tries again, with
                    // the update kept for it.
                    *lock(&slot.pending) = update;
                    self.storage_failed(error, "loading");
                    return;
                }
                Err(error) => {
                    // Unreadable for good: replaced by this store.
                    self.storage_failed(error, "loading");
                    CredentialRecord::new()
                }
            },
        };
        let record = match token {
            Some(token) => base.with_access_token(token),
            None => base,
        };
        let record = update.apply(record);
        let stored = AssertUnwindSafe(slot.storage.store(&slot.key, &record))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(errors::storage_panicked("storing")));
        // Remember it even if the store failed, and keep an unstored update pending: the next
        // store carries it, and no record read meanwhile displaces it.
        *lock(&slot.record) = Some(record);
        if let Err(error) = stored {
            *lock(&slot.pending) = update;
            self.storage_failed(error, "storing");
        }
    }

    async fn load(&self, slot: &StorageSlot) -> Result<Option<CredentialRecord>> {
        AssertUnwindSafe(slot.storage.load(&slot.key))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(errors::storage_panicked("loading")))
    }

    fn storage_failed(&self, error: Error, doing: &'static str) {
        quietly(|| {
            tracing::warn!(
                source = self.source.name(),
                kind = %error.kind(),
                error = %error,
                "{doing} the credential record failed"
            );
        });
        self.emit(&RefreshEvent::StorageFailed { error });
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("source", &self.source.name())
            .field("clock", &self.clock)
            .field(
                "storage_key",
                &self.storage.as_ref().map(|slot| slot.key.as_str()),
            )
            .field("spawner", &self.spawner.is_some())
            .field("observer", &self.observer.is_some())
            .field("threshold", &self.rendering.threshold)
            .field("quota_project", &self.rendering.quota_project)
            .field("min_retry_interval", &self.min_retry_interval)
            .field("flight_deadline", &self.flight_deadline)
            .field("retry_attempts", &self.retries)
            .field("lease_policy", &self.lease_policy)
            .finish()
    }
}

/// Remembers `record` as the one the storage holds; its access token, if any.
fn remember(slot: &StorageSlot, record: CredentialRecord) -> Option<AccessToken> {
    let token = record.access_token();
    *lock(&slot.record) = Some(record);
    token
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section here is a few assignments that cannot panic halfway, so a
    // poisoned lock still guards consistent data.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `report` (logging, an observer), swallowing a panic from it: a misbehaving tracing
/// subscriber must not fail the caller whose request it was reporting on.
pub(super) fn quietly(report: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(report));
}
