//! The shared state behind every `Credentials` clone, the decisions about refreshing, and the
//! flights that run refreshes.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, TryLockError, Weak};
use std::task::{Context, Poll};

use arc_swap::ArcSwapOption;
use futures::FutureExt;
use futures::future::{Either, select};
use http::HeaderMap;
use time::OffsetDateTime;

use super::errors;
use super::events::RefreshEvent;
use super::refresh::{Config, Outcome, Plan, SharedRefresh, Trigger, lock, quietly};
use super::snapshot::Snapshot;
use crate::{Clock, Error, TokenState};

/// Marks "no retry gate" in [`Inner::retry_not_before`].
const NO_GATE: i64 = i64::MIN;

pub(super) struct Inner {
    /// The cached token. The hot path is one load of this.
    pub(super) cache: ArcSwapOption<Snapshot>,
    /// The clock, also in `config`; here to save a pointer hop on the hot path.
    pub(super) clock: Arc<dyn Clock>,
    pub(super) config: Arc<Config>,
    flights: Mutex<Flights>,
    /// After a failed refresh, no refresh ahead or background refresh starts before this instant
    /// (Unix milliseconds).
    retry_not_before: AtomicI64,
    /// The last state reported to the observer, as `state_code`.
    last_state: AtomicU8,
}

/// The one refresh in flight, if any, and what the next one should do.
#[derive(Default)]
struct Flights {
    current: Option<Flight>,
    next_id: u64,
    /// Whether the stored token was already considered (on start) or must not be (after an
    /// invalidation: storage would hold the rejected token).
    storage_checked: bool,
    /// Why the last refresh failed, until one succeeds.
    last_error: Option<Error>,
    /// The token the last invalidation dropped: never taken back from storage.
    rejected: Option<Arc<Snapshot>>,
}

struct Flight {
    id: u64,
    future: SharedRefresh,
    /// How many callers (or spawned tasks) hold a [`Driven`] for it.
    drivers: Arc<AtomicUsize>,
    /// When its deadline passes by the clock. A flight found past it was abandoned or hung:
    /// nobody joins it any more, and a new one replaces it.
    deadline: OffsetDateTime,
    /// Whether it holds the storage's cross-process lease: then, once nobody drives it, it is
    /// dropped at once (releasing the lease) rather than kept to be resumed.
    holds_lease: Arc<AtomicBool>,
    inner: Weak<Inner>,
}

impl Flight {
    fn join(&self) -> Driven {
        self.drivers.fetch_add(1, Ordering::AcqRel);
        Driven {
            id: self.id,
            future: self.future.clone(),
            drivers: Arc::clone(&self.drivers),
            holds_lease: Arc::clone(&self.holds_lease),
            inner: Weak::clone(&self.inner),
        }
    }
}

/// What a waiting caller does next.
pub(super) enum Wait {
    /// Await this refresh.
    Refresh(Driven),
    /// A refresh just finished: use this token.
    Ready(Arc<Snapshot>),
}

impl Inner {
    pub(super) fn new(config: Arc<Config>, initial: Option<Arc<Snapshot>>) -> Self {
        let state = initial
            .as_ref()
            .map_or(TokenState::Invalid, |s| s.state(config.clock.now()));
        Self {
            cache: ArcSwapOption::new(initial),
            clock: Arc::clone(&config.clock),
            config,
            flights: Mutex::new(Flights::default()),
            retry_not_before: AtomicI64::new(NO_GATE),
            last_state: AtomicU8::new(state_code(state)),
        }
    }

    /// The hot path: writes the cached token into `headers` if it is fresh. One atomic load, one
    /// clock read (none for a token without expiry), a reference-count increment per header.
    #[inline]
    pub(super) fn write_if_fresh(&self, headers: &mut HeaderMap) -> bool {
        self.if_fresh(|snapshot| snapshot.write(headers)).is_some()
    }

    /// The hot path of `headers()`: a clone of the fresh token's ready map.
    #[inline]
    pub(super) fn headers_if_fresh(&self) -> Option<HeaderMap> {
        self.if_fresh(Snapshot::headers)
    }

