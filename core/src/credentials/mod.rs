//! `Credentials`: the caching layer applications hold.

mod ahead;
mod builder;
mod errors;
mod events;
mod flight;
mod handoff;
mod inner;
mod lease_policy;
mod marks;
mod refresher;
mod refusal;
mod rejected;
mod request;
mod rules;
mod slot;
mod snapshot;

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use http::HeaderMap;
use time::OffsetDateTime;

pub use ahead::RefreshAhead;
pub use builder::{CredentialsBuilder, FLIGHT_DEADLINE, MIN_RETRY_INTERVAL};
pub use events::RefreshEvent;
use inner::{Inner, Invalidated, Wait};
pub use lease_policy::{LeasePolicy, WithoutLease};
use refresher::Trigger;
pub use rejected::Rejected;
pub(crate) use request::{Rejection, Usable, Written};
use snapshot::{Rendering, Snapshot};

use crate::{AccessToken, Result, TokenSource, TokenState};

/// The caching layer in front of a [`TokenSource`]: what applications hold to put credentials
/// on requests.
///
/// It keeps the last token, serves it while it is fresh, refreshes it ahead of its expiry, and
/// makes any number of concurrent callers share one fetch. It is a cheap handle (an `Arc`
/// inside), `Send + Sync`: clone it freely, there is no need to wrap it in an `Arc`. It is not
/// itself a `TokenSource`: it hands out cached tokens, where a source fetches new ones.
///
/// # Examples
///
/// ```
/// use credkit_core::{AccessToken, Credentials, StaticSource};
/// use credkit_core::http::{HeaderMap, header::AUTHORIZATION};
///
/// # futures::executor::block_on(async {
/// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.token")));
/// let mut headers = HeaderMap::new();
/// credentials.before_request(&mut headers).await?;
/// assert_eq!(headers[AUTHORIZATION], "Bearer ya29.token");
/// assert!(headers[AUTHORIZATION].is_sensitive());
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
///
/// # The token's state
///
/// As the reference library: a token is **fresh** until it is within the refresh threshold of
/// its expiry (225 s, or a quarter of a shorter lifetime), **stale** from then until it
/// expires, and **invalid** once expired or when there is none. A token without an expiry is
/// fresh until [`invalidate_if`](Credentials::invalidate_if) drops it.
///
/// - **Fresh**: [`before_request`](Credentials::before_request) and
///   [`apply`](Credentials::apply) write the cached header values: one atomic load, no lock,
///   no allocation when the map has room, no call to the source. The values are rendered once
///   per token, in one copy per core (up to 16), so threads on different cores never contend
///   for one reference count; [`headers`](Credentials::headers) clones a ready map.
/// - **Stale**: the cached token is used at once, and one refresh runs ahead. With a
///   [spawner](CredentialsBuilder::with_spawner) it runs in the background and nobody waits;
///   without one, the first caller to notice drives it (and waits for it) while the others
///   keep the cached token. If it fails, callers keep the cached token and the next attempt
///   waits at least the [minimum retry interval](CredentialsBuilder::with_min_retry_interval).
/// - **Invalid**: callers wait for the one refresh, joining it if it is already running. If it
///   fails they all get its error, and the next call tries again.
///
/// A caller whose future is dropped cancels nothing: the refresh stays in place for the
/// others, and the next caller drives it if nobody else does.
///
/// # When things go wrong
///
/// Every refresh has a deadline ([`with_flight_deadline`](CredentialsBuilder::with_flight_deadline),
/// 180 s by default, on the clock): a source, handler or storage that hangs fails the callers
/// waiting on it with a transient [`Timeout`](crate::ErrorKind::Timeout), and the next caller
/// starts a new refresh. A refresh that every caller abandoned is resumed by the next caller
/// only within its deadline, never later.
///
/// | the source… | token fresh | token stale | token invalid (none or expired) |
/// |---|---|---|---|
/// | is down (transient errors) | served; no call to the source | served; the refresh ahead fails, retried after the minimum retry interval | callers get the error (after the retries); the next call tries again |
/// | hangs | served | served; the refresh ahead times out at the deadline | callers get a `Timeout` at the deadline; the next call tries again |
/// | says `invalid_grant` | served | served until it expires; no refresh ahead for the minimum retry interval | callers get `invalid_grant`; `apply` reports it without a new try for the minimum retry interval |
/// | returns a token already expired | served | served (the refresh ahead fails) | callers get "the token expired N s before it was received: check the clocks"; it is never cached or stored |
///
/// Nothing a user plugs in can panic a caller or wedge the cache: a panicking source or
/// storage fails that refresh with an error; a panicking observer (or tracing subscriber) is
/// caught and logged; a panicking spawner is reported ([`RefreshEvent::SpawnerPanicked`]) and
/// the refresh falls back to the callers that wait. A storage that fails never fails a request
/// (see [`with_storage`](CredentialsBuilder::with_storage)).
///
/// # Retries and storage
///
/// The source is wrapped in [`Retrying`](crate::Retrying) with the default
/// [`RetryPolicy`](crate::RetryPolicy) (see
/// [`with_retry_policy`](CredentialsBuilder::with_retry_policy)); this is the only retry
/// layer. With a [storage](CredentialsBuilder::with_storage), a still-usable stored token is
/// used on start without a fetch, and every new token, with any refresh token the source
/// rotated, is stored in one call before anyone gets it.
///
/// # Secrets
///
/// The header value is marked sensitive, and its buffer is zeroized when the last copy of it
/// is dropped. `Debug` shows the source's name, the expiry and the settings, never a token.
/// Tracing events (refresh start, success, failure) and [`RefreshEvent`]s carry no secret.
#[derive(Clone)]
pub struct Credentials {
    inner: Arc<Inner>,
}

