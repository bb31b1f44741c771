//! `FakeClock`: a clock that moves only when the test says so.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use credkit_core::Clock;
use futures::FutureExt;
use futures::future::BoxFuture;
use time::OffsetDateTime;
use time::macros::datetime;

/// A [`Clock`] for tests: time stands still until the test sets or advances it, and pending
/// [`sleep`](Clock::sleep)s complete when time passes their deadline.
///
/// In **auto-advance** mode, `sleep(d)` instead moves time forward by `d` and completes at once,
/// so code that backs off between retries runs instantly and the test can read the waits from
/// [`sleeps`](FakeClock::sleeps). Every `sleep` call is recorded in either mode.
///
/// It is a cheap cloneable handle: give one clone to the code under test (as `Arc<dyn Clock>`)
/// and keep one to drive time.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use futures::FutureExt;
/// use credkit_core::Clock;
/// use credkit_testing::FakeClock;
///
/// let clock = FakeClock::new();
/// let start = clock.now();
/// let mut nap = clock.sleep(Duration::from_secs(60));
/// assert!((&mut nap).now_or_never().is_none()); // not yet
/// clock.advance(Duration::from_secs(60));
/// assert!(nap.now_or_never().is_some()); // done
/// assert_eq!(clock.now() - start, time::Duration::seconds(60));
///
/// let auto = FakeClock::new().with_auto_advance(true);
/// futures::executor::block_on(auto.sleep(Duration::from_secs(2)));
/// assert_eq!(auto.sleeps(), [Duration::from_secs(2)]);
/// ```
#[derive(Clone)]
pub struct FakeClock {
    shared: Arc<Mutex<State>>,
}

struct State {
    now: OffsetDateTime,
    auto_advance: bool,
    sleeps: Vec<Duration>,
    next_id: u64,
    pending: BTreeMap<u64, Sleeper>,
}

struct Sleeper {
    deadline: OffsetDateTime,
    waker: Option<Waker>,
    /// A [`Clock::timeout`]: a deadline guarding other work, not a wait of the code under test.
    timeout: bool,
}

/// The instant a new [`FakeClock`] starts at: 2026-01-01T00:00:00Z.
pub const FAKE_CLOCK_START: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

impl Default for FakeClock {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeClock {
    /// A clock at [`FAKE_CLOCK_START`], not auto-advancing.
    pub fn new() -> Self {
        Self::at(FAKE_CLOCK_START)
    }

    /// A clock at `now`.
    pub fn at(now: OffsetDateTime) -> Self {
        Self {
            shared: Arc::new(Mutex::new(State {
                now,
                auto_advance: false,
                sleeps: Vec::new(),
                next_id: 0,
                pending: BTreeMap::new(),
            })),
        }
    }

    /// Turns auto-advance on or off (see the type's docs).
    #[must_use]
    pub fn with_auto_advance(self, on: bool) -> Self {
        self.set_auto_advance(on);
        self
    }

    /// Turns auto-advance on or off on a shared clock.
    pub fn set_auto_advance(&self, on: bool) {
        self.lock().auto_advance = on;
    }

