//! What one refresh does: the stored token on start, then under the storage's lease a token
//! another process stored meanwhile, or a grant whose answer is kept and stored. It knows
//! nothing of the cache or of who drives it: the flight that runs it is in `flight.rs`.
//!
//! **Once a grant is sent, its answer is never thrown away.** The refresh marks the span from
//! the call to the source until the answer is in hand ([`Marks::granting`]); the flight is not
//! dropped inside it, by a deadline or a caller that goes (see `flight.rs`). The answer's
//! record update goes into the [`StorageSlot`] at once and leaves it only when a store confirms
//! it, so what comes after (checking, storing) may be cancelled without loss. While a rotation
//! waits for a store, the lease is kept: another process that took it would load the record
//! without the rotation and present a refresh token the endpoint has rotated away.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use time::OffsetDateTime;

use super::errors;
use super::events::{Observer, RefreshEvent};
use super::lease_policy::{LeasePolicy, WithoutLease};
use super::marks::Marks;
use super::quietly;
use super::rules::{self, Facts, Moment, Pending};
use super::slot::{RecordUpdate, StorageSlot};
use super::snapshot::{Rendering, Snapshot};
use crate::{
    AccessToken, Clock, CredentialRecord, Error, ErrorKind, Lease, LeaseOptions, Result,
    TokenSource, TokenState,
};

/// A refresh's new token and how it was obtained.
#[derive(Clone)]
pub(super) struct Refreshed {
    pub(super) snapshot: Arc<Snapshot>,
    pub(super) how: Obtained,
}

/// How a refresh got its token.
#[derive(Clone, Copy, Debug)]
pub(super) struct Obtained {
    pub(super) from_storage: bool,
    pub(super) rotated: bool,
}

impl Refreshed {
    fn stored(snapshot: Arc<Snapshot>) -> Self {
        Self {
            snapshot,
            how: Obtained {
                from_storage: true,
                rotated: false,
            },
        }
    }
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

/// What one refresh is to do.
pub(super) struct Plan {
    pub(super) trigger: Trigger,
    /// Try the stored token before anything else (the first refresh only).
    pub(super) check_storage: bool,
    /// When the flight's deadline passes: the lease is waited for at most half of what is left.
    pub(super) deadline: OffsetDateTime,
    /// The token this process had (cached, or rejected and dropped): a stored token equal to
    /// it is no news.
    pub(super) known: Option<Arc<Snapshot>>,
}

/// Everything a refresh needs. Shared by the handle and every flight.
pub(super) struct Refresher {
    pub(super) source: Arc<dyn TokenSource>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) storage: Option<StorageSlot>,
    pub(super) observer: Option<Observer>,
    pub(super) rendering: Rendering,
    pub(super) lease_policy: LeasePolicy,
}

/// The lease a refresh holds. Dropped (a cancelled refresh) or [finished](Self::finish), it is
/// kept in the slot while a rotation is pending, and released otherwise.
struct Held<'a> {
    slot: Option<&'a StorageSlot>,
    lease: Option<Lease>,
}

impl Held<'_> {
    fn lapsed(&self) -> bool {
        self.lease.as_ref().is_some_and(|lease| !lease.is_held())
    }

    /// Keeps the lease if a rotation is pending; else releases it, reporting a failure.
    async fn finish(mut self, refresher: &Refresher) {
        let (Some(slot), Some(lease)) = (self.slot, self.lease.take()) else {
            return;
        };
        if slot.rotation_pending() && lease.is_held() {
            slot.keep_lease(lease);
        } else if let Err(error) = lease.release().await {
            refresher.storage_failed(error, "releasing the lease on");
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let (Some(slot), Some(lease)) = (self.slot, self.lease.take())
            && slot.rotation_pending()
        {
            slot.keep_lease(lease);
        }
        // Otherwise dropped here: released.
    }
}

impl Refresher {
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

