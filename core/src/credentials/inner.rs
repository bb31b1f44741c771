//! The shared state behind every `Credentials` clone: the cached token and its hot path, the
//! flights (when one starts, who drives it, what its callers see), and publishing what a
//! refresh got. What one refresh does is in `refresher.rs`; the flight mechanics in `flight.rs`.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use futures::FutureExt;
use http::HeaderMap;
use time::OffsetDateTime;

use super::errors;
use super::events::RefreshEvent;
use super::flight::{self, Driven, Flights, Host, Outcome, SharedRefresh, Waited, after};
use super::marks::Marks;
use super::refresher::{Plan, Refresher, Trigger};
use super::snapshot::Snapshot;
use super::{lock, quietly};
use crate::AccessToken;
use crate::{Clock, Error, Spawner, TokenState};

/// Marks "no retry gate" in [`Inner::retry_not_before`].
const NO_GATE: i64 = i64::MIN;

/// The settings of the flights.
pub(super) struct Settings {
    pub(super) spawner: Option<Arc<dyn Spawner>>,
    pub(super) min_retry_interval: Duration,
    pub(super) flight_deadline: Duration,
    pub(super) retries: Option<u32>,
    /// The caller gave the record it loaded: the first refresh does not load it again.
    pub(super) storage_loaded: bool,
}

pub(super) struct Inner {
    /// The cached token. The hot path is one load of this.
    pub(super) cache: ArcSwapOption<Snapshot>,
    /// The clock, also in `refresher`; here to save a pointer hop on the hot path.
    pub(super) clock: Arc<dyn Clock>,
    pub(super) refresher: Arc<Refresher>,
    pub(super) settings: Settings,
    pub(super) flights: Mutex<Flights>,
    /// After a failed refresh, no refresh ahead or background refresh starts before this instant
    /// (Unix milliseconds).
    retry_not_before: AtomicI64,
    /// The last state reported to the observer, as `state_code`.
    last_state: AtomicU8,
    pub(super) me: Weak<Inner>,
}

/// What a rejection did to the cached token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Invalidated {
    /// It was the token rejected, and is dropped.
    Dropped,
    /// It was the token rejected, but it had just replaced a rejected one: kept.
    Kept,
    /// The cache holds another token, or none.
    Replaced,
}

/// What a waiting caller does next.
pub(super) enum Wait {
    /// Await this refresh.
    Refresh(Driven),
    /// A refresh just finished: use this token.
    Ready(Arc<Snapshot>),
}

impl Inner {
    pub(super) fn new(
        refresher: Refresher,
        settings: Settings,
        initial: Option<Arc<Snapshot>>,
    ) -> Arc<Self> {
        let storage_checked = settings.storage_loaded;
        let state = initial
            .as_ref()
            .map_or(TokenState::Invalid, |s| s.state(refresher.clock.now()));
        Arc::new_cyclic(|me| Self {
            cache: ArcSwapOption::new(initial),
            clock: Arc::clone(&refresher.clock),
            refresher: Arc::new(refresher),
            settings,
            flights: Mutex::new({
                let mut flights = Flights::default();
                flights.storage_checked = storage_checked;
                flights
            }),
            retry_not_before: AtomicI64::new(NO_GATE),
            last_state: AtomicU8::new(state_code(state)),
            me: Weak::clone(me),
        })
    }

    /// The hot path: writes the cached token into `headers` if it is certainly fresh, and names
    /// the token written. One atomic load, one cheap clock read (none for a token without
    /// expiry), a reference-count increment per header. `None` leaves the decision to the
    /// caller's slow path, which reads the precise clock (see [`if_fresh`](Self::if_fresh)).
    #[inline]
    pub(super) fn write_fresh(&self, headers: &mut HeaderMap) -> Option<u64> {
        self.if_fresh(|snapshot| {
            snapshot.write(headers);
            snapshot.id()
        })
    }

    /// The hot path of `headers()`: a clone of the fresh token's ready map.
    #[inline]
    pub(super) fn headers_if_fresh(&self) -> Option<HeaderMap> {
        self.if_fresh(Snapshot::headers)
    }