impl Credentials {
    /// A builder for credentials over `source`; every setting has a default.
    ///
    /// `source` is any [`TokenSource`], including an `Arc<dyn TokenSource>`.
    ///
    /// ```
    /// use credkit_core::{AccessToken, Credentials, StaticSource};
    ///
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
    ///     .with_quota_project("my-project")
    ///     .build()?;
    /// # let _ = credentials;
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn builder(source: impl TokenSource + 'static) -> CredentialsBuilder {
        CredentialsBuilder::new(Arc::new(source))
    }

    /// Credentials over `source` with every default: the source's clock, retry policy and
    /// quota project where it names them (else the system clock, the default retry policy, no
    /// quota project), no storage, no spawner.
    ///
    /// ```
    /// use credkit_core::{AccessToken, Credentials, StaticSource, TokenState};
    ///
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// assert_eq!(credentials.token_state(), TokenState::Invalid); // nothing fetched yet
    /// ```
    pub fn new(source: impl TokenSource + 'static) -> Self {
        // Nothing to validate with the defaults.
        let mut builder = Self::builder(source);
        // The source's quota project, unchecked: one that cannot go into a header fails the
        // first refresh with a typed error instead.
        let rendering = Rendering::new(builder.threshold(), builder.quota_project(), None);
        // A held token that cannot go into a header is not served: the first call fetches.
        let initial = builder.seed(&rendering).ok().flatten();
        builder.assemble(rendering, initial)
    }