    /// Gets a token (see the module docs).
    pub(super) async fn obtain(&self, plan: &Plan, marks: &Marks) -> Result<Refreshed> {
        if plan.check_storage
            && let Some(snapshot) = self.on_start(plan.trigger == Trigger::Invalid).await
        {
            return Ok(Refreshed::stored(snapshot));
        }
        let held = Held {
            slot: self.storage.as_ref(),
            lease: self.take_lease(plan.deadline).await?,
        };
        if held.lease.is_some() {
            let forced = plan.trigger == Trigger::Forced;
            if let Some(snapshot) = self.under_lease(forced, plan.known.as_deref()).await {
                held.finish(self).await;
                return Ok(Refreshed::stored(snapshot));
            }
        }
        let mut result = match self.grant(marks).await {
            Ok((token, rotated)) => self.check_and_store(token, rotated).await,
            Err(error) => Err(error),
        };
        if held.lapsed()
            && let Some(snapshot) = self.after_lapse().await
        {
            result = Ok(Refreshed::stored(snapshot));
        }
        held.finish(self).await;
        result
    }

    /// Sends the grant (the source's fetch) and keeps its answer's record update in the slot
    /// before anything else can happen. The flight is not dropped while this runs.
    async fn grant(&self, marks: &Marks) -> Result<(AccessToken, bool)> {
        if !marks.begin_grant() {
            return Err(errors::superseded());
        }
        let fetched = AssertUnwindSafe(self.source.fetch_token())
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(errors::source_panicked()));
        let kept = fetched.map(|mut token| {
            let update = RecordUpdate::take_from(&mut token);
            let rotated = update.rotates();
            if let Some(slot) = &self.storage {
                slot.hold(update);
            }
            (token, rotated)
        });
        marks.end_grant();
        kept
    }

    /// Checks a fetched token and stores it with what is pending, before anyone sees it.
    async fn check_and_store(&self, token: AccessToken, rotated: bool) -> Result<Refreshed> {
        let how = Obtained {
            from_storage: false,
            rotated,
        };
        let now = self.clock.now();
        if let Some(expiry) = token.expiry()
            && expiry <= now
        {
            // Never cache or store an expired token; but a rotation it came with is real, and
            // is stored now (so are the provider's secrets).
            self.persist(None).await;
            return Err(errors::expired_on_arrival(now - expiry));
        }
        let snapshot = Arc::new(Snapshot::new(token, &self.rendering)?);
        self.persist(Some(snapshot.token())).await;
        // A slow store can outlast a short-lived token: never hand out one already expired.
        if snapshot.state(self.clock.now()) == TokenState::Invalid {
            return Err(errors::expired_while_storing());
        }
        Ok(Refreshed { snapshot, how })
    }

    /// On start: the record, judged; its token if usable.
    async fn on_start(&self, waiting: bool) -> Option<Arc<Snapshot>> {
        let slot = self.storage.as_ref()?;
        let record = match self.load(slot).await {
            Ok(record) => record.unwrap_or_default(),
            Err(error) => {
                let replace = !error.is_transient();
                self.storage_failed(error, "loading");
                if replace {
                    // Unreadable for good (corrupt, or not a record): the next store replaces
                    // it rather than leaving every later rotation unstored.
                    slot.remember(CredentialRecord::new());
                }
                return None;
            }
        };
        self.judged(slot, record, Moment::Start { waiting }, None)
            .await
    }

    /// Under the lease: the record again (another process may have refreshed while this one
    /// waited), judged; its token if it is to be served.
    async fn under_lease(&self, forced: bool, known: Option<&Snapshot>) -> Option<Arc<Snapshot>> {
        let slot = self.storage.as_ref()?;
        let record = self.load_reported(slot).await?;
        self.judged(slot, record, Moment::UnderLease { forced }, known)
            .await
    }

    /// After a lapse: another holder may have stored since.
    async fn after_lapse(&self) -> Option<Arc<Snapshot>> {
        let slot = self.storage.as_ref()?;
        let record = self.load_reported(slot).await?;
        self.judged(slot, record, Moment::AfterLapse, None).await
    }

    /// Applies the record rules to `record` read at `moment`.
    async fn judged(
        &self,
        slot: &StorageSlot,
        record: CredentialRecord,
        moment: Moment,
        known: Option<&Snapshot>,
    ) -> Option<Arc<Snapshot>> {
        let now = self.clock.now();
        let token = record.access_token();
        let facts = Facts {
            moment,
            token: token
                .as_ref()
                .map(|t| t.state(now, self.rendering.threshold)),
            token_known: match (known, &token) {
                (Some(known), Some(token)) => known.is_token(token),
                _ => false,
            },
            pending_rotation: slot.rotation_pending(),
            relation: slot.relation(&record),
        };
        let verdict = rules::judge(facts);
        if verdict.pending != Pending::Keep {
            slot.settle_rotation();
        }
        if verdict.adopt {
            let adopted = catch_unwind(AssertUnwindSafe(|| self.source.adopt_record(&record)));
            if adopted.is_err() {
                self.storage_failed(errors::adopt_panicked(), "adopting");
            }
        }
        slot.remember(record);
        if verdict.store_pending {
            self.persist(None).await;
        }
        let token = token.filter(|_| verdict.use_token)?;
        match Snapshot::new(token, &self.rendering) {
            Ok(snapshot) => Some(Arc::new(snapshot)),
            Err(error) => {
                self.storage_failed(error, "reading");
                None
            }
        }
    }

    /// The storage's lease on our key, if it offers one (the one kept by an earlier refresh
    /// first); waits at most half of what is left until `deadline`, so that a refresh without
    /// the lease (when the builder allows it) still has time to finish.
    async fn take_lease(&self, deadline: OffsetDateTime) -> Result<Option<Lease>> {
        let Some(slot) = self.storage.as_ref() else {
            return Ok(None);
        };
        if let Some(kept) = slot.kept_lease() {
            if kept.is_held() {
                return Ok(Some(kept));
            }
            drop(kept);
        }
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
        let then = if timed_out {
            self.lease_policy.on_timeout()
        } else {
            self.lease_policy.on_storage_error()
        };
        let refresh_locally = then == WithoutLease::RefreshLocally;
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

    /// Stores the pending rotation again, under the lease an earlier refresh kept for it, and
    /// releases the lease once a store confirms it (so that other processes do not wait for
    /// this one's next refresh). Returns whether to try again later: the rotation is still
    /// pending and the lease still held. Gives up (false) when a refresh has the lease now, or
    /// when the lease lapsed: the next refresh then judges the record again, as after any
    /// lapse. With nothing pending any more, it only releases the lease.
    pub(super) async fn flush(&self) -> bool {
        let Some(slot) = self.storage.as_ref() else {
            return false;
        };
        let Some(lease) = slot.kept_lease() else {
            return false;
        };
        if !lease.is_held() {
            // Lapsed: back where the next refresh finds it (and drops it).
            slot.keep_lease(lease);
            return false;
        }
        // Cancelled mid-store, the guard keeps the lease in the slot while the rotation waits.
        let held = Held {
            slot: Some(slot),
            lease: Some(lease),
        };
        self.persist(None).await;
        held.finish(self).await;
        slot.unstored()
    }

    /// Stores `token` (if any) with everything pending, merged into the known record, in one
    /// call. The pending update leaves the slot only if the store succeeds and nothing newer
    /// arrived meanwhile. Failures are reported, not returned (see
    /// [`RefreshEvent::StorageFailed`]).
    async fn persist(&self, token: Option<&AccessToken>) {
        let Some(slot) = self.storage.as_ref() else {
            return;
        };
        let (update, generation) = slot.pending();
        if token.is_none() && update.is_empty() {
            return;
        }
        let base = match slot.record() {
            Some(record) => record,
            None => match self.load(slot).await {
                Ok(record) => record.unwrap_or_default(),
                Err(error) if error.is_transient() => {
                    // Storing blind now could drop the refresh token and provider fields of a
                    // record that is only out of reach; the update stays pending.
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
        // Remembered even if the store failed: the next store builds on it, and the update
        // stays pending until one confirms it.
        slot.remember(record);
        match stored {
            Ok(()) => slot.confirm(generation),
            Err(error) => self.storage_failed(error, "storing"),
        }
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

impl fmt::Debug for Refresher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refresher")
            .field("source", &self.source.name())
            .field("clock", &self.clock)
            .field(
                "storage_key",
                &self.storage.as_ref().map(|slot| slot.key.as_str()),
            )
            .field("observer", &self.observer.is_some())
            .field("threshold", &self.rendering.threshold)
            .field("quota_project", &self.rendering.quota_project)
            .field("lease_policy", &self.lease_policy)
            .finish()
    }
}
