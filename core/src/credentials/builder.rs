//! `CredentialsBuilder`: how a `Credentials` is put together.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use super::Credentials;
use super::events::{Observer, RefreshEvent};
use super::inner::{Inner, Settings};
use super::lease_policy::LeasePolicy;
use super::refresher::Refresher;
use super::slot::StorageSlot;
use super::snapshot::{Rendering, Snapshot};
use crate::{
    AccessToken, BuildError, Clock, CredentialRecord, REFRESH_THRESHOLD, RetryPolicy, Retrying,
    Spawner, Storage, SystemClock, TokenSource,
};

/// The default [`CredentialsBuilder::with_min_retry_interval`]: 10 seconds.
pub const MIN_RETRY_INTERVAL: Duration = Duration::from_secs(10);

/// The default [`CredentialsBuilder::with_flight_deadline`] with the default retry policy:
/// 180 seconds.
///
/// It covers the default [`RetryPolicy`] (3 attempts, waits capped at 30 s) over a transport
/// with a 30 s total timeout per request (as `credkit-reqwest`'s default), plus 30 s for
/// storage: 3 × 30 + 2 × 30 + 30.
pub const FLIGHT_DEADLINE: Duration = Duration::from_secs(180);

/// How long one request may take by the assumption behind [`FLIGHT_DEADLINE`].
const REQUEST_ALLOWANCE: Duration = Duration::from_secs(30);

/// `value` as an `Arc<T>`: the very `Arc` when `value` is one already (an `Arc<dyn Clock>`
/// the application shares, say), so that it is not wrapped in a second `Arc`: one allocation
/// and one pointer hop less on every use; else `wrap(value)`.
fn shared<T: ?Sized + 'static, V: 'static>(value: V, wrap: impl FnOnce(V) -> Arc<T>) -> Arc<T> {
    match (&value as &dyn std::any::Any).downcast_ref::<Arc<T>>() {
        Some(arc) => Arc::clone(arc),
        None => wrap(value),
    }
}

/// The retry choice of a [`CredentialsBuilder`].
#[derive(Debug)]
enum Retries {
    /// Not chosen: the source's [`TokenSource::retry_policy`], else the default.
    SourcesChoice,
    /// This policy.
    Policy(RetryPolicy),
    /// No retries.
    Off,
}

/// Builds a [`Credentials`]; start with [`Credentials::builder`].
///
/// Every setting has a default, so `Credentials::builder(source).build()` is a complete,
/// working cache: the source's clock, retry policy, quota project and held token where it
/// names them ([`TokenSource::clock`] and its siblings), else the system clock, the default
/// [`RetryPolicy`] and an empty cache; no storage, no spawner (the caller that notices a stale
/// token drives its refresh), the [`REFRESH_THRESHOLD`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use credkit_core::{AccessToken, Credentials, MemoryStorage, RetryPolicy, StaticSource};
///
/// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
///     .with_quota_project("my-billing-project")
///     .with_storage(MemoryStorage::new(), "user@example.com")
///     .with_retry_policy(RetryPolicy::default().with_max_attempts(5))
///     .with_refresh_threshold(Duration::from_secs(300))
///     .build()?;
/// assert_eq!(credentials.quota_project(), Some("my-billing-project"));
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
#[must_use]
pub struct CredentialsBuilder {
    source: Arc<dyn TokenSource>,
    quota_project: Option<String>,
    clock: Option<Arc<dyn Clock>>,
    storage: Option<(Arc<dyn Storage>, String)>,
    retry_policy: Retries,
    spawner: Option<Arc<dyn Spawner>>,
    threshold: Duration,
    min_retry_interval: Duration,
    flight_deadline: Option<Duration>,
    lease_policy: LeasePolicy,
    initial_token: Option<AccessToken>,
    loaded_record: Option<CredentialRecord>,
    observer: Option<Observer>,
    header_copies: Option<usize>,
}