    /// The hot path of `access_token()`: the fresh token itself.
    #[inline]
    pub(super) fn token_if_fresh(&self) -> Option<Arc<AccessToken>> {
        self.if_fresh(|snapshot| Arc::clone(snapshot.token()))
    }

    /// `f` on the cached token if it is certainly fresh; `None` when there is no token or the
    /// cheap clock cannot tell.
    ///
    /// The clock's `system_time` skips the calendar conversion of `now`, and `SystemClock`
    /// answers it from the coarse wall clock, which may lag `now` by a tick. It is trusted only
    /// to say "certainly fresh", up to `SYSTEM_TIME_MARGIN` before the token turns stale; in
    /// that last second and after, every caller's slow path (`apply_slow`, `usable`) decides
    /// with the precise `now`, and serves a token still fresh there exactly as this path
    /// would. So, while `system_time` lags by less than the margin, the two reads never meet
    /// in one decision: no token is served as fresh after it turned stale, and the observer
    /// never hears `Fresh` from a lagging clock after `Stale` from the precise one.
    #[inline]
    fn if_fresh<R>(&self, f: impl FnOnce(&Snapshot) -> R) -> Option<R> {
        let cached = self.cache.load();
        let snapshot = cached.as_deref()?;
        if !snapshot.is_surely_fresh(|| self.clock.system_time()) {
            return None;
        }
        let result = f(snapshot);
        self.observe(TokenState::Fresh);
        Some(result)
    }

    /// The time, the cached token and its state now (reported to the observer if it changed):
    /// what every slow path starts from.
    pub(super) fn look(&self) -> (OffsetDateTime, Option<Arc<Snapshot>>, TokenState) {
        let now = self.clock.now();
        let cached = self.cache.load_full();
        let state = cached
            .as_deref()
            .map_or(TokenState::Invalid, |s| s.state(now));
        self.observe(state);
        (now, cached, state)
    }

    /// The state of the cached token now, reported to the observer if it changed.
    pub(super) fn state(&self) -> TokenState {
        let state = self
            .cache
            .load()
            .as_deref()
            .map_or(TokenState::Invalid, |s| s.state(self.clock.now()));
        self.observe(state);
        state
    }

    /// Tells the observer about a state change it has not heard of. Costs one relaxed load when
    /// nothing changed, and nothing without an observer.
    #[inline]
    pub(super) fn observe(&self, state: TokenState) {
        if self.refresher.observer.is_some()
            && self.last_state.load(Ordering::Relaxed) != state_code(state)
        {
            self.state_changed(state);
        }
    }

    #[cold]
    fn state_changed(&self, to: TokenState) {
        let from = self.last_state.swap(state_code(to), Ordering::AcqRel);
        if from != state_code(to) {
            self.refresher.emit(&RefreshEvent::StateChanged {
                from: state_from_code(from),
                to,
            });
        }
    }

    pub(super) fn host(&self) -> Weak<dyn Host> {
        Weak::clone(&self.me) as Weak<dyn Host>
    }

    /// Whether a refresh ahead or a background refresh may start at `now`: not within the
    /// minimum retry interval after a failure.
    fn may_start_unasked(&self, now: OffsetDateTime) -> bool {
        unix_millis(now) >= self.retry_not_before.load(Ordering::Acquire)
    }

    /// For a caller that cannot use the cached token: the refresh to wait for, joining the one
    /// in flight or starting one. Under the lock the cache is checked again, so a caller that
    /// raced a finishing refresh takes its token instead of starting another.
    pub(super) fn wait(&self, trigger: Trigger) -> Wait {
        let mut flights = match self.probe_past_limit(lock(&self.flights)) {
            Some(flights) => flights,
            None => lock(&self.flights),
        };
        let now = self.clock.now();
        if let Some(flight) = flights.live(now, self.settings.flight_deadline) {
            return Wait::Refresh(flight.join(self.host(), false));
        }
        if trigger == Trigger::Invalid
            && let Some(snapshot) = self.cache.load_full()
            && snapshot.state(now) != TokenState::Invalid
        {
            return Wait::Ready(snapshot);
        }
        Wait::Refresh(self.start(&mut flights, trigger, now))
    }

