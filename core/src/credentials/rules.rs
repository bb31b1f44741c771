//! The record rules: given what this process holds and what the storage holds, whether to
//! adopt the stored record, serve its access token, and keep, confirm or drop a rotation of
//! ours that no store has confirmed yet.
//!
//! Pure and secret-free: the refresher compares the secrets and hands over [`Facts`]; this
//! decides. Every refresh that reads a record goes through [`judge`], so the rules that decide
//! which record wins live in this one place.
//!
//! The rules:
//! 1. **Our unstored rotation is newer than the record it replaced.** With a rotation pending,
//!    a record that still holds the refresh token it replaced (or none) is behind: it is not
//!    adopted (the source keeps ours) and the rotation stays pending until a store confirms it.
//! 2. **A record that holds our rotation confirms it** (a store we thought failed landed).
//! 3. **A record that moved on wins.** A record holding a refresh token that is neither ours
//!    nor the one ours replaced was stored by another holder after ours was issued: it is
//!    adopted and our rotation is dropped (with a strict-rotation endpoint this cannot happen:
//!    the other holder's grant would have presented a token ours rotated away).
//! 4. **Without a rotation pending, the record is the latest state**: it is adopted.
//! 5. **Its access token is served** on start when it is fresh (or stale while callers wait);
//!    under the lease when it is fresh, not the one this process already had, and the refresh
//!    was not forced; after a lapse only when the record moved on (rule 3).

use crate::TokenState;

/// When a record is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Moment {
    /// The first refresh, before anything else. `waiting`: callers wait for a token (none is
    /// cached, or it expired), so a stale stored one serves them while a refresh ahead follows.
    Start { waiting: bool },
    /// Under the lease, before fetching: another holder may have refreshed meanwhile.
    /// `forced`: the caller asked for a new token whatever is stored.
    UnderLease { forced: bool },
    /// After a refresh whose lease lapsed: another holder may have stored since.
    AfterLapse,
}

/// How the stored refresh token relates to ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Relation {
    /// It is the one we hold (our pending rotation, or the one we last loaded or stored).
    Same,
    /// We hold a pending rotation, and the record still has the token it replaced (or none).
    Behind,
    /// Neither: another holder stored a refresh token we never saw.
    Moved,
}

/// What the refresher found, with the secrets already compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Facts {
    pub(super) moment: Moment,
    /// The state of the record's access token; `None` without one.
    pub(super) token: Option<TokenState>,
    /// The record's access token is the one this process already had.
    pub(super) token_known: bool,
    /// Whether a rotation of ours waits for a store.
    pub(super) pending_rotation: bool,
    pub(super) relation: Relation,
}

/// What becomes of a pending rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pending {
    /// Still ours to store (or nothing was pending).
    Keep,
    /// The record holds it: stored after all.
    Confirmed,
    /// Another holder's newer record replaces it.
    Dropped,
}

/// The decision on one record read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Verdict {
    /// Hand the record to the source (its refresh token and secrets become the source's).
    pub(super) adopt: bool,
    /// Serve the record's access token instead of fetching.
    pub(super) use_token: bool,
    pub(super) pending: Pending,
    /// Store our pending rotation now (under the lease, when no fetch will store it).
    pub(super) store_pending: bool,
}

