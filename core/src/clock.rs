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
/// - `system_time()` is `now()` as a [`SystemTime`], possibly read from a coarser clock that
///   lags `now()` by a little. The default converts `now()`; a clock
///   that reads the system time anyway overrides it to skip the calendar conversion, which is
///   most of the cost of reading the time on the hot path of
///   [`Credentials::apply`](crate::Credentials::apply). [`SystemClock`] reads the coarse wall
///   clock there (see its docs). credkit reads `system_time()` for one question only: is the
///   cached token certainly still fresh? It trusts the answer only up to one second before the
///   token turns stale; closer than that, and for every other decision (expiry, refresh ahead,
///   retries, events), it reads `now()`. So a clock whose `system_time()` lags `now()` by less
///   than a second changes no decision (nor does one that runs ahead: it only sends calls to
///   `now()` sooner); one that lags by more may serve a token for as long as the excess after
///   it turned stale, harmless while that stays small against the refresh threshold (225 s by
///   default).
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

    /// [`now`](Clock::now) as a [`SystemTime`], for comparisons that need no calendar: the same
    /// instant, or one read from a coarser clock that may lag `now()` by a little (less than a
    /// second; [`SystemClock`]'s lags by about one kernel tick, a few milliseconds). Read only by the hot path's
    /// check that the cached token is certainly fresh, which stops trusting it one second
    /// before the token turns stale (see the trait's contract). Default: converts `now()`.
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

/// How long before a token turns stale the hot path stops trusting [`Clock::system_time`] and
/// reads [`Clock::now`] instead: far longer than a coarse clock lags (one tick, a few
/// milliseconds), so reading the coarse clock changes no decision, and short enough that the
/// precise reads it costs, once per call in that last second, do not matter.
pub(crate) const SYSTEM_TIME_MARGIN: Duration = Duration::from_secs(1);

/// The system's clock: `OffsetDateTime::now_utc()`, and sleeps that work on any executor (a
/// `futures-timer` delay; no tokio needed).
///
/// [`system_time`](Clock::system_time), read on the hot path of
/// [`Credentials::apply`](crate::Credentials::apply), is the coarse wall clock where the platform
/// has one (`CLOCK_REALTIME_COARSE` on Linux and Android, its alias `CLOCK_REALTIME_FAST` on
/// FreeBSD): the time of the last kernel tick, so it lags the precise clock by about one tick
/// (1 to 10 ms, 4 ms on most Linux kernels; a little more when a busy machine handles the
/// tick late), and costs a fraction of a precise read (7 ns against 23 ns on a 2-vCPU VM). It
/// is a wall clock like [`SystemTime::now`], so it follows the same steps (a clock set by
/// hand or by NTP) and keeps counting while the machine sleeps; a token never looks fresh
/// after a resume just because the clock stopped. credkit only asks it whether the cached
/// token is certainly fresh, and stops trusting it one second before the token turns stale,
/// far more than a tick; every other decision reads the precise [`now`](Clock::now). Elsewhere
/// `system_time` is [`SystemTime::now`].
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
        coarse::now()
    }
}

/// The coarse wall clock where the platform has one, read with rustix's safe `clock_gettime`;
/// elsewhere the precise one. One `now` for every platform, the branch inside it, so that
/// mutation testing on Linux reaches all of it.
mod coarse {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    use std::time::Duration;
    use std::time::SystemTime;

    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    use rustix::time::{ClockId, DynamicClockId, Timespec, clock_gettime_dynamic};

    /// The wall clock as of the last tick; the precise clock where there is no coarse one, or
    /// if the kernel refuses it (rustix's infallible `clock_gettime` would panic instead).
    #[inline]
    pub(super) fn now() -> SystemTime {
        #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
        if let Some(at) = clock_gettime_dynamic(DynamicClockId::Known(ClockId::RealtimeCoarse))
            .ok()
            .and_then(to_system_time)
        {
            return at;
        }
        SystemTime::now()
    }

    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    #[inline]
    fn to_system_time(at: Timespec) -> Option<SystemTime> {
        let nanos = u32::try_from(at.tv_nsec).ok()?;
        match u64::try_from(at.tv_sec) {
            Ok(secs) => SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos)),
            // Before 1970: a clock set very wrong, still read as it says.
            Err(_) => SystemTime::UNIX_EPOCH
                .checked_sub(Duration::from_secs(at.tv_sec.unsigned_abs()))?
                .checked_add(Duration::from_nanos(u64::from(nanos))),
        }
    }

    #[cfg(all(
        test,
        any(target_os = "linux", target_os = "android", target_os = "freebsd")
    ))]
    mod tests {
        use super::*;

        #[test]
        fn timespecs_convert_exactly() {
            let at = |tv_sec, tv_nsec| to_system_time(Timespec { tv_sec, tv_nsec });
            let epoch = SystemTime::UNIX_EPOCH;
            assert_eq!(at(0, 0), Some(epoch));
            assert_eq!(at(1, 5), Some(epoch + Duration::new(1, 5)));
            assert_eq!(at(-2, 250), Some(epoch - Duration::new(1, 999_999_750)));
            assert_eq!(at(0, -1), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The coarse clock's resolution: one tick.
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    fn resolution() -> Duration {
        let tick = rustix::time::clock_getres(rustix::time::ClockId::RealtimeCoarse);
        Duration::try_from(tick).unwrap()
    }

    /// Zero: `system_time` reads the precise clock here.
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    fn resolution() -> Duration {
        Duration::ZERO
    }

    /// How far the coarse clock may lag the precise one in a test: one tick, plus slack for a
    /// tick handled late on a busy virtual machine (5.6 ms behind with 4 ms ticks, seen on a
    /// loaded 2-vCPU VM).
    fn coarse_lag() -> Duration {
        resolution() + Duration::from_millis(20)
    }

    #[test]
    fn system_time_and_now_agree() {
        let before = SystemClock.now();
        let system = OffsetDateTime::from(SystemClock.system_time());
        let after = SystemClock.now();
        assert!(before - coarse_lag() <= system, "{before} {system}");
        assert!(system <= after, "{system} {after}");
    }

    #[test]
    fn the_coarse_read_is_close_to_the_precise_one() {
        for _ in 0..1_000 {
            let before = SystemTime::now();
            let coarse = SystemClock.system_time();
            let after = SystemTime::now();
            assert!(coarse <= after, "{coarse:?} is ahead of {after:?}");
            let lag = before.duration_since(coarse).unwrap_or(Duration::ZERO);
            assert!(lag <= coarse_lag(), "{lag:?} behind");
        }
    }

    #[test]
    fn a_tick_is_well_inside_the_hot_path_margin() {
        let tick = resolution();
        assert!(tick * 10 <= SYSTEM_TIME_MARGIN, "{tick:?}");
        assert!(coarse_lag() * 10 <= SYSTEM_TIME_MARGIN);
    }

    #[test]
    fn system_sleep_completes_without_a_runtime() {
        futures::executor::block_on(SystemClock.sleep(Duration::ZERO));
    }
}