    /// Before a flight whose grant is out past the grant limit is replaced, polls it once
    /// outside the lock: an answer that came while nobody drove it is read and published.
    /// Returns the guard when there was nothing to poll, `None` when it let the lock go.
    fn probe_past_limit<'a>(
        &self,
        flights: MutexGuard<'a, Flights>,
    ) -> Option<MutexGuard<'a, Flights>> {
        let Some(mut probe) = flights
            .past_limit(self.clock.now())
            .map(|flight| flight.join(self.host(), true))
        else {
            return Some(flights);
        };
        drop(flights);
        let _answered = (&mut probe).now_or_never();
        None
    }

    /// The flights, unless another thread holds them (it is dealing with the refresh).
    fn try_flights(&self) -> Option<MutexGuard<'_, Flights>> {
        match self.flights.try_lock() {
            Ok(flights) => Some(flights),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// Waits for `driven` until its deadline or `by`: its outcome, or a transient timeout
    /// (reported once per flight; the flight itself goes on if its grant is out).
    pub(super) async fn wait_for(&self, driven: Driven, by: OffsetDateTime) -> Outcome {
        let longest = self.settings.flight_deadline;
        match flight::within(driven, by, &*self.clock, longest).await {
            Waited::Done(outcome) => outcome,
            Waited::TimedOut(id) => Err(self.overdue(id)),
        }
    }

    /// For a caller holding a stale token: starts or revives the refresh ahead. With a spawner
    /// the refresh runs there and this returns `None`; without one, it returns the refresh for
    /// this caller to drive, or `None` if another caller already drives it, one failed too
    /// recently, or the lock is busy (whoever holds it is dealing with the refresh).
    pub(super) fn refresh_ahead(&self, now: OffsetDateTime) -> Option<Driven> {
        if !self.may_start_unasked(now) {
            return None;
        }
        let driven = self.driver_needed(Trigger::Ahead)?;
        self.spawn_or_return(driven)
    }

    /// For a caller that cannot wait (`apply` on an invalid token): makes sure a refresh runs on
    /// the spawner, if there is one and no refresh failed within the minimum retry interval.
    pub(super) fn refresh_in_background(&self, now: OffsetDateTime) {
        if self.settings.spawner.is_some()
            && self.may_start_unasked(now)
            && let Some(driven) = self.driver_needed(Trigger::Invalid)
        {
            // The caller cannot drive it: if the spawner failed, the next caller will.
            drop(self.spawn_or_return(driven));
        }
    }

    /// A hold on the refresh if it needs a driver: none in flight (and the cache still needs
    /// one), or one whose every driver went. `None` if it is driven already, or the lock is
    /// busy (whoever holds it is dealing with the refresh).
    fn driver_needed(&self, trigger: Trigger) -> Option<Driven> {
        let mut flights = match self.probe_past_limit(self.try_flights()?) {
            Some(flights) => flights,
            None => self.try_flights()?,
        };
        let now = self.clock.now();
        if let Some(flight) = flights.live(now, self.settings.flight_deadline) {
            // Its last driver went mid-refresh: take over.
            return (flight.drivers() == 0).then(|| flight.join(self.host(), false));
        }
        let satisfied = self.cache.load().as_deref().is_some_and(|s| match trigger {
            Trigger::Ahead => s.is_fresh(now),
            _ => s.state(now) != TokenState::Invalid,
        });
        if satisfied {
            return None;
        }
        Some(self.start(&mut flights, trigger, now))
    }

    /// Starts a flight `now` and joins it, replacing one past its deadline (whose grant is not
    /// out, or is past its grant limit).
    fn start(&self, flights: &mut Flights, trigger: Trigger, now: OffsetDateTime) -> Driven {
        // The flight judged overdue may have begun its grant since: then it stays (before its
        // grant limit) and this caller joins it; otherwise it is marked superseded, so that it
        // never sends a grant even if a caller still polls it.
        let keep = flights
            .current
            .as_ref()
            .is_some_and(|old| !old.supersede() && flights.past_limit(now).is_none());
        if keep && let Some(old) = &flights.current {
            return old.join(self.host(), false);
        }
        if let Some(old) = flights.current.take() {
            quietly(|| {
                tracing::warn!(
                    source = self.refresher.source.name(),
                    drivers = old.drivers(),
                    "a refresh passed its deadline unfinished (abandoned or hung); starting a new one"
                );
            });
        }
        let id = flights.next_id();
        let check_storage = !flights.storage_checked
            && trigger != Trigger::Forced
            && self.refresher.storage.is_some();
        flights.storage_checked = true;
        let deadline = after(now, self.settings.flight_deadline);
        let limit = after(deadline, self.settings.flight_deadline);
        let marks = Arc::new(Marks::default());
        let plan = Plan {
            trigger,
            check_storage,
            deadline,
            known: self.cache.load_full().or_else(|| flights.rejected.clone()),
        };
        let future = self.launch(id, plan, Arc::clone(&marks));
        flights
            .insert(id, future, (deadline, limit), marks)
            .join(self.host(), false)
    }

    /// The future of flight `id`: obtains a token, then publishes the outcome (if any handle is
    /// left). Boxed and shared, so every waiting caller gets the same outcome.
    fn launch(&self, id: u64, plan: Plan, marks: Arc<Marks>) -> SharedRefresh {
        let refresher = Arc::clone(&self.refresher);
        let me = Weak::clone(&self.me);
        async move {
            quietly(|| {
                tracing::debug!(
                    source = refresher.source.name(),
                    trigger = plan.trigger.as_str(),
                    "refreshing the access token"
                );
            });
            // A panic that escaped the refresher's own guards must not poison the shared
            // future and wedge every caller.
            let result = AssertUnwindSafe(refresher.obtain(&plan, &marks))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    Err(Error::internal(
                        "a refresh panicked outside the token source and the storage",
                    ))
                });
            match me.upgrade() {
                Some(inner) => {
                    let outcome = inner.finish(id, result);
                    inner.flush_later();
                    outcome
                }
                // Every handle is gone: nobody to publish to.
                None => result,
            }
        }
        .boxed()
        .shared()
    }

    /// Publishes what flight `id` got, before anyone awaiting it sees it, and clears the slot.
    fn finish(&self, id: u64, result: Outcome) -> Outcome {
        match result {
            Ok(refreshed) => {
                let snapshot = &refreshed.snapshot;
                // Publish first, then clear the slot: a caller that finds no flight finds the
                // new token.
                self.cache.store(Some(Arc::clone(snapshot)));
                self.retry_not_before.store(NO_GATE, Ordering::Release);
                {
                    let mut flights = lock(&self.flights);
                    flights.clear(id);
                    flights.last_error = None;
                    let now = self.clock.now();
                    let interval = self.settings.min_retry_interval;
                    flights.rejections.published(snapshot.id(), now, interval);
                }
                let how = refreshed.how;
                quietly(|| {
                    tracing::info!(
                        source = self.refresher.source.name(),
                        expiry = ?snapshot.expiry(),
                        from_storage = how.from_storage,
                        rotated_refresh_token = how.rotated,
                        "access token refreshed"
                    );
                });
                self.refresher.emit(&RefreshEvent::Refreshed {
                    expiry: snapshot.expiry(),
                    from_storage: how.from_storage,
                    rotated_refresh_token: how.rotated,
                });
                self.observe(snapshot.state(self.clock.now()));
                Ok(refreshed)
            }
            Err(error) => {
                lock(&self.flights).clear(id);
                self.failed(&error);
                Err(error)
            }
        }
    }

    /// Remembers and reports a failed refresh, and gates refreshes nobody asked for.
    fn failed(&self, error: &Error) {
        let now = self.clock.now();
        let keeps_token = self
            .cache
            .load()
            .as_deref()
            .is_some_and(|s| s.state(now) != TokenState::Invalid);
        // No refresh ahead or background refresh before the minimum retry interval: a failing
        // endpoint is not hammered by `apply()` or a spawner.
        let gate = after(now, self.settings.min_retry_interval);
        self.retry_not_before
            .store(unix_millis(gate), Ordering::Release);
        lock(&self.flights).last_error = Some(error.clone());
        quietly(|| {
            tracing::warn!(
                source = self.refresher.source.name(),
                kind = %error.kind(),
                transient = error.is_transient(),
                keeps_token,
                error = %error,
                "refreshing the access token failed"
            );
        });
        self.refresher.emit(&RefreshEvent::Failed {
            error: error.clone(),
            keeps_token,
        });
    }

    /// Flight `id` passed a caller's deadline: the caller's error, reported once per flight.
    pub(super) fn overdue(&self, id: u64) -> Error {
        let error = errors::flight_timed_out(self.settings.flight_deadline);
        let first = lock(&self.flights).overdue_reported.replace(id) != Some(id);
        if first {
            self.failed(&error);
        }
        error
    }

    /// After a rejection: drops the cached token if `matches` says it is the one rejected,
    /// unless it is the token that just replaced a rejected one (see `refusal.rs`).
    pub(super) fn invalidate(&self, matches: impl FnOnce(&Snapshot) -> bool) -> Invalidated {
        let current = self.cache.load();
        let Some(snapshot) = current.as_deref() else {
            return Invalidated::Replaced;
        };
        if !matches(snapshot) {
            return Invalidated::Replaced;
        }
        let now = self.clock.now();
        let mut flights = lock(&self.flights);
        if let Some(refusal) = flights.rejections.refused(snapshot.id(), now) {
            drop(flights);
            if refusal.first {
                self.refused(refusal.until);
            }
            return Invalidated::Kept;
        }
        let previous = self.cache.compare_and_swap(&current, None);
        let dropped = match (previous.as_ref(), current.as_ref()) {
            (Some(previous), Some(current)) => Arc::ptr_eq(previous, current),
            _ => false,
        };
        if !dropped {
            return Invalidated::Replaced;
        }
        // Storage holds the rejected token too: never reload it.
        flights.storage_checked = true;
        flights.rejected = current.as_ref().map(Arc::clone);
        flights.rejections.dropped();
        drop(flights);
        quietly(|| {
            tracing::debug!(
                source = self.refresher.source.name(),
                "cached access token invalidated after a rejection"
            );
        });
        self.observe(TokenState::Invalid);
        Invalidated::Dropped
    }

    /// Reports a token the API refused right after it replaced a rejected one.
    #[cold]
    fn refused(&self, until: OffsetDateTime) {
        quietly(|| {
            tracing::warn!(
                source = self.refresher.source.name(),
                kept_until = %until,
                "the API rejects fresh tokens: check the audience and scopes; \
                 the token is kept, and not refreshed again until the minimum retry interval passes"
            );
        });
        self.refresher
            .emit(&RefreshEvent::FreshTokenRejected { kept_until: until });
    }

    /// The error for a caller that needs a token now and cannot wait for one.
    pub(super) fn unusable(&self) -> Error {
        if let Some(error) = lock(&self.flights).last_error.clone() {
            return error;
        }
        errors::nothing_usable(self.cache.load().is_some())
    }

    /// Whether a refresh is in flight (for `Debug`).
    pub(super) fn refreshing(&self) -> bool {
        lock(&self.flights).current.is_some()
    }
}

fn unix_millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn state_code(state: TokenState) -> u8 {
    match state {
        TokenState::Fresh => 0,
        TokenState::Stale => 1,
        TokenState::Invalid => 2,
    }
}

fn state_from_code(code: u8) -> TokenState {
    match code {
        0 => TokenState::Fresh,
        1 => TokenState::Stale,
        _ => TokenState::Invalid,
    }
}