impl CredentialsBuilder {
    pub(super) fn new(source: Arc<dyn TokenSource>) -> Self {
        Self {
            source,
            quota_project: None,
            clock: None,
            storage: None,
            retry_policy: Retries::SourcesChoice,
            spawner: None,
            threshold: REFRESH_THRESHOLD,
            min_retry_interval: MIN_RETRY_INTERVAL,
            flight_deadline: None,
            lease_policy: LeasePolicy::default(),
            initial_token: None,
            loaded_record: None,
            observer: None,
            header_copies: None,
        }
    }

    /// Sends `x-goog-user-project: <project>` with every request, so quota and billing go to
    /// that project. Default: no such header; an empty `project` sends none either.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # futures::executor::block_on(async {
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
    ///     .with_quota_project("billing-project")
    ///     .build()?;
    /// let headers = credentials.headers().await?;
    /// assert_eq!(headers["x-goog-user-project"], "billing-project");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        self.quota_project = Some(project.into());
        self
    }

    /// Reads the time and waits (retry backoff) through `clock`. Default: the source's
    /// [`TokenSource::clock`], else [`SystemClock`].
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource, SystemClock};
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
    ///     .with_clock(SystemClock)
    ///     .build()?;
    /// # let _ = credentials;
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(shared::<dyn Clock, _>(clock, |clock| Arc::new(clock)));
        self
    }

    /// How many copies of the rendered header values the cache keeps: `copies` rounded up to
    /// a power of two, from 1 to 16. Default: one per core, at most 16.
    ///
    /// Every caller of the hot path clones the cached header values, which counts a reference
    /// on their buffer. Threads on different cores use different copies, so a `Credentials`
    /// shared by many busy threads does not make them fight over one cache line. Each copy
    /// costs about 0.4 KiB plus the token's length. A process that holds many `Credentials`,
    /// each used by few threads at a time (one per user, as `credkit-vault` does), wants 1:
    /// a single copy is also packed for memory (no cache-line alignment, no ready-made map:
    /// [`Credentials::headers`] builds its map, a few nanoseconds more than cloning one).
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
    ///     .with_header_copies(1)
    ///     .build()?;
    /// # let _ = credentials;
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn with_header_copies(mut self, copies: usize) -> Self {
        self.header_copies = Some(copies);
        self
    }

    /// Persists tokens in `storage` under `key`. Default: no storage.
    ///
    /// The first refresh loads the record and uses its token without a fetch when that token
    /// is still fresh (or stale, when nothing better is cached). Every fetched token, and a
    /// refresh token the source rotated, are merged into the record and written in one
    /// `store` call before the token is handed to anyone. A failing storage is reported
    /// ([`RefreshEvent::StorageFailed`] and a tracing warning) but never fails a request. A
    /// record that cannot be read for good (corrupt, not a record: a permanent error) is
    /// replaced by the next store; one out of reach (a transient error) is never overwritten
    /// blind, and a refresh token rotated meanwhile is kept for the next store. A storage that
    /// panics counts as failing; one that hangs is bounded by the flight deadline.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, MemoryStorage, StaticSource, Storage};
    /// # futures::executor::block_on(async {
    /// let storage = MemoryStorage::new();
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
    ///     .with_storage(storage.clone(), "me")
    ///     .build()?;
    /// credentials.refresh().await?;
    /// assert!(storage.load("me").await?.and_then(|r| r.access_token()).is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn with_storage(mut self, storage: impl Storage + 'static, key: impl Into<String>) -> Self {
        self.storage = Some((
            shared::<dyn Storage, _>(storage, |storage| Arc::new(storage)),
            key.into(),
        ));
        self
    }

    /// Retries transient fetch failures by `policy`, waiting through the clock. Default: the
    /// source's [`TokenSource::retry_policy`], else [`RetryPolicy::default`] (3 attempts, about
    /// 1 s then 2 s). This is credkit's only retry layer.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, RetryPolicy, StaticSource};
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
    ///     .with_retry_policy(RetryPolicy::default().with_max_attempts(5))
    ///     .build()?;
    /// # let _ = credentials;
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = Retries::Policy(policy);
        self
    }

    /// Calls the source once per refresh, without retries (for a source that retries on its
    /// own, or a test). Default: retries on, see [`with_retry_policy`](Self::with_retry_policy).
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
    ///     .without_retries()
    ///     .build()?;
    /// # let _ = credentials;
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn without_retries(mut self) -> Self {
        self.retry_policy = Retries::Off;
        self
    }

    /// Runs refreshes ahead of expiry in the background on `spawner`, so no caller waits while
    /// a usable token is cached, and stores again a rotated refresh token whose store failed
    /// (releasing the storage's lease once it lands, rather than at the next refresh).
    /// Default: none; the first caller that finds the token stale drives its refresh while
    /// the others keep the cached token.
    ///
    /// `spawner` is a closure `Fn(BoxFuture<'static, ()>) + Send + Sync` over the runtime's
    /// spawn function, or any [`Spawner`]: `credkit_tokio::TokioSpawner`, an `Arc<dyn Spawner>`
    /// shared with other code, a `Box<dyn Spawner>` (see [`IntoSpawner`](crate::IntoSpawner)).
    ///
    /// The spawner is called from whichever thread calls [`apply`](Credentials::apply) or
    /// `before_request`, which may be outside any async runtime. With tokio, capture a runtime
    /// handle rather than calling `tokio::spawn`, which panics outside a runtime:
    /// `credkit_tokio::TokioSpawner::current()` does that in one line, or by hand:
    /// `let handle = tokio::runtime::Handle::current();` then
    /// `.with_spawner(move |f| { handle.spawn(f); })`. A spawner that panics anyway is caught
    /// and reported ([`RefreshEvent::SpawnerPanicked`]); the refresh then falls back to the
    /// callers that wait for it. A spawner that drops the future (a runtime shutting down)
    /// leaves the refresh for the next caller.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
    ///     .with_spawner(|future| {
    ///         std::thread::spawn(move || futures::executor::block_on(future));
    ///     })
    ///     .build()?;
    /// # let _ = credentials;
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn with_spawner<M>(mut self, spawner: impl crate::IntoSpawner<M>) -> Self {
        self.spawner = Some(shared::<dyn Spawner, _>(
            spawner.into_spawner(),
            |spawner| Arc::new(spawner),
        ));
        self
    }

    /// Treats a token as stale `threshold` before its expiry, or a quarter of its lifetime
    /// before when that is shorter and the lifetime is known (see
    /// [`AccessToken::stale_at`](crate::AccessToken::stale_at)). Default: [`REFRESH_THRESHOLD`],
    /// 225 s.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
    ///     .with_refresh_threshold(Duration::from_secs(300))
    ///     .build()?;
    /// # let _ = credentials;
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn with_refresh_threshold(mut self, threshold: Duration) -> Self {
        self.threshold = threshold;
        self
    }

    /// After a refresh fails, starts no refresh ahead and no background refresh (from
    /// [`apply`](Credentials::apply) or the spawner) before `interval` has passed by the clock,
    /// so a failing endpoint is not hammered. Default: [`MIN_RETRY_INTERVAL`], 10 s. Callers
    /// that wait for a token (`before_request`, `headers` on an invalid token) and an explicit
    /// [`refresh`](Credentials::refresh) try again at once.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
    ///     .with_min_retry_interval(Duration::from_secs(30))
    ///     .build()?;
    /// # let _ = credentials;
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn with_min_retry_interval(mut self, interval: Duration) -> Self {
        self.min_retry_interval = interval;
        self
    }

    /// Bounds every refresh (storage load, fetch with its retries, store) to `deadline` by the
    /// clock. When it passes, the refresh is dropped (its request cancelled), every caller
    /// waiting on it gets a transient [`Timeout`](crate::ErrorKind::Timeout) error, and the
    /// next caller starts a new refresh. A refresh that nobody drove to the end (every caller
    /// was cancelled) is never resumed past its deadline either.
    ///
    /// Default: [`FLIGHT_DEADLINE`] (180 s) with the default retry policy; with another policy,
    /// 30 s per attempt plus the policy's longest wait between attempts plus 30 s, so the
    /// deadline never cuts the retries short. Without retries, 60 s.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
    ///     .with_flight_deadline(Duration::from_secs(20))
    ///     .build()?;
    /// # let _ = credentials;
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn with_flight_deadline(mut self, deadline: Duration) -> Self {
        self.flight_deadline = Some(deadline);
        self
    }

    /// What a refresh does when the storage's cross-process lease (see [`Storage::lease`])
    /// cannot be had: another process held it past the refresh's wait, or the storage failed.
    /// Default: [`LeasePolicy::default`] (a busy lease fails the refresh with the storage's
    /// transient [`Timeout`](crate::ErrorKind::Timeout) and the next call tries again; a failing
    /// store does not stop this process). Refreshing without the lease is reported with a
    /// [`RefreshEvent::LeaseUnavailable`].
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, LeasePolicy, MemoryStorage, StaticSource};
    /// // A refresh token that rotates: never refresh without the lease.
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
    ///     .with_storage(MemoryStorage::new(), "me")
    ///     .with_lease_policy(LeasePolicy::strict())
    ///     .build()?;
    /// # let _ = credentials;
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn with_lease_policy(mut self, policy: LeasePolicy) -> Self {
        self.lease_policy = policy;
        self
    }

    /// Seeds the cache with `token`, as from a credentials file that carries a token and its
    /// expiry. Default: the source's [`TokenSource::initial_token`], or an empty cache. A fresh seed is used without a fetch; a stale one is
    /// used while it refreshes; an expired one is replaced on first use.
    ///
    /// Any rotated refresh token on `token` is ignored (seeds are not stored).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use credkit_core::{AccessToken, Clock, Credentials, StaticSource, SystemClock, TokenState};
    /// let seed = AccessToken::new("ya29.from-file")
    ///     .with_lifetime(SystemClock.now(), Duration::from_secs(3600));
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.new")))
    ///     .with_initial_token(seed)
    ///     .build()?;
    /// assert_eq!(credentials.token_state(), TokenState::Fresh);
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn with_initial_token(mut self, token: AccessToken) -> Self {
        self.initial_token = Some(token);
        self
    }

    /// The record the caller has just loaded from the storage under this key (a vault builds
    /// each user's credentials from one): its access token seeds the cache (unless
    /// [`with_initial_token`](Self::with_initial_token) gave one), and the first refresh does
    /// not load the record again before it takes the lease, so a cold start costs one read of
    /// the storage, not two. The record is also what the next store merges into. Ignored
    /// without [`with_storage`](Self::with_storage). Give the source the same record
    /// ([`TokenSource::adopt_record`]) so that it refreshes with the stored refresh token.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, CredentialRecord, Credentials, MemoryStorage, StaticSource, TokenState};
    /// # use credkit_core::{Clock, SystemClock};
    /// # use std::time::Duration;
    /// let token = AccessToken::new("ya29.stored")
    ///     .with_lifetime(SystemClock.now(), Duration::from_secs(3600));
    /// let record = CredentialRecord::new().with_access_token(&token);
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.new")))
    ///     .with_storage(MemoryStorage::new(), "user-1")
    ///     .with_loaded_record(record)
    ///     .build()?;
    /// assert_eq!(credentials.token_state(), TokenState::Fresh);
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn with_loaded_record(mut self, record: CredentialRecord) -> Self {
        self.loaded_record = Some(record);
        self
    }

    /// Calls `observer` on every [`RefreshEvent`]: refreshed, failed, storage failed, state
    /// changed. Default: none.
    ///
    /// It runs inline, on whichever task or thread drives the refresh (or noticed the state
    /// change): keep it short, never block, never panic, and do not await anything.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, RefreshEvent, StaticSource};
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
    ///     .on_refresh(|event: &RefreshEvent| {
    ///         if let RefreshEvent::Failed { error, .. } = event {
    ///             eprintln!("token refresh failed: {error}");
    ///         }
    ///     })
    ///     .build()?;
    /// # let _ = credentials;
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn on_refresh<F>(mut self, observer: F) -> Self
    where
        F: Fn(&RefreshEvent) + Send + Sync + 'static,
    {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Builds the [`Credentials`].
    ///
    /// # Errors
    ///
    /// A [`BuildError`] (invalid value) when the quota project cannot be sent in an HTTP
    /// header, or the initial token cannot (empty, whitespace, control characters). Neither
    /// message contains the value.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// let source = StaticSource::new(AccessToken::new("ya29.t"));
    /// let err = Credentials::builder(source).with_quota_project("bad\nproject").build().unwrap_err();
    /// assert!(err.is_invalid_value());
    /// ```
    pub fn build(mut self) -> Result<Credentials, BuildError> {
        let quota_project = self.quota_project();
        if let Some(project) = &quota_project {
            HeaderValue::from_str(project).map_err(|_| {
                BuildError::invalid_value("the quota project cannot be sent in an HTTP header")
            })?;
        }
        let rendering = Rendering::new(self.threshold, quota_project, self.header_copies);
        let initial = self.seed(&rendering)?;
        Ok(self.assemble(rendering, initial))
    }

    /// The builder's seed, else a token the source already holds, rendered.
    pub(super) fn seed(
        &mut self,
        rendering: &Rendering,
    ) -> Result<Option<Arc<Snapshot>>, BuildError> {
        let from_record = self
            .storage
            .as_ref()
            .and(self.loaded_record.as_ref())
            .and_then(CredentialRecord::access_token);
        self.initial_token
            .take()
            .or(from_record)
            .or_else(|| self.source.initial_token())
            .map(|mut token| {
                drop(token.take_rotated_refresh_token());
                drop(token.take_provider_secrets());
                Snapshot::new(token, rendering)
                    .map(Arc::new)
                    .map_err(|err| {
                        BuildError::invalid_value(
                            "the initial token cannot be sent in an HTTP header",
                        )
                        .with_source(err)
                    })
            })
            .transpose()
    }

    /// The builder's quota project, else the source's. An empty project is no project: the
    /// reference sends the header only for a truthy one.
    pub(super) fn quota_project(&mut self) -> Option<String> {
        self.quota_project
            .take()
            .or_else(|| self.source.quota_project().map(str::to_owned))
            .filter(|p| !p.is_empty())
    }

    pub(super) fn threshold(&self) -> Duration {
        self.threshold
    }

    /// Builds from values already checked.
    pub(super) fn assemble(
        self,
        rendering: Rendering,
        initial: Option<Arc<Snapshot>>,
    ) -> Credentials {
        let clock = self
            .clock
            .or_else(|| self.source.clock())
            .unwrap_or_else(|| Arc::new(SystemClock));
        let retry_policy = match self.retry_policy {
            Retries::SourcesChoice => Some(self.source.retry_policy().unwrap_or_default()),
            Retries::Policy(policy) => Some(policy),
            Retries::Off => None,
        };
        let retries = retry_policy.as_ref().map(RetryPolicy::max_attempts);
        let flight_deadline = self
            .flight_deadline
            .unwrap_or_else(|| default_deadline(retry_policy.as_ref()));
        let source: Arc<dyn TokenSource> = match retry_policy {
            Some(policy) => Arc::new(Retrying::new(self.source, policy, Arc::clone(&clock))),
            None => self.source,
        };
        let mut storage_loaded = false;
        let storage = self.storage.map(|(storage, key)| {
            let slot = StorageSlot::new(storage, key);
            if let Some(record) = self.loaded_record {
                slot.remember(record);
                storage_loaded = true;
            }
            slot
        });
        let refresher = Refresher {
            source,
            clock,
            storage,
            observer: self.observer,
            rendering,
            lease_policy: self.lease_policy,
        };
        let settings = Settings {
            spawner: self.spawner,
            min_retry_interval: self.min_retry_interval,
            flight_deadline,
            retries,
            storage_loaded,
        };
        Credentials {
            inner: Inner::new(refresher, settings, initial),
        }
    }
}