    /// Sets the time to `now` (forwards or backwards) and completes the sleeps it passes.
    pub fn set(&self, now: OffsetDateTime) {
        let wakers = {
            let mut state = self.lock();
            state.now = now;
            state.take_due()
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Moves time forward by `by` and completes the sleeps it passes.
    pub fn advance(&self, by: Duration) {
        let wakers = {
            let mut state = self.lock();
            state.now = add(state.now, by);
            state.take_due()
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Moves time to the earliest pending sleep's deadline, completing it (and any others due
    /// then, timeouts included). Returns how far time moved, or `None` if nothing was sleeping.
    /// Pending [`timeout`](Clock::timeout)s are not sleeps: they never decide how far to move.
    pub fn advance_to_next_sleep(&self) -> Option<Duration> {
        let wakers;
        let moved;
        {
            let mut state = self.lock();
            let deadline = state
                .pending
                .values()
                .filter(|s| !s.timeout)
                .map(|s| s.deadline)
                .min()?;
            moved = Duration::try_from(deadline - state.now).unwrap_or(Duration::ZERO);
            state.now = state.now.max(deadline);
            wakers = state.take_due();
        }
        wakers.into_iter().for_each(Waker::wake);
        Some(moved)
    }

    /// Every duration passed to `sleep`, in call order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    /// How many sleeps are waiting for time to pass their deadline (timeouts not counted).
    pub fn pending_sleeps(&self) -> usize {
        self.lock().pending.values().filter(|s| !s.timeout).count()
    }

    /// How many [`timeout`](Clock::timeout)s (deadlines guarding other work, such as a refresh)
    /// are waiting for time to pass them.
    pub fn pending_timeouts(&self) -> usize {
        self.lock().pending.values().filter(|s| s.timeout).count()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state consistent, so a poisoned lock is still usable.
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn take_due(&mut self) -> Vec<Waker> {
        let now = self.now;
        let due: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, s)| s.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        due.into_iter()
            .filter_map(|id| self.pending.remove(&id).and_then(|s| s.waker))
            .collect()
    }
}

fn add(now: OffsetDateTime, by: Duration) -> OffsetDateTime {
    let by = time::Duration::try_from(by).unwrap_or(time::Duration::MAX);
    now.checked_add(by)
        .unwrap_or_else(|| OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT))
}

impl fmt::Debug for FakeClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("FakeClock")
            .field("now", &state.now)
            .field("auto_advance", &state.auto_advance)
            .field("pending_sleeps", &state.pending.len())
            .finish_non_exhaustive()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> OffsetDateTime {
        self.lock().now
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        let mut state = self.lock();
        state.sleeps.push(duration);
        if state.auto_advance {
            state.now = add(state.now, duration);
            let wakers = state.take_due();
            drop(state);
            wakers.into_iter().for_each(Waker::wake);
            return futures::future::ready(()).boxed();
        }
        drop(state);
        self.pending(duration, false)
    }

    /// Never moves time, in auto-advance mode either, and is not recorded in
    /// [`sleeps`](FakeClock::sleeps): it completes when the test (or an auto-advancing sleep)
    /// moves time past it.
    fn timeout(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.pending(duration, true)
    }
}

impl FakeClock {
    /// A future that completes once time passes `duration` from now.
    fn pending(&self, duration: Duration, timeout: bool) -> BoxFuture<'static, ()> {
        let mut state = self.lock();
        let deadline = add(state.now, duration);
        if deadline <= state.now {
            return futures::future::ready(()).boxed();
        }
        let id = state.next_id;
        state.next_id += 1;
        state.pending.insert(
            id,
            Sleeper {
                deadline,
                waker: None,
                timeout,
            },
        );
        drop(state);
        Sleep {
            shared: Arc::clone(&self.shared),
            id,
            deadline,
            timeout,
        }
        .boxed()
    }
}

/// A pending `FakeClock::sleep`. Dropping it unregisters it.
struct Sleep {
    shared: Arc<Mutex<State>>,
    id: u64,
    deadline: OffsetDateTime,
    timeout: bool,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        if state.now >= self.deadline {
            state.pending.remove(&self.id);
            return Poll::Ready(());
        }
        // The entry may be gone if `set` moved time past the deadline and then back.
        let (deadline, timeout) = (self.deadline, self.timeout);
        state
            .pending
            .entry(self.id)
            .or_insert(Sleeper {
                deadline,
                waker: None,
                timeout,
            })
            .waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pending
            .remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_complete_in_deadline_order() {
        let clock = FakeClock::new();
        let mut long = clock.sleep(Duration::from_secs(10));
        let mut short = clock.sleep(Duration::from_secs(5));
        assert_eq!(clock.pending_sleeps(), 2);
        assert_eq!(clock.advance_to_next_sleep(), Some(Duration::from_secs(5)));
        assert!((&mut short).now_or_never().is_some());
        assert!((&mut long).now_or_never().is_none());
        clock.advance(Duration::from_secs(5));
        assert!(long.now_or_never().is_some());
        assert_eq!(clock.pending_sleeps(), 0);
        assert_eq!(clock.advance_to_next_sleep(), None);
    }

    #[test]
    fn a_timeout_never_moves_time_and_is_not_a_sleep() {
        let clock = FakeClock::new().with_auto_advance(true);
        let start = clock.now();
        let mut guard = clock.timeout(Duration::from_secs(60));
        assert_eq!(clock.now(), start);
        assert!((&mut guard).now_or_never().is_none());
        assert_eq!((clock.pending_sleeps(), clock.pending_timeouts()), (0, 1));
        assert!(clock.sleeps().is_empty());
        assert_eq!(clock.advance_to_next_sleep(), None);
        // An auto-advancing sleep past the deadline completes it.
        futures::executor::block_on(clock.sleep(Duration::from_secs(61)));
        assert!(guard.now_or_never().is_some());
        assert_eq!(clock.pending_timeouts(), 0);
    }

    #[test]
    fn dropped_sleep_unregisters() {
        let clock = FakeClock::new();
        let nap = clock.sleep(Duration::from_secs(1));
        assert_eq!(clock.pending_sleeps(), 1);
        drop(nap);
        assert_eq!(clock.pending_sleeps(), 0);
    }

    #[test]
    fn zero_sleep_is_ready() {
        let clock = FakeClock::new();
        assert!(clock.sleep(Duration::ZERO).now_or_never().is_some());
        assert_eq!(clock.sleeps(), [Duration::ZERO]);
    }

    #[test]
    fn auto_advance_moves_time_and_wakes_others() {
        let clock = FakeClock::new();
        let mut other = clock.sleep(Duration::from_secs(3));
        clock.set_auto_advance(true);
        futures::executor::block_on(clock.sleep(Duration::from_secs(5)));
        assert_eq!(clock.now(), FAKE_CLOCK_START + time::Duration::seconds(5));
        assert!((&mut other).now_or_never().is_some());
    }

    #[test]
    fn waking_across_threads() {
        let clock = FakeClock::new();
        let nap = clock.sleep(Duration::from_secs(30));
        let driver = clock.clone();
        let handle = std::thread::spawn(move || futures::executor::block_on(nap));
        // The sleeper thread either polls before or after this advance; both must finish.
        driver.advance(Duration::from_secs(30));
        handle.join().unwrap();
    }
}
