//! Who drives a flight its callers left: the spawner (a refresh ahead handed over, or a
//! finisher for a flight whose grant is out), or else the next caller (see `flight.rs`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::FutureExt;

use super::events::RefreshEvent;
use super::flight::{self, Driven, Host, Undriven};
use super::inner::Inner;
use super::refresher::Refresher;
use super::{lock, quietly};

impl Inner {
    /// Hands `driven` to the spawner if there is one (outside the lock: a spawner may run the
    /// future inline), bounded by its deadline; or back to the caller to drive. A spawner that
    /// panics (tokio's `spawn` outside a runtime) is reported, and the caller gets the refresh
    /// to drive.
    pub(super) fn spawn_or_return(&self, driven: Driven) -> Option<Driven> {
        let Some(spawner) = &self.settings.spawner else {
            return Some(driven);
        };
        // Kept until the spawner took the refresh: if it panics, this caller drives it.
        let fallback = {
            let flights = lock(&self.flights);
            let current = flights.current.as_ref();
            current
                .filter(|flight| flight.id == driven.flight_id())
                .map(|flight| flight.join(self.host(), false))
        };
        let me = Weak::clone(&self.me);
        let handed_over = catch_unwind(AssertUnwindSafe(|| {
            spawner.spawn(Box::pin(async move {
                // The outcome is published to the cache and reported to the observer.
                if let Some(inner) = me.upgrade() {
                    let _outcome = inner.wait_for(driven, flight::NO_LIMIT).await;
                }
            }));
        }));
        if handed_over.is_ok() {
            return None;
        }
        self.spawner_panicked();
        fallback
    }

    /// Runs `driven` on the spawner as a finisher (see `flight.rs`).
    fn hand_off(&self, driven: Driven) {
        let Some(spawner) = &self.settings.spawner else {
            return;
        };
        let me = Weak::clone(&self.me);
        let clock = Arc::clone(&self.clock);
        let renewal = self.settings.flight_deadline;
        let handed_over = catch_unwind(AssertUnwindSafe(|| {
            spawner.spawn(Box::pin(async move {
                if let Some(id) = flight::finish(driven, &*clock, renewal).await
                    && let Some(inner) = me.upgrade()
                {
                    drop(inner.overdue(id));
                }
            }));
        }));
        if handed_over.is_err() {
            // The finisher was dropped: the flight is kept for the next caller.
            self.spawner_panicked();
        }
    }

    /// After a refresh that left a rotation unstored with its lease kept: stores it again on
    /// the spawner, after [`FLUSH_FIRST_WAIT`] and then twice as long each time up to
    /// [`FLUSH_MAX_WAIT`], until a store confirms it and the lease is released (see
    /// `Refresher::flush`). One such task per `Credentials`; it ends with the last handle.
    /// Without a spawner the next refresh stores it.
    pub(super) fn flush_later(&self) {
        let (Some(spawner), Some(slot)) = (&self.settings.spawner, &self.refresher.storage) else {
            return;
        };
        if !slot.unstored() || !slot.start_flushing() {
            return;
        }
        let refresher = Arc::downgrade(&self.refresher);
        let clock = Arc::clone(&self.clock);
        // Moved into the task: dropped with it, polled or not.
        let done = Flushing(Weak::clone(&refresher));
        let handed_over = catch_unwind(AssertUnwindSafe(|| {
            spawner.spawn(Box::pin(async move {
                let _done = done;
                let mut wait = FLUSH_FIRST_WAIT;
                loop {
                    clock.sleep(wait).await;
                    let Some(refresher) = refresher.upgrade() else {
                        return;
                    };
                    let again = AssertUnwindSafe(refresher.flush())
                        .catch_unwind()
                        .await
                        .unwrap_or(false);
                    if !again {
                        return;
                    }
                    wait = (wait * 2).min(FLUSH_MAX_WAIT);
                }
            }));
        }));
        if handed_over.is_err() {
            slot.flushed();
            self.spawner_panicked();
        }
    }

    fn spawner_panicked(&self) {
        quietly(|| {
            tracing::error!(
                source = self.refresher.source.name(),
                "the spawner panicked; the refresh falls back to the callers that wait for it"
            );
        });
        self.refresher.emit(&RefreshEvent::SpawnerPanicked);
    }
}

/// How long after a refresh that left its rotation unstored the first store is tried again.
pub(super) const FLUSH_FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest wait between two tries of an unstored rotation's store.
pub(super) const FLUSH_MAX_WAIT: Duration = Duration::from_secs(60);

/// Marks the background store over when its task ends, however it ends (dropped with the
/// runtime included).
struct Flushing(Weak<Refresher>);

impl Drop for Flushing {
    fn drop(&mut self) {
        if let Some(slot) = self.0.upgrade().as_ref().and_then(|r| r.storage.as_ref()) {
            slot.flushed();
        }
    }
}

impl Host for Inner {
    fn undriven(&self, id: u64, may_hand_off: bool) {
        let spawner = self.settings.spawner.is_some();
        let action = lock(&self.flights).undriven(id, spawner, self.host(), may_hand_off);
        match action {
            Undriven::Nothing => {}
            Undriven::Drop(flight) => {
                quietly(|| {
                    tracing::debug!(
                        source = self.refresher.source.name(),
                        "a refresh nobody waits for was dropped before its grant"
                    );
                });
                // Dropped here, outside the lock: its lease is released.
                drop(flight);
            }
            Undriven::HandOff(driven) => self.hand_off(driven),
            Undriven::Keep => quietly(|| {
                tracing::debug!(
                    source = self.refresher.source.name(),
                    "a refresh nobody waits for has a grant out; the next caller finishes it"
                );
            }),
        }
    }
}
