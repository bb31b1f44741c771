//! The flight: the one refresh in progress, who drives it, and until when callers wait for it.
//!
//! A flight is a shared future that runs one refresh; every caller that needs it holds a
//! [`Driven`] and polls it. What happens when nobody polls it any more depends on one mark,
//! [`Marks::granting`]: whether a grant is out with its answer not yet in hand.
//!
//! - **Before its grant** (waiting for the lease, loading the record), a flight nobody drives
//!   is dropped at once: nothing is lost, and its lease (or the lease it was about to get) is
//!   released, so other processes need not wait for it.
//! - **During its grant**, the flight is never dropped. With a spawner its last driver hands it
//!   over as a *finisher* task, which drives it to its end; without one it is kept, and the next
//!   caller drives it, even past its deadline (which is then renewed for that caller). One
//!   bound remains, so a source that never returns cannot wedge the credentials for good: a
//!   grant unanswered for twice the flight deadline (the *grant limit*) is presumed lost, and
//!   the next caller starts a new flight. Not before it polled the old one once, though: an
//!   answer that arrived while nobody drove the flight is read, not thrown away.
//! - **After its grant**, the answer's record update is already kept in the storage slot until
//!   a store confirms it (see `refresher.rs`), so the flight may be dropped again.
//!
//! Callers never wait past their deadline: each [`Driven`] carries one, and [`within`] fails
//! the caller with a transient timeout when it passes, whatever the flight does next.
//!
//! **Two clocks.** Deadlines are instants of the wall clock ([`Clock::now`]), which decides
//! whether a flight is live; each caller's wait runs on [`Clock::timeout`], which on a real
//! clock follows a monotonic timer. When the wall clock jumps the two disagree, and neither
//! way breaks a promise: set forward, a flight looks overdue early and a newer one replaces
//! it, but the replaced one is marked superseded in the same atomic that starts a grant, so it
//! never sends one (a flight whose grant is out is never replaced before its grant limit); set
//! back, a flight looks live longer, but no wait is armed for longer than the flight deadline.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Either, Shared, select};
use time::OffsetDateTime;

use super::marks::Marks;
use super::refresher::Refreshed;
use super::refusal::Rejections;
use super::snapshot::Snapshot;
use crate::{Clock, Error, Result};

/// What a refresh resolves to, for every caller that waited on it.
pub(super) type Outcome = Result<Refreshed>;

/// A refresh in flight. Any clone may drive it; it runs once.
pub(super) type SharedRefresh = Shared<BoxFuture<'static, Outcome>>;

/// Whoever keeps the flights: told when a flight loses its last driver.
pub(super) trait Host: Send + Sync {
    /// Flight `id` has no driver left. `may_hand_off`: its last driver was a caller, not a
    /// finisher task (which is never handed over again).
    fn undriven(&self, id: u64, may_hand_off: bool);
}

/// The one refresh in flight, if any, and what the next one should do.
#[derive(Default)]
pub(super) struct Flights {
    pub(super) current: Option<Flight>,
    next_id: u64,
    /// Whether the stored token was already considered (on start) or must not be (after an
    /// invalidation: storage would hold the rejected token).
    pub(super) storage_checked: bool,
    /// Why the last refresh failed, until one succeeds.
    pub(super) last_error: Option<Error>,
    /// The token the last invalidation dropped: never taken back from storage.
    pub(super) rejected: Option<Arc<Snapshot>>,
    /// The last flight whose callers' deadline passed: reported once.
    pub(super) overdue_reported: Option<u64>,
    /// Which rejections are believed.
    pub(super) rejections: Rejections,
}

/// What to do with a flight that lost its last driver.
pub(super) enum Undriven {
    /// Nothing: it is not the current flight, or someone joined it meanwhile.
    Nothing,
    /// Drop it (outside the lock): no grant is out.
    Drop(Flight),
    /// Hand it to the spawner as a finisher: a grant is out.
    HandOff(Driven),
    /// Keep it for the next caller: a grant is out and there is no spawner.
    Keep,
}

pub(super) struct Flight {
    pub(super) id: u64,
    future: SharedRefresh,
    /// How many callers (or spawned tasks) hold a [`Driven`] for it.
    drivers: Arc<AtomicUsize>,
    /// When its callers' wait ends, by the clock.
    deadline: OffsetDateTime,
    /// Past this, a grant still unanswered is presumed lost.
    limit: OffsetDateTime,
    marks: Arc<Marks>,
}

impl Flights {
    /// The flight in progress that a caller may join at `now`: one within its deadline, or one
    /// past it whose grant is out, within the grant limit (its deadline renewed to
    /// `now + renewal`, but not past the limit). Any other is not live: the next start
    /// replaces it.
    pub(super) fn live(&mut self, now: OffsetDateTime, renewal: Duration) -> Option<&Flight> {
        let flight = self.current.as_mut()?;
        if now >= flight.deadline {
            if !flight.granting() || now >= flight.limit {
                return None;
            }
            flight.deadline = after(now, renewal).min(flight.limit);
        }
        Some(flight)
    }

    /// The flight in progress if its grant is out past the grant limit: about to be presumed
    /// lost, once a probe has read any answer that came meanwhile.
    pub(super) fn past_limit(&self, now: OffsetDateTime) -> Option<&Flight> {
        self.current
            .as_ref()
            .filter(|flight| flight.granting() && now >= flight.limit)
    }

    /// Makes `future` the flight in progress, with the next id, dropping any other.
    pub(super) fn insert(
        &mut self,
        id: u64,
        future: SharedRefresh,
        (deadline, limit): (OffsetDateTime, OffsetDateTime),
        marks: Arc<Marks>,
    ) -> &Flight {
        self.current.insert(Flight {
            id,
            future,
            drivers: Arc::new(AtomicUsize::new(0)),
            deadline,
            limit,
            marks,
        })
    }

