//! One refresh: load from storage on start, fetch, store, all off the hot path.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use secrecy::SecretString;

use super::events::{Observer, RefreshEvent};
use super::inner::Inner;
use super::snapshot::{Rendering, Snapshot};
use crate::{AccessToken, Clock, CredentialRecord, Error, ErrorKind, Result, Storage, TokenSource};
use crate::{Spawner, TokenState};

/// What a refresh resolves to, for every caller that waited on it.
pub(super) type Outcome = Result<Arc<Snapshot>>;

/// A refresh in flight. Any clone may drive it; it runs once.
pub(super) type SharedRefresh = Shared<BoxFuture<'static, Outcome>>;

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
    fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::Ahead => "ahead",
            Self::Forced => "forced",
        }
    }
}

/// Everything a refresh needs, with no way back to the cache but a weak reference: an abandoned
/// refresh never keeps a dropped `Credentials` alive.
pub(super) struct Config {
    pub(super) source: Arc<dyn TokenSource>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) storage: Option<StorageSlot>,
    pub(super) spawner: Option<Arc<dyn Spawner>>,
    pub(super) observer: Option<Observer>,
    pub(super) rendering: Rendering,
    pub(super) min_retry_interval: Duration,
    pub(super) retries: Option<u32>,
}

/// The storage, the key of our record, and the last record we know it holds.
pub(super) struct StorageSlot {
    pub(super) storage: Arc<dyn Storage>,
    pub(super) key: String,
    /// The record as last loaded or stored; `None` until known. New tokens are merged into it so
    /// a store never drops the provider's fields or the refresh token.
    pub(super) record: Mutex<Option<CredentialRecord>>,
}

/// How a refresh got its token.
#[derive(Clone, Copy, Debug)]
pub(super) struct Obtained {
    pub(super) from_storage: bool,
    pub(super) rotated: bool,
}

impl Config {
    pub(super) fn emit(&self, event: &RefreshEvent) {
        if let Some(observer) = &self.observer {
            observer(event);
        }
    }

    /// The refresh future for flight `id`, boxed and shared. `check_storage` makes it try a
    /// stored token before fetching (once, on start).
    pub(super) fn flight(
        self: &Arc<Self>,
        inner: Weak<Inner>,
        id: u64,
        trigger: Trigger,
        check_storage: bool,
    ) -> SharedRefresh {
        let config = Arc::clone(self);
        async move {
            tracing::debug!(
                source = config.source.name(),
                trigger = trigger.as_str(),
                "refreshing the access token"
            );
            // A panicking source must not poison the shared future and wedge every caller.
            let result = AssertUnwindSafe(config.obtain(trigger, check_storage))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    Err(Error::new(
                        ErrorKind::Provider,
                        "the token source panicked during a refresh",
                    ))
                });
            match inner.upgrade() {
                Some(inner) => inner.finish(id, result),
                // Every handle is gone: nobody to publish to.
                None => result.map(|(snapshot, _)| snapshot),
            }
        }
        .boxed()
        .shared()
    }

    async fn obtain(
        &self,
        trigger: Trigger,
        check_storage: bool,
    ) -> Result<(Arc<Snapshot>, Obtained)> {
        if check_storage && let Some(snapshot) = self.stored_token(trigger).await {
            let how = Obtained {
                from_storage: true,
                rotated: false,
            };
            return Ok((snapshot, how));
        }
        let mut token = self.source.fetch_token().await?;
        let rotated = token.take_rotated_refresh_token();
        let how = Obtained {
            from_storage: false,
            rotated: rotated.is_some(),
        };
        let snapshot = Arc::new(Snapshot::new(token, &self.rendering)?);
        // Stored before anyone sees the token: a crash never loses a rotated refresh token.
        self.persist(snapshot.token(), rotated).await;
        Ok((snapshot, how))
    }

    /// Loads the record on start, remembers it, and returns its token if it is usable: fresh,
    /// or stale when the cache has nothing usable (refresh ahead then follows as usual).
    async fn stored_token(&self, trigger: Trigger) -> Option<Arc<Snapshot>> {
        let slot = self.storage.as_ref()?;
        let record = match slot.storage.load(&slot.key).await {
            Ok(record) => record.unwrap_or_default(),
            Err(error) => {
                self.storage_failed(error, "loading");
                return None;
            }
        };
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

    /// Merges `token` (and a rotated refresh token) into the known record and stores it in one
    /// call. Failures are reported, not returned (see [`RefreshEvent::StorageFailed`]).
    async fn persist(&self, token: &AccessToken, rotated: Option<SecretString>) {
        let Some(slot) = self.storage.as_ref() else {
            return;
        };
        let known = lock(&slot.record).clone();
        let base = match known {
            Some(record) => record,
            None => match slot.storage.load(&slot.key).await {
                Ok(record) => record.unwrap_or_default(),
                Err(error) => {
                    // Storing blind could drop the refresh token and provider fields.
                    self.storage_failed(error, "loading");
                    return;
                }
            },
        };
        let mut record = base.with_access_token(token);
        if let Some(refresh_token) = rotated {
            record = record.with_refresh_token(refresh_token);
        }
        let stored = slot.storage.store(&slot.key, &record).await;
        // Remember it even if the store failed, so the next store still carries a rotated
        // refresh token.
        *lock(&slot.record) = Some(record);
        if let Err(error) = stored {
            self.storage_failed(error, "storing");
        }
    }

    fn storage_failed(&self, error: Error, doing: &'static str) {
        tracing::warn!(
            source = self.source.name(),
            kind = %error.kind(),
            error = %error,
            "{doing} the credential record failed"
        );
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
            .field("retry_attempts", &self.retries)
            .finish()
    }
}

/// A caller's hold on a refresh in flight. While one exists the refresh has a driver; dropping
/// it (a cancelled caller) leaves the refresh in place for the next caller to drive.
pub(super) struct Driven {
    future: SharedRefresh,
    drivers: Arc<AtomicUsize>,
}

impl Driven {
    pub(super) fn new(future: SharedRefresh, drivers: &Arc<AtomicUsize>) -> Self {
        drivers.fetch_add(1, Ordering::AcqRel);
        Self {
            future,
            drivers: Arc::clone(drivers),
        }
    }
}

impl Drop for Driven {
    fn drop(&mut self) {
        self.drivers.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Future for Driven {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        self.future.poll_unpin(cx)
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section here is a few assignments that cannot panic halfway, so a
    // poisoned lock still guards consistent data.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
