//! The `Clock` trait: every time decision and every wait in credkit.

use std::fmt::Debug;
use std::time::{Duration, SystemTime};

use futures::FutureExt;
use futures::future::BoxFuture;
use time::OffsetDateTime;

/// The current time and a way to wait.
///
/// Expiry decisions read [`now`](Clock::now); backoff and refresh-ahead waits use
/// [`sleep`](Clock::sleep). Nothing in credkit reads the system time or sleeps any other way, so a
/// fake clock (`credkit_testing::FakeClock`) makes every time-dependent test instant and
/// deterministic.
///
/// # Contract
///
/// - `now` is UTC and cheap; it need not be monotonic, but a clock that jumps backwards only delays
///   refreshes.
/// - `sleep(d)` returns a future that completes once `d` has passed by this clock. It must not
///   block the thread. Dropping the future cancels the wait and must leave the clock unaffected.
/// - `timeout(d)` is the same kind of future, used as a deadline that races other work (a
///   refresh that may hang). The default is `sleep(d)`. A clock that moves time forward when
///   code sleeps (a test clock in auto-advance mode) must not do so for a timeout: a timeout is
///   a guard, not a wait, and jumping to it would fail the work it guards at once.
/// - `system_time()` is `now()` as a [`SystemTime`]. The default converts `now()`; a clock that
///   reads the system time anyway overrides it to skip the calendar conversion, which is most
///   of the cost of reading the time on the hot path of
///   [`Credentials::apply`](crate::Credentials::apply).
/// - Thread safety: shared as `Arc<dyn Clock>` across threads.
///
/// # Examples
///
/// A clock frozen at one instant whose sleeps complete at once:
///
/// ```
/// use std::time::Duration;
/// use futures::future::{self, BoxFuture, FutureExt};
/// use time::{macros::datetime, OffsetDateTime};
/// use credkit_core::Clock;
///
/// #[derive(Debug)]
/// struct Frozen(OffsetDateTime);
///
/// impl Clock for Frozen {
///     fn now(&self) -> OffsetDateTime {
///         self.0
///     }
///     fn sleep(&self, _duration: Duration) -> BoxFuture<'static, ()> {
///         future::ready(()).boxed()
///     }
/// }
///
/// let clock = Frozen(datetime!(2026-01-01 0:00 UTC));
/// futures::executor::block_on(clock.sleep(Duration::from_secs(3600)));
/// assert_eq!(clock.now(), datetime!(2026-01-01 0:00 UTC));
/// ```
pub trait Clock: Send + Sync + Debug {
    /// The current time, in UTC.
    fn now(&self) -> OffsetDateTime;

    /// A future that completes after `duration` has passed by this clock.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;

    /// A future that completes after `duration` has passed by this clock, used as a deadline
    /// for other work. Default: [`sleep`](Clock::sleep). See the trait's contract for how it
    /// differs from a sleep in a test clock.
    fn timeout(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.sleep(duration)
    }

    /// [`now`](Clock::now) as a [`SystemTime`]: the same instant, for comparisons that need no
    /// calendar. Default: converts `now()`.
    fn system_time(&self) -> SystemTime {
        self.now().into()
    }
}

crate::forward_impls! {
    trait Clock {
        fn now(&self) -> OffsetDateTime;
        fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
        fn timeout(&self, duration: Duration) -> BoxFuture<'static, ()>;
        #[inline]
        fn system_time(&self) -> SystemTime;
    }
}

/// The system's clock: `OffsetDateTime::now_utc()`, and sleeps that work on any executor (a
/// `futures-timer` delay; no tokio needed).
///
/// ```
/// use credkit_core::{Clock, SystemClock};
///
/// let before = SystemClock.now();
/// assert!(SystemClock.now() >= before);
/// ```
// A unit struct users construct by name; it will never grow fields.
#[allow(clippy::exhaustive_structs)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        futures_timer::Delay::new(duration).boxed()
    }

    #[inline]
    fn system_time(&self) -> SystemTime {
        SystemTime::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_time_and_now_agree() {
        let before = SystemClock.now();
        let system = OffsetDateTime::from(SystemClock.system_time());
        let after = SystemClock.now();
        assert!(before <= system && system <= after);
    }

    #[test]
    fn system_sleep_completes_without_a_runtime() {
        futures::executor::block_on(SystemClock.sleep(Duration::ZERO));
    }
}