    /// The id for the next flight.
    pub(super) fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    /// Clears flight `id` if it is the current one.
    pub(super) fn clear(&mut self, id: u64) {
        if self.current.as_ref().is_some_and(|f| f.id == id) {
            self.current = None;
        }
    }

    /// What to do now that flight `id` lost its last driver (see the module docs).
    pub(super) fn undriven(
        &mut self,
        id: u64,
        spawner: bool,
        host: Weak<dyn Host>,
        may_hand_off: bool,
    ) -> Undriven {
        let Some(flight) = self.current.as_ref() else {
            return Undriven::Nothing;
        };
        if flight.id != id || flight.drivers.load(Ordering::Acquire) > 0 {
            return Undriven::Nothing;
        }
        if !flight.granting() {
            return self
                .current
                .take()
                .map_or(Undriven::Nothing, Undriven::Drop);
        }
        if spawner && may_hand_off {
            Undriven::HandOff(flight.join(host, true))
        } else {
            Undriven::Keep
        }
    }
}

impl Flight {
    /// A new hold on this flight, waiting until the flight's deadline.
    pub(super) fn join(&self, host: Weak<dyn Host>, finisher: bool) -> Driven {
        self.drivers.fetch_add(1, Ordering::AcqRel);
        Driven {
            id: self.id,
            future: self.future.clone(),
            drivers: Arc::clone(&self.drivers),
            marks: Arc::clone(&self.marks),
            deadline: self.deadline,
            limit: self.limit,
            host,
            finisher,
        }
    }

    /// How many hold it now.
    pub(super) fn drivers(&self) -> usize {
        self.drivers.load(Ordering::Acquire)
    }

    fn granting(&self) -> bool {
        self.marks.granting()
    }

    /// Marks it replaced: false if its grant is out (it must then be kept).
    pub(super) fn supersede(&self) -> bool {
        self.marks.supersede()
    }
}

/// No limit on a wait: the calendar's end.
pub(super) const NO_LIMIT: OffsetDateTime = time::PrimitiveDateTime::MAX.assume_utc();

/// `now` plus `wait`; the calendar's end past it.
pub(super) fn after(now: OffsetDateTime, wait: Duration) -> OffsetDateTime {
    time::Duration::try_from(wait)
        .ok()
        .and_then(|wait| now.checked_add(wait))
        .unwrap_or(NO_LIMIT)
}

/// A hold on a refresh in flight. While one exists the refresh has a driver; dropping the last
/// one tells the [`Host`], which drops, hands over or keeps the flight (see the module docs).
pub(super) struct Driven {
    id: u64,
    future: SharedRefresh,
    drivers: Arc<AtomicUsize>,
    marks: Arc<Marks>,
    /// When the caller holding it stops waiting.
    deadline: OffsetDateTime,
    /// The flight's grant limit.
    limit: OffsetDateTime,
    host: Weak<dyn Host>,
    finisher: bool,
}

impl Driven {
    /// The id of the flight this holds.
    pub(super) fn flight_id(&self) -> u64 {
        self.id
    }

    /// The marks of the refresh this holds.
    pub(super) fn marks(&self) -> Arc<Marks> {
        Arc::clone(&self.marks)
    }

    /// Whether a grant is out with its answer not yet in hand.
    pub(super) fn granting(&self) -> bool {
        self.marks.granting()
    }
}

impl Drop for Driven {
    fn drop(&mut self) {
        if self.drivers.fetch_sub(1, Ordering::AcqRel) == 1
            && let Some(host) = self.host.upgrade()
        {
            host.undriven(self.id, !self.finisher);
        }
    }
}

impl Future for Driven {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        self.future.poll_unpin(cx)
    }
}

/// How a caller's wait ended.
pub(super) enum Waited {
    Done(Outcome),
    /// The deadline passed first: the flight's id. The hold was dropped.
    TimedOut(u64),
}

/// Waits for `driven`, but not past its deadline or `by`, whichever comes first, and never
/// longer than `longest` (the deadlines are instants of the wall clock, the wait runs on the
/// clock's timer: a wall clock set back must not stretch a wait). The timer comes first: past
/// the deadline, an outcome that is also ready is not waited for.
pub(super) async fn within(
    driven: Driven,
    by: OffsetDateTime,
    clock: &dyn Clock,
    longest: Duration,
) -> Waited {
    let until = driven.deadline.min(by);
    let left = Duration::try_from(until - clock.now())
        .unwrap_or(Duration::ZERO)
        .min(longest);
    let timer = clock.timeout(left);
    match select(timer, driven).await {
        Either::Left(((), driven)) => {
            let id = driven.flight_id();
            drop(driven);
            Waited::TimedOut(id)
        }
        Either::Right((outcome, _timer)) => Waited::Done(outcome),
    }
}

/// Drives `driven` to its end as a finisher: while its grant is out, up to the grant limit;
/// once the answer is in hand, for at most `renewal` more. Returns the flight's id if it gave
/// up (the flight then goes as any undriven one, or is replaced by the next start).
pub(super) async fn finish(
    mut driven: Driven,
    clock: &dyn Clock,
    renewal: Duration,
) -> Option<u64> {
    loop {
        let left = Duration::try_from(driven.limit - clock.now()).unwrap_or(Duration::ZERO);
        let timer = clock.timeout(renewal.min(left));
        if let Either::Right(_) = select(timer, &mut driven).await {
            return None;
        }
        if !driven.granting() || clock.now() >= driven.limit {
            return Some(driven.flight_id());
        }
    }
}