    #[inline]
    fn if_fresh<R>(&self, f: impl FnOnce(&Snapshot) -> R) -> Option<R> {
        let cached = self.cache.load();
        let snapshot = cached.as_deref()?;
        // The clock's `system_time` skips the calendar conversion that is most of the cost of
        // reading the time; the calendar time is read only where a `SystemTime` cannot say.
        let fresh = if snapshot.never_stale() {
            true
        } else {
            match snapshot.is_fresh_at_system(self.clock.system_time()) {
                Some(true) => true,
                Some(false) => false,
                None => snapshot.is_fresh(self.clock.now()),
            }
        };
        if !fresh {
            return None;
        }
        let result = f(snapshot);
        self.observe(TokenState::Fresh);
        Some(result)
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
        if self.config.observer.is_some()
            && self.last_state.load(Ordering::Relaxed) != state_code(state)
        {
            self.state_changed(state);
        }
    }

    #[cold]
    fn state_changed(&self, to: TokenState) {
        let from = self.last_state.swap(state_code(to), Ordering::AcqRel);
        if from != state_code(to) {
            self.config.emit(&RefreshEvent::StateChanged {
                from: state_from_code(from),
                to,
            });
        }
    }

    /// Whether a refresh ahead or a background refresh may start at `now`: not within the
    /// minimum retry interval after a failure.
    fn may_start_unasked(&self, now: OffsetDateTime) -> bool {
        unix_millis(now) >= self.retry_not_before.load(Ordering::Acquire)
    }

    /// For a caller that cannot use the cached token: the refresh to wait for, joining the one
    /// in flight or starting one. Under the lock the cache is checked again, so a caller that
    /// raced a finishing refresh takes its token instead of starting another.
    pub(super) fn wait(self: &Arc<Self>, trigger: Trigger) -> Wait {
        let mut flights = lock(&self.flights);
        let now = self.clock.now();
        if let Some(flight) = flights.live(now) {
            return Wait::Refresh(flight.join());
        }
        if trigger == Trigger::Invalid
            && let Some(snapshot) = self.cache.load_full()
            && snapshot.state(now) != TokenState::Invalid
        {
            return Wait::Ready(snapshot);
        }
        Wait::Refresh(self.start(&mut flights, trigger, now).join())
    }

    /// For a caller holding a stale token: starts or revives the refresh ahead. With a spawner
    /// the refresh runs there and this returns `None`; without one, it returns the refresh for
    /// this caller to drive, or `None` if another caller already drives it, one failed too
    /// recently, or the lock is busy (whoever holds it is dealing with the refresh).
    pub(super) fn refresh_ahead(self: &Arc<Self>, now: OffsetDateTime) -> Option<Driven> {
        if !self.may_start_unasked(now) {
            return None;
        }
        let driven = self.driver_needed(Trigger::Ahead)?;
        self.spawn_or_return(driven)
    }

    /// For a caller that cannot wait (`apply` on an invalid token): makes sure a refresh runs on
    /// the spawner, if there is one and no refresh failed within the minimum retry interval.
    pub(super) fn refresh_in_background(self: &Arc<Self>, now: OffsetDateTime) {
        if self.config.spawner.is_some()
            && self.may_start_unasked(now)
            && let Some(driven) = self.driver_needed(Trigger::Invalid)
        {
            // The caller cannot drive it: if the spawner failed, the next caller will.
            drop(self.spawn_or_return(driven));
        }
    }