    /// The state of the cached token now: fresh, stale or invalid (see the type's docs).
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource, TokenState};
    /// # futures::executor::block_on(async {
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// assert_eq!(credentials.token_state(), TokenState::Invalid);
    /// credentials.refresh().await?;
    /// assert_eq!(credentials.token_state(), TokenState::Fresh);
    /// # Ok::<(), credkit_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn token_state(&self) -> TokenState {
        self.inner.state()
    }

    /// Whether a token is cached and not expired: the reference library's `valid`, which is
    /// false once the token is stale.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # futures::executor::block_on(async {
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// assert!(!credentials.valid());
    /// credentials.refresh().await?;
    /// assert!(credentials.valid());
    /// # Ok::<(), credkit_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn valid(&self) -> bool {
        self.token_state() == TokenState::Fresh
    }

    /// Whether the cached token has an expiry and the clock is past the refresh threshold
    /// before it: the reference library's `expired`. False without a token or an expiry.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use credkit_core::{AccessToken, Clock, Credentials, StaticSource, SystemClock};
    /// let almost_over = AccessToken::new("ya29.old")
    ///     .with_expiry(SystemClock.now() + Duration::from_secs(60));
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.new")))
    ///     .with_initial_token(almost_over)
    ///     .build()?;
    /// assert!(credentials.expired()); // within 225 s of its expiry
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn expired(&self) -> bool {
        let now = self.inner.clock.now();
        self.inner
            .cache
            .load()
            .as_deref()
            .is_some_and(|s| s.is_expired(now))
    }

    /// When the cached token expires; `None` without a token or when it has no expiry.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # use time::macros::datetime;
    /// let seed = AccessToken::new("ya29.t").with_expiry(datetime!(2030-01-01 0:00 UTC));
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.new")))
    ///     .with_initial_token(seed)
    ///     .build()?;
    /// assert_eq!(credentials.expiry(), Some(datetime!(2030-01-01 0:00 UTC)));
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn expiry(&self) -> Option<OffsetDateTime> {
        self.inner
            .cache
            .load()
            .as_deref()
            .and_then(Snapshot::expiry)
    }

    /// The cached token, whatever its state, without refreshing; `None` before the first
    /// refresh or after an invalidation. Its secret stays a [`SecretString`](secrecy::SecretString).
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// use secrecy::ExposeSecret;
    /// # futures::executor::block_on(async {
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// assert!(credentials.token().is_none());
    /// credentials.refresh().await?;
    /// let token = credentials.token().expect("just refreshed");
    /// assert_eq!(token.secret().expose_secret(), "ya29.t");
    /// # Ok::<(), credkit_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn token(&self) -> Option<Arc<AccessToken>> {
        self.inner
            .cache
            .load()
            .as_deref()
            .map(|s| Arc::clone(s.token()))
    }

    /// The quota project sent as `x-goog-user-project`: the builder's, else the source's
    /// [`TokenSource::quota_project`], if either is set.
    ///
    /// Without one, each token's own [`AccessToken::quota_project`] is sent instead (the
    /// project of the source, or chain member, that issued it); that one is not shown here.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// assert_eq!(credentials.quota_project(), None);
    /// ```
    pub fn quota_project(&self) -> Option<&str> {
        self.inner.refresher.rendering.quota_project.as_deref()
    }

    /// The name of the source, for logs.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// assert_eq!(credentials.source_name(), "static token");
    /// ```
    pub fn source_name(&self) -> &str {
        self.inner.refresher.source.name()
    }

    /// Writes the cached token into `headers` without waiting: `authorization: Bearer <token>`
    /// (marked sensitive) and, with a quota project, `x-goog-user-project`. Existing values of
    /// those headers are replaced; nothing else is touched.
    ///
    /// This is the synchronous member for code that cannot await: it never fetches in the
    /// caller. A **fresh** token costs one atomic load, one clock read and a reference-count
    /// increment per header: no lock, no call to the source, no allocation when `headers` has
    /// room. (Room as `http` counts it: `HeaderMap::with_capacity(2)` holds both headers, but
    /// `http` reserves a slot even to replace a value, so a map filled exactly to its capacity
    /// grows once when written again.) A **stale** token is written too, and with
    /// a spawner its refresh ahead starts in the background; without one, `Ok(Stale)` tells
    /// the caller to call [`refresh`](Self::refresh) (or [`before_request`](Self::before_request))
    /// soon.
    ///
    /// Returns the state of the token written: fresh or stale.
    ///
    /// # Errors
    ///
    /// With no usable token (none yet, or expired), nothing is written and the error is that of
    /// the last failed refresh, or else a [`Configuration`](crate::ErrorKind::Configuration)
    /// error saying to fetch a token first. Writing an expired token would only earn a 401. With
    /// a spawner, a refresh is started in the background so a later call can succeed.
    ///
    /// ```
    /// use credkit_core::{AccessToken, Credentials, StaticSource, TokenState};
    /// use credkit_core::http::HeaderMap;
    ///
    /// # futures::executor::block_on(async {
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let mut headers = HeaderMap::with_capacity(2);
    /// assert!(credentials.apply(&mut headers).is_err()); // nothing cached yet
    /// credentials.refresh().await?;
    /// assert_eq!(credentials.apply(&mut headers)?, TokenState::Fresh);
    /// assert_eq!(headers["authorization"], "Bearer ya29.t");
    /// # Ok::<(), credkit_core::Error>(())
    /// # }).unwrap();
    /// ```
    #[inline]
    pub fn apply(&self, headers: &mut HeaderMap) -> Result<TokenState> {
        if self.inner.write_fresh(headers).is_some() {
            return Ok(TokenState::Fresh);
        }
        self.apply_slow(headers)
    }

    #[cold]
    fn apply_slow(&self, headers: &mut HeaderMap) -> Result<TokenState> {
        let inner = &self.inner;
        let (now, cached, state) = inner.look();
        if inner.settings.spawner.is_some() {
            match state {
                // If the spawner failed, the returned refresh is dropped: this caller cannot
                // drive it, the next one that can will.
                TokenState::Stale => drop(inner.refresh_ahead(now)),
                TokenState::Invalid => inner.refresh_in_background(now),
                TokenState::Fresh => {}
            }
        }
        match cached {
            Some(snapshot) if state != TokenState::Invalid => {
                snapshot.write(headers);
                Ok(state)
            }
            _ => Err(inner.unusable()),
        }
    }

    /// The refresh ahead of a stale token, for the caller to drive beside the request it sends
    /// with that token: for code that wrote the headers with [`apply`](Self::apply), got
    /// `Ok(Stale)`, and has no spawner. `None` when there is nothing for this caller to drive:
    /// the token is not stale, a spawner runs the refresh, another caller drives it, or one
    /// failed within the minimum retry interval.
    ///
    /// See [`RefreshAhead`] for when it may be dropped.
    pub fn refresh_ahead(&self) -> Option<RefreshAhead> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let stale = inner
            .cache
            .load()
            .as_deref()
            .is_some_and(|s| s.state(now) == TokenState::Stale);
        if !stale {
            return None;
        }
        inner.refresh_ahead(now).map(|driven| self.ahead(driven))
    }

    /// Makes `headers` ready to send: refreshes if the token is invalid (waiting for the one
    /// refresh), then writes it as [`apply`](Self::apply) does. This improves on the reference
    /// library's `before_request`: a stale token is written at once while its refresh runs
    /// ahead (see the type's docs).
    ///
    /// A fresh token takes the same path as `apply`: no lock, no allocation, no await.
    ///
    /// # Errors
    ///
    /// The refresh's error when the token was invalid and the refresh failed. Every caller
    /// that waited on that refresh gets the same error; the next call tries again.
    ///
    /// ```
    /// use credkit_core::{AccessToken, Credentials, StaticSource};
    /// use credkit_core::http::HeaderMap;
    ///
    /// # futures::executor::block_on(async {
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
    ///     .with_quota_project("billing")
    ///     .build()?;
    /// let mut headers = HeaderMap::new();
    /// credentials.before_request(&mut headers).await?;
    /// assert_eq!(headers["authorization"], "Bearer ya29.t");
    /// assert_eq!(headers["x-goog-user-project"], "billing");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn before_request(&self, headers: &mut HeaderMap) -> Result<()> {
        if self.inner.write_fresh(headers).is_some() {
            return Ok(());
        }
        let snapshot = self.usable().await?;
        snapshot.write(headers);
        Ok(())
    }

    /// The request headers as a new map: [`before_request`](Self::before_request) into an empty
    /// map with room for both headers.
    ///
    /// # Errors
    ///
    /// As [`before_request`](Self::before_request).
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// # futures::executor::block_on(async {
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let headers = credentials.headers().await?;
    /// assert_eq!(headers.len(), 1);
    /// assert_eq!(headers["authorization"], "Bearer ya29.t");
    /// # Ok::<(), credkit_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn headers(&self) -> Result<HeaderMap> {
        if let Some(headers) = self.inner.headers_if_fresh() {
            return Ok(headers);
        }
        let mut headers = HeaderMap::with_capacity(2);
        self.before_request(&mut headers).await?;
        Ok(headers)
    }

    /// A token to use now, refreshing first exactly when
    /// [`before_request`](Self::before_request) would: for callers that need the token itself
    /// rather than headers.
    ///
    /// # Errors
    ///
    /// As [`before_request`](Self::before_request).
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// use secrecy::ExposeSecret;
    /// # futures::executor::block_on(async {
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let token = credentials.access_token().await?;
    /// assert_eq!(token.secret().expose_secret(), "ya29.t");
    /// # Ok::<(), credkit_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn access_token(&self) -> Result<Arc<AccessToken>> {
        if let Some(token) = self.inner.token_if_fresh() {
            return Ok(token);
        }
        Ok(Arc::clone(self.usable().await?.token()))
    }

    /// Fetches a new token now, whatever the cached one's state, and returns it once it is
    /// cached (and stored). Single-flighted: a refresh already in flight is joined rather than
    /// doubled.
    ///
    /// # Errors
    ///
    /// The refresh's error. A token that was cached before stays cached.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource, TokenState};
    /// # futures::executor::block_on(async {
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// credentials.refresh().await?;
    /// assert_eq!(credentials.token_state(), TokenState::Fresh);
    /// # Ok::<(), credkit_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn refresh(&self) -> Result<Arc<AccessToken>> {
        // One deadline for the whole call, however many flights it waits for.
        let by = flight::after(self.inner.clock.now(), self.inner.settings.flight_deadline);
        loop {
            let refreshed = match self.inner.wait(Trigger::Forced) {
                Wait::Refresh(driven) => self.inner.wait_for(driven, by).await?,
                Wait::Ready(snapshot) => return Ok(Arc::clone(snapshot.token())),
            };
            // A refresh that was already running may have taken the stored token instead of
            // fetching (the first one does); this call promised a fetch, so it makes one.
            // Only the first refresh looks at storage, so this loops at most twice.
            if !refreshed.how.from_storage {
                return Ok(Arc::clone(refreshed.snapshot.token()));
            }
        }
    }

    /// After a server rejected a request (a 401), drops the cached token if it is still the
    /// one that was rejected, so the next call refreshes. Returns whether it dropped it.
    ///
    /// Give it what the rejected request carried: the [`AccessToken`] (or the `Arc` from
    /// [`token`](Self::token) or [`access_token`](Self::access_token)), the `authorization`
    /// [`HeaderValue`](http::HeaderValue), or the whole [`HeaderMap`]. A clone of the cached value is recognised
    /// by identity; anything else is compared with the cached secret in constant time. When
    /// many requests fail with one token, the first call drops it and the rest are no-ops, so
    /// they cause one refresh, not many. A token that was already replaced is left alone.
    ///
    /// A token rejected again right after it replaced a rejected one (within the
    /// [minimum retry interval](crate::CredentialsBuilder::with_min_retry_interval) of the
    /// refresh that fetched it) is kept, not dropped: an API that refuses every token (the
    /// wrong audience or scopes) would otherwise cost a refresh per request. That refusal is
    /// logged as a warning and reported once per token as
    /// [`RefreshEvent::FreshTokenRejected`]; the first rejection after the interval drops the
    /// token again, so a persistent refusal costs at most one refresh per interval.
    ///
    /// ```
    /// use credkit_core::{AccessToken, Credentials, StaticSource, TokenState};
    ///
    /// # futures::executor::block_on(async {
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let headers = credentials.headers().await?;
    /// // ... the server answered 401 ...
    /// assert!(credentials.invalidate_if(&headers));
    /// assert!(!credentials.invalidate_if(&headers)); // already dropped
    /// assert_eq!(credentials.token_state(), TokenState::Invalid);
    /// # Ok::<(), credkit_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn invalidate_if<R: Rejected + ?Sized>(&self, rejected: &R) -> bool {
        let invalidated = self.inner.invalidate(|snapshot| {
            rejected.as_token().is_some_and(|t| snapshot.is_token(t))
                || rejected
                    .as_authorization()
                    .is_some_and(|v| snapshot.is_authorization(v))
        });
        invalidated == Invalidated::Dropped
    }

    /// Whether a rotated refresh token waits for the storage to confirm a store of it (the last
    /// store failed; it is stored again under the lease kept meanwhile: in the background with
    /// a spawner, after 1 s and then twice as long each time up to a minute; else by the next
    /// refresh). Always
    /// false without a storage. A holder of many `Credentials` (a vault's cache) keeps such a
    /// value alive rather than drop it: dropped, the rotation would be lost, and with a
    /// strictly rotating server the user logged out.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, MemoryStorage, StaticSource};
    /// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
    ///     .with_storage(MemoryStorage::new(), "me")
    ///     .build()?;
    /// assert!(!credentials.has_unstored_rotation());
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn has_unstored_rotation(&self) -> bool {
        self.inner
            .refresher
            .storage
            .as_ref()
            .is_some_and(slot::StorageSlot::rotation_pending)
    }

    /// The cached token if it is usable (fresh or stale, driving or starting the refresh ahead
    /// as needed), or the result of the one refresh.
    async fn usable(&self) -> Result<Arc<Snapshot>> {
        let inner = &self.inner;
        let (now, cached, state) = inner.look();
        match (state, cached) {
            (TokenState::Fresh, Some(snapshot)) => Ok(snapshot),
            (TokenState::Stale, Some(snapshot)) => {
                let Some(driven) = inner.refresh_ahead(now) else {
                    return Ok(snapshot);
                };
                // This caller drives the refresh ahead; the others keep the cached token.
                match inner.wait_for(driven, flight::NO_LIMIT).await {
                    Ok(fresh) => Ok(fresh.snapshot),
                    Err(error) => {
                        if snapshot.state(inner.clock.now()) == TokenState::Invalid {
                            Err(error)
                        } else {
                            Ok(snapshot)
                        }
                    }
                }
            }
            _ => match inner.wait(Trigger::Invalid) {
                Wait::Refresh(driven) => inner
                    .wait_for(driven, flight::NO_LIMIT)
                    .await
                    .map(|refreshed| refreshed.snapshot),
                Wait::Ready(snapshot) => Ok(snapshot),
            },
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = self.inner.cache.load();
        f.debug_struct("Credentials")
            .field("source", &self.source_name())
            .field("has_token", &cached.is_some())
            .field("expiry", &cached.as_deref().and_then(Snapshot::expiry))
            .field("quota_project", &self.quota_project())
            .field("refreshing", &self.inner.refreshing())
            .field("refresher", &self.inner.refresher)
            .field("spawner", &self.inner.settings.spawner.is_some())
            .field(
                "min_retry_interval",
                &self.inner.settings.min_retry_interval,
            )
            .field("flight_deadline", &self.inner.settings.flight_deadline)
            .field("retry_attempts", &self.inner.settings.retries)
            .finish()
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a few assignments that cannot panic halfway, so a
    // poisoned lock still guards consistent data.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `report` (logging, an observer), swallowing a panic from it: a misbehaving tracing
/// subscriber must not fail the caller whose request it was reporting on.
pub(super) fn quietly(report: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(report));
}
