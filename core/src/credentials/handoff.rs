//! Who drives a flight its callers left: the spawner (a refresh ahead handed over, or a
//! finisher for a flight whose grant is out), or else the next caller (see `flight.rs`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Weak};

use super::events::RefreshEvent;
use super::flight::{self, Driven, Host, Undriven};
use super::inner::Inner;
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