/// The rules above, applied to `facts`.
pub(super) fn judge(facts: Facts) -> Verdict {
    let ours_is_newer = facts.pending_rotation && facts.relation == Relation::Behind;
    let pending = match (facts.pending_rotation, facts.relation) {
        (false, _) | (true, Relation::Behind) => Pending::Keep,
        (true, Relation::Same) => Pending::Confirmed,
        (true, Relation::Moved) => Pending::Dropped,
    };
    let fresh = facts.token == Some(TokenState::Fresh);
    let use_token = match facts.moment {
        Moment::Start { waiting } => fresh || (waiting && facts.token == Some(TokenState::Stale)),
        Moment::UnderLease { forced } => !forced && fresh && !facts.token_known,
        Moment::AfterLapse => fresh && facts.relation == Relation::Moved,
    };
    Verdict {
        adopt: !ours_is_newer,
        use_token,
        pending,
        store_pending: ours_is_newer
            && use_token
            && matches!(facts.moment, Moment::UnderLease { .. }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOMENTS: [Moment; 5] = [
        Moment::Start { waiting: false },
        Moment::Start { waiting: true },
        Moment::UnderLease { forced: false },
        Moment::UnderLease { forced: true },
        Moment::AfterLapse,
    ];
    const TOKENS: [Option<TokenState>; 4] = [
        None,
        Some(TokenState::Fresh),
        Some(TokenState::Stale),
        Some(TokenState::Invalid),
    ];
    const RELATIONS: [Relation; 3] = [Relation::Same, Relation::Behind, Relation::Moved];

    /// Every combination of facts.
    fn every() -> Vec<Facts> {
        let mut all = Vec::new();
        for moment in MOMENTS {
            for token in TOKENS {
                for token_known in [false, true] {
                    for pending_rotation in [false, true] {
                        for relation in RELATIONS {
                            all.push(Facts {
                                moment,
                                token,
                                token_known,
                                pending_rotation,
                                relation,
                            });
                        }
                    }
                }
            }
        }
        all
    }

    #[test]
    fn there_are_240_combinations() {
        assert_eq!(every().len(), 5 * 4 * 2 * 2 * 3);
    }

    #[test]
    fn a_pending_rotation_is_never_replaced_by_the_record_it_replaced() {
        for facts in every() {
            let verdict = judge(facts);
            let behind = facts.pending_rotation && facts.relation == Relation::Behind;
            assert_eq!(verdict.adopt, !behind, "{facts:?}");
            if facts.pending_rotation {
                let expected = match facts.relation {
                    Relation::Same => Pending::Confirmed,
                    Relation::Behind => Pending::Keep,
                    Relation::Moved => Pending::Dropped,
                };
                assert_eq!(verdict.pending, expected, "{facts:?}");
            } else {
                assert_eq!(verdict.pending, Pending::Keep, "{facts:?}");
            }
        }
    }

    #[test]
    fn only_a_usable_token_is_served_and_never_on_a_forced_refresh() {
        for facts in every() {
            let verdict = judge(facts);
            if verdict.use_token {
                assert!(
                    facts.token == Some(TokenState::Fresh)
                        || facts.token == Some(TokenState::Stale)
                            && facts.moment == Moment::Start { waiting: true },
                    "{facts:?}"
                );
            }
            if facts.moment == (Moment::UnderLease { forced: true }) {
                assert!(!verdict.use_token, "{facts:?}");
            }
        }
    }

    #[test]
    fn the_token_rules_per_moment() {
        for facts in every() {
            let verdict = judge(facts);
            let fresh = facts.token == Some(TokenState::Fresh);
            let stale = facts.token == Some(TokenState::Stale);
            let expected = match facts.moment {
                Moment::Start { waiting } => fresh || waiting && stale,
                Moment::UnderLease { forced } => !forced && fresh && !facts.token_known,
                Moment::AfterLapse => fresh && facts.relation == Relation::Moved,
            };
            assert_eq!(verdict.use_token, expected, "{facts:?}");
        }
    }

    #[test]
    fn a_pending_rotation_is_stored_under_the_lease_when_no_fetch_will_store_it() {
        for facts in every() {
            let verdict = judge(facts);
            let expected = facts.pending_rotation
                && facts.relation == Relation::Behind
                && verdict.use_token
                && matches!(facts.moment, Moment::UnderLease { .. });
            assert_eq!(verdict.store_pending, expected, "{facts:?}");
        }
        let stored_now = judge(Facts {
            moment: Moment::UnderLease { forced: false },
            token: Some(TokenState::Fresh),
            token_known: false,
            pending_rotation: true,
            relation: Relation::Behind,
        });
        assert_eq!(
            stored_now,
            Verdict {
                adopt: false,
                use_token: true,
                pending: Pending::Keep,
                store_pending: true,
            }
        );
    }
}