impl fmt::Debug for CredentialsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialsBuilder")
            .field("source", &self.source)
            .field("quota_project", &self.quota_project)
            .field("clock", &self.clock)
            .field("storage_key", &self.storage.as_ref().map(|(_, key)| key))
            .field("retry_policy", &self.retry_policy)
            .field("spawner", &self.spawner.is_some())
            .field("threshold", &self.threshold)
            .field("min_retry_interval", &self.min_retry_interval)
            .field("flight_deadline", &self.flight_deadline)
            .field("lease_policy", &self.lease_policy)
            .field("initial_token", &self.initial_token)
            // The record holds secrets: only whether one was given.
            .field("loaded_record", &self.loaded_record.is_some())
            .field("observer", &self.observer.is_some())
            .field("header_copies", &self.header_copies)
            .finish()
    }
}

/// The flight deadline for `policy`: 30 s per attempt, the longest wait between attempts, and
/// 30 s for storage. [`FLIGHT_DEADLINE`] for the default policy.
fn default_deadline(policy: Option<&RetryPolicy>) -> Duration {
    let (attempts, wait) = policy.map_or((1, Duration::ZERO), |p| (p.max_attempts(), p.max_wait()));
    REQUEST_ALLOWANCE
        .saturating_mul(attempts.max(1))
        .saturating_add(wait.saturating_mul(attempts.saturating_sub(1)))
        .saturating_add(REQUEST_ALLOWANCE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_deadline_covers_the_retry_policy() {
        assert_eq!(
            default_deadline(Some(&RetryPolicy::default())),
            FLIGHT_DEADLINE
        );
        assert_eq!(default_deadline(None), Duration::from_secs(60));
        let patient = RetryPolicy::default()
            .with_max_attempts(5)
            .with_max_wait(Duration::from_secs(10));
        assert_eq!(
            default_deadline(Some(&patient)),
            Duration::from_secs(5 * 30 + 4 * 10 + 30)
        );
    }

    #[test]
    fn an_arc_given_is_used_as_it_is() {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let storage: Arc<dyn Storage> = Arc::new(crate::MemoryStorage::new());
        let spawner: Arc<dyn Spawner> = Arc::new(crate::spawn_fn(drop));
        let builder = Credentials::builder(crate::StaticSource::new(AccessToken::new("t")))
            .with_clock(Arc::clone(&clock))
            .with_storage(Arc::clone(&storage), "key")
            .with_spawner(Arc::clone(&spawner));
        assert!(Arc::ptr_eq(builder.clock.as_ref().unwrap(), &clock));
        assert!(Arc::ptr_eq(&builder.storage.as_ref().unwrap().0, &storage));
        assert!(Arc::ptr_eq(builder.spawner.as_ref().unwrap(), &spawner));
        // Anything else is wrapped once.
        let wrapped = shared(SystemClock, |clock| Arc::new(clock) as Arc<dyn Clock>);
        assert!(!Arc::ptr_eq(&wrapped, &clock));
        let concrete = Arc::new(SystemClock);
        let twice = shared(Arc::clone(&concrete), |clock| {
            Arc::new(clock) as Arc<dyn Clock>
        });
        assert_eq!(
            Arc::strong_count(&concrete),
            2,
            "an Arc of another type is wrapped"
        );
        drop(twice);
    }

    #[test]
    fn debug_shows_the_settings_and_no_secret() {
        let record = CredentialRecord::new()
            .with_refresh_token(secrecy::SecretString::from("1//refresh-secret"));
        let builder = Credentials::builder(crate::StaticSource::new(AccessToken::new("ya29.t")))
            .with_storage(crate::MemoryStorage::new(), "user-key")
            .with_loaded_record(record)
            .with_header_copies(1);
        let shown = format!("{builder:?}");
        assert!(shown.contains("header_copies: Some(1)"), "{shown}");
        assert!(shown.contains("storage_key: Some(\"user-key\")"), "{shown}");
        assert!(shown.contains("loaded_record: true"), "{shown}");
        assert!(!shown.contains("refresh-secret"), "{shown}");
    }
}