    /// A hold on the refresh if it needs a driver: none in flight (and the cache still needs
    /// one), or one whose every driver was dropped. `None` if it is driven already, or the lock
    /// is busy (whoever holds it is dealing with the refresh).
    fn driver_needed(self: &Arc<Self>, trigger: Trigger) -> Option<Driven> {
        let mut flights = match self.flights.try_lock() {
            Ok(flights) => flights,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        let now = self.clock.now();
        match flights.live(now) {
            Some(flight) if flight.drivers.load(Ordering::Acquire) > 0 => None,
            // Its last driver was dropped mid-refresh, within its deadline: take over.
            Some(flight) => Some(flight.join()),
            None => {
                let satisfied = self.cache.load().as_deref().is_some_and(|s| match trigger {
                    Trigger::Ahead => s.is_fresh(now),
                    _ => s.state(now) != TokenState::Invalid,
                });
                if satisfied {
                    return None;
                }
                Some(self.start(&mut flights, trigger, now).join())
            }
        }
    }

    /// Hands `driven` to the spawner if there is one (outside the lock: a spawner may run the
    /// future inline), or back to the caller to drive. A spawner that panics (tokio's
    /// `spawn` outside a runtime) is reported, and the caller gets the refresh to drive.
    fn spawn_or_return(&self, driven: Driven) -> Option<Driven> {
        let Some(spawner) = &self.config.spawner else {
            return Some(driven);
        };
        let id = driven.flight_id();
        let handed_over = catch_unwind(AssertUnwindSafe(|| {
            spawner.spawn(Box::pin(async move {
                // The outcome is published to the cache and reported to the observer.
                let _outcome = driven.await;
            }));
        }));
        if handed_over.is_ok() {
            return None;
        }
        quietly(|| {
            tracing::error!(
                source = self.config.source.name(),
                "the spawner panicked; the refresh falls back to the callers that wait for it"
            );
        });
        self.config.emit(&RefreshEvent::SpawnerPanicked);
        let flights = lock(&self.flights);
        let flight = flights.current.as_ref()?;
        (flight.id == id).then(|| flight.join())
    }

    /// Starts flight after flight `now`, replacing one past its deadline.
    fn start<'a>(
        self: &Arc<Self>,
        flights: &'a mut Flights,
        trigger: Trigger,
        now: OffsetDateTime,
    ) -> &'a Flight {
        if let Some(old) = flights.current.take() {
            quietly(|| {
                tracing::warn!(
                    source = self.config.source.name(),
                    drivers = old.drivers.load(Ordering::Acquire),
                    "a refresh passed its deadline unfinished (abandoned or hung); starting a new one"
                );
            });
        }
        let id = flights.next_id;
        flights.next_id = flights.next_id.wrapping_add(1);
        let check_storage =
            !flights.storage_checked && trigger != Trigger::Forced && self.config.storage.is_some();
        flights.storage_checked = true;
        // A deadline past the calendar's end is no deadline.
        let deadline = after(now, self.config.flight_deadline)
            .unwrap_or_else(|| time::PrimitiveDateTime::MAX.assume_utc());
        let holds_lease = Arc::new(AtomicBool::new(false));
        let plan = Plan {
            trigger,
            check_storage,
            deadline,
            known: self.cache.load_full().or_else(|| flights.rejected.clone()),
            holds_lease: Arc::clone(&holds_lease),
        };
        let future = flight(Arc::clone(&self.config), Arc::downgrade(self), id, plan);
        flights.current.insert(Flight {
            id,
            future,
            drivers: Arc::new(AtomicUsize::new(0)),
            deadline,
            holds_lease,
            inner: Arc::downgrade(self),
        })
    }

    /// Publishes what flight `id` got, before anyone awaiting it sees it, and clears the slot.
    fn finish(&self, id: u64, result: Outcome) -> Outcome {
        let now = self.clock.now();
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
                }
                let how = refreshed.how;
                quietly(|| {
                    tracing::info!(
                        source = self.config.source.name(),
                        expiry = ?snapshot.expiry(),
                        from_storage = how.from_storage,
                        rotated_refresh_token = how.rotated,
                        "access token refreshed"
                    );
                });
                self.config.emit(&RefreshEvent::Refreshed {
                    expiry: snapshot.expiry(),
                    from_storage: how.from_storage,
                    rotated_refresh_token: how.rotated,
                });
                self.observe(snapshot.state(now));
                Ok(refreshed)
            }
            Err(error) => {
                let keeps_token = self
                    .cache
                    .load()
                    .as_deref()
                    .is_some_and(|s| s.state(now) != TokenState::Invalid);
                // No refresh ahead or background refresh before the minimum retry interval:
                // a failing endpoint is not hammered by `apply()` or a spawner.
                let gate = after(now, self.config.min_retry_interval).map_or(i64::MAX, unix_millis);
                self.retry_not_before.store(gate, Ordering::Release);
                {
                    let mut flights = lock(&self.flights);
                    flights.clear(id);
                    flights.last_error = Some(error.clone());
                }
                quietly(|| {
                    tracing::warn!(
                        source = self.config.source.name(),
                        kind = %error.kind(),
                        transient = error.is_transient(),
                        keeps_token,
                        error = %error,
                        "refreshing the access token failed"
                    );
                });
                self.config.emit(&RefreshEvent::Failed {
                    error: error.clone(),
                    keeps_token,
                });
                Err(error)
            }
        }
    }

    /// Drops flight `id` if nobody drives it any more: its storage lease is released at once
    /// (dropping the future drops the lease), so other processes need not wait for it.
    fn abandon(&self, id: u64) {
        let abandoned = {
            let mut flights = lock(&self.flights);
            match &flights.current {
                Some(flight) if flight.id == id && flight.drivers.load(Ordering::Acquire) == 0 => {
                    flights.current.take()
                }
                _ => None,
            }
        };
        if abandoned.is_some() {
            quietly(|| {
                tracing::debug!(
                    source = self.config.source.name(),
                    "a refresh nobody waits for was dropped, releasing the storage's lease"
                );
            });
        }
        // Dropped here, outside the lock.
        drop(abandoned);
    }

    /// Drops the cached token if it is still `current`; true if this call dropped it.
    pub(super) fn invalidate(&self, matches: impl FnOnce(&Snapshot) -> bool) -> bool {
        let current = self.cache.load();
        let Some(snapshot) = current.as_deref() else {
            return false;
        };
        if !matches(snapshot) {
            return false;
        }
        let previous = self.cache.compare_and_swap(&current, None);
        let dropped = match (previous.as_ref(), current.as_ref()) {
            (Some(previous), Some(current)) => Arc::ptr_eq(previous, current),
            _ => false,
        };
        if dropped {
            // Storage holds the rejected token too: never reload it.
            {
                let mut flights = lock(&self.flights);
                flights.storage_checked = true;
                flights.rejected = current.as_ref().map(Arc::clone);
            }
            quietly(|| {
                tracing::debug!(
                    source = self.config.source.name(),
                    "cached access token invalidated after a rejection"
                );
            });
            self.observe(TokenState::Invalid);
        }
        dropped
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

impl Flights {
    /// The flight in progress, unless it is past its deadline.
    fn live(&self, now: OffsetDateTime) -> Option<&Flight> {
        self.current.as_ref().filter(|flight| now < flight.deadline)
    }

    fn clear(&mut self, id: u64) {
        if self.current.as_ref().is_some_and(|f| f.id == id) {
            self.current = None;
        }
    }
}

/// The future of flight `id`: obtains a token within the flight deadline, then publishes the
/// outcome through `inner` (if any handle is left). Boxed and shared, so every waiting caller
/// gets the same outcome.
fn flight(config: Arc<Config>, inner: Weak<Inner>, id: u64, plan: Plan) -> SharedRefresh {
    // The deadline runs from now, not from the first poll.
    let timer = config.clock.timeout(config.flight_deadline);
    async move {
        quietly(|| {
            tracing::debug!(
                source = config.source.name(),
                trigger = plan.trigger.as_str(),
                "refreshing the access token"
            );
        });
        // A panic that escaped `obtain`'s own guards must not poison the shared future and
        // wedge every caller.
        let work = AssertUnwindSafe(config.obtain(&plan))
            .catch_unwind()
            .boxed();
        // The timer comes first: past the deadline, a reply that is also ready is stale.
        let result = match select(timer, work).await {
            Either::Left(((), _abandoned)) => Err(errors::flight_timed_out(config.flight_deadline)),
            Either::Right((Ok(result), _)) => result,
            Either::Right((Err(_panic), _)) => Err(Error::internal(
                "a refresh panicked outside the token source and the storage",
            )),
        };
        match inner.upgrade() {
            Some(inner) => inner.finish(id, result),
            // Every handle is gone: nobody to publish to.
            None => result,
        }
    }
    .boxed()
    .shared()
}

/// `now` plus `wait`; `None` past the calendar's end.
fn after(now: OffsetDateTime, wait: std::time::Duration) -> Option<OffsetDateTime> {
    now.checked_add(time::Duration::try_from(wait).ok()?)
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

/// A caller's hold on a refresh in flight. While one exists the refresh has a driver; dropping
/// it (a cancelled caller) leaves the refresh in place for the next caller to drive, unless it
/// holds the storage's lease: the last driver's drop then drops the refresh and its lease.
pub(super) struct Driven {
    /// The flight's id.
    id: u64,
    future: SharedRefresh,
    drivers: Arc<AtomicUsize>,
    holds_lease: Arc<AtomicBool>,
    inner: Weak<Inner>,
}

impl Driven {
    /// The id of the flight this holds.
    pub(super) fn flight_id(&self) -> u64 {
        self.id
    }
}

impl Drop for Driven {
    fn drop(&mut self) {
        let last = self.drivers.fetch_sub(1, Ordering::AcqRel) == 1;
        if last
            && self.holds_lease.load(Ordering::Acquire)
            && let Some(inner) = self.inner.upgrade()
        {
            inner.abandon(self.id);
        }
    }
}

impl Future for Driven {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        self.future.poll_unpin(cx)
    }
}
