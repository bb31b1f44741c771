//! A refresh's phase, shared by the flight that runs it and the refresher that does it.

use std::sync::atomic::{AtomicU8, Ordering};

/// Where a refresh is, as the flight that runs it sees it: one atomic, so that a flight is
/// either replaced before its grant or grants, never both.
#[derive(Debug, Default)]
pub(super) struct Marks {
    phase: AtomicU8,
}

/// Before the grant: the refresh may be dropped or replaced.
const PREPARING: u8 = 0;
/// A grant is out and its answer not yet in hand: the refresh must not be dropped.
const GRANTING: u8 = 1;
/// The answer is in hand (kept in the slot): the refresh may be dropped again.
const ANSWERED: u8 = 2;
/// Replaced by a newer flight before its grant: it must never send one.
const SUPERSEDED: u8 = 3;

impl Marks {
    /// Whether a grant is out with its answer not yet in hand.
    pub(super) fn granting(&self) -> bool {
        self.phase.load(Ordering::Acquire) == GRANTING
    }

    /// Marks the refresh replaced, unless its grant is out (then it stays, and this is false).
    pub(super) fn supersede(&self) -> bool {
        self.phase
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |phase| {
                (phase != GRANTING).then_some(SUPERSEDED)
            })
            .is_ok()
    }

    /// Starts the grant, unless the refresh was replaced.
    pub(super) fn begin_grant(&self) -> bool {
        self.phase
            .compare_exchange(PREPARING, GRANTING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The grant's answer is in hand.
    pub(super) fn end_grant(&self) {
        self.phase.store(ANSWERED, Ordering::Release);
    }
}
