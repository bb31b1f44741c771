//! Rejections the cache does not believe: a token the API refuses right after the refresh that
//! replaced a rejected one is kept for the minimum retry interval instead of being dropped again.
//!
//! An API that refuses every token (the wrong audience, a missing scope) would otherwise turn
//! each request into a refresh: drop, fetch, refused, drop, fetch. The first rejection still
//! drops its token (a revoked token is replaced at once), but when the replacement is refused
//! too, the fault is not the token, and fetching more of them helps nobody.

use std::time::Duration;

use time::OffsetDateTime;

use super::flight::after;

/// What the flights know about rejections. Kept under the flights' lock.
#[derive(Debug, Default)]
pub(super) struct Rejections {
    /// A token was dropped after a rejection and no refresh has replaced it yet.
    pending: bool,
    /// The token that replaced a rejected one.
    replacement: Option<Replacement>,
}

#[derive(Debug)]
struct Replacement {
    /// The snapshot's id.
    id: u64,
    /// Until when a rejection of it is kept, not believed.
    until: OffsetDateTime,
    /// Whether a refusal of it was reported.
    reported: bool,
}

/// A rejection kept, not believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Refusal {
    /// Until when the token is kept.
    pub(super) until: OffsetDateTime,
    /// Whether this is the first refusal of this token (report it once).
    pub(super) first: bool,
}

impl Rejections {
    /// A token was dropped after a rejection.
    pub(super) fn dropped(&mut self) {
        self.pending = true;
    }

    /// Snapshot `id` was published at `now`: if it replaces a rejected token, a rejection of it
    /// within `interval` is not believed.
    pub(super) fn published(&mut self, id: u64, now: OffsetDateTime, interval: Duration) {
        if std::mem::take(&mut self.pending) {
            self.replacement = Some(Replacement {
                id,
                until: after(now, interval),
                reported: false,
            });
        }
    }

    /// Whether a rejection of snapshot `id` at `now` is to be kept rather than believed.
    pub(super) fn refused(&mut self, id: u64, now: OffsetDateTime) -> Option<Refusal> {
        let replacement = self
            .replacement
            .as_mut()
            .filter(|r| r.id == id && now < r.until)?;
        let first = !std::mem::replace(&mut replacement.reported, true);
        Some(Refusal {
            until: replacement.until,
            first,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_secs(10);

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(secs)
    }

    #[test]
    fn only_a_replacement_of_a_rejected_token_is_kept() {
        let mut rejections = Rejections::default();
        // A token that replaced nothing rejected: believed.
        rejections.published(1, at(0), INTERVAL);
        assert_eq!(rejections.refused(1, at(1)), None);
        // Dropped, then replaced by 2: a rejection of 2 is kept until the interval passes.
        rejections.dropped();
        rejections.published(2, at(100), INTERVAL);
        assert_eq!(
            rejections.refused(2, at(101)),
            Some(Refusal {
                until: at(110),
                first: true
            })
        );
        assert_eq!(
            rejections.refused(2, at(109)),
            Some(Refusal {
                until: at(110),
                first: false
            })
        );
        assert_eq!(rejections.refused(2, at(110)), None);
        // Another token is not the replacement.
        assert_eq!(rejections.refused(3, at(101)), None);
    }

    #[test]
    fn a_later_refresh_without_a_rejection_keeps_the_replacement_as_it_was() {
        let mut rejections = Rejections::default();
        rejections.dropped();
        rejections.published(2, at(0), INTERVAL);
        rejections.published(3, at(1), INTERVAL);
        assert!(rejections.refused(3, at(2)).is_none());
        assert!(rejections.refused(2, at(2)).is_some());
    }
}
