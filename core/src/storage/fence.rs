//! Fencing by generation: what a store with a lease that can lapse does so that a lapsed holder
//! never overwrites a newer record. The rule ([`Fence::check`]) and one handle's book of fences
//! ([`Fences`]), for every store to share.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::{Error, ErrorKind};

/// A lease's fence: the generation of the record when the lease was taken (moved on by each
/// store that lands under it), and whether the lease is still held.
///
/// Made by [`Fences::taken`]; a store's [`LeaseHandle::is_held`](crate::LeaseHandle::is_held)
/// answers [`Fence::is_held`]. Clones share the held flag.
///
/// ```
/// use credkit_core::{Fences, FenceCheck};
///
/// let fences = Fences::new();
/// let fence = fences.taken("user-1", 4);
/// assert_eq!(fence.check(4), FenceCheck::Lands { generation: 5 });
/// assert_eq!(fence.check(6), FenceCheck::Refused { found: 6 });
/// assert!(fence.is_held());
/// ```
#[derive(Clone)]
pub struct Fence {
    id: u64,
    generation: u64,
    held: Arc<AtomicBool>,
}

/// What a store under a [`Fence`] does, given the generation `found` on the record now: the
/// one rule of the [fencing contract](crate::Storage#fencing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FenceCheck {
    /// Another holder stored since the lease began (the record is at a higher generation): the
    /// store must not land. Report [`Fences::refused`] and fail with [`Fence::refusal`].
    Refused {
        /// The generation found on the record.
        found: u64,
    },
    /// The record is where the lease left it: the store lands at `generation` (found + 1).
    Lands {
        /// The record's new generation.
        generation: u64,
    },
    /// The record went *backwards* (the medium lost writes: a failover to a replica that
    /// lagged, a removal, a restore): this holder's record is the newer one, so the store
    /// lands at `generation` (the fence's + 1), past every generation the holder knew.
    LandsPastLoss {
        /// The record's new generation.
        generation: u64,
    },
}

impl FenceCheck {
    /// The generation of an unfenced store (one made without the lease): always lands, at
    /// `found + 1`.
    ///
    /// ```
    /// # use credkit_core::FenceCheck;
    /// assert_eq!(FenceCheck::unfenced(0), FenceCheck::Lands { generation: 1 });
    /// ```
    pub fn unfenced(found: u64) -> Self {
        Self::Lands {
            generation: found.saturating_add(1),
        }
    }

    /// The record's new generation, when the store lands.
    pub fn generation(self) -> Option<u64> {
        match self {
            Self::Refused { .. } => None,
            Self::Lands { generation } | Self::LandsPastLoss { generation } => Some(generation),
        }
    }
}

impl Fence {
    /// The generation a store under this fence must not find exceeded.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether the lease is still held, as far as the store knows: false once a store under it
    /// was refused, a newer lease on the same key was taken through the same handle, or
    /// [`lapsed`](Fence::lapsed) was called (a renewal found the lease gone).
    pub fn is_held(&self) -> bool {
        self.held.load(Ordering::Acquire)
    }

    /// Marks the lease lost (a renewal found it given out again, its time to live ran out).
    pub fn lapsed(&self) {
        self.held.store(false, Ordering::Release);
    }

    /// The rule: what a store under this fence does when the record is at generation `found`.
    pub fn check(&self, found: u64) -> FenceCheck {
        match found.cmp(&self.generation) {
            std::cmp::Ordering::Greater => FenceCheck::Refused { found },
            std::cmp::Ordering::Less => FenceCheck::LandsPastLoss {
                generation: self.generation.saturating_add(1),
            },
            std::cmp::Ordering::Equal => FenceCheck::Lands {
                generation: found.saturating_add(1),
            },
        }
    }

    /// The error a refused store fails with: a permanent [`ErrorKind::Storage`] error, so that
    /// `Credentials` loads the record again and adopts the newer one.
    ///
    /// ```
    /// # use credkit_core::{ErrorKind, Fences};
    /// let error = Fences::new().taken("k", 3).refusal(5);
    /// assert_eq!(error.kind(), ErrorKind::Storage);
    /// assert!(!error.is_transient());
    /// ```
    pub fn refusal(&self, found: u64) -> Error {
        Error::new(
            ErrorKind::Storage,
            format!(
                "the store was fenced off: the lease lapsed and another holder stored a newer record \
                 (generation {found}, this lease began at {}); the newer record is kept",
                self.generation
            ),
        )
        .with_transient(false)
    }
}

impl fmt::Debug for Fence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fence")
            .field("generation", &self.generation)
            .field("held", &self.is_held())
            .finish_non_exhaustive()
    }
}

/// The fences of one store handle: the leases taken through it, by key, and the generation a
/// store under each must not find exceeded. The book every store with a lease that can lapse
/// keeps (see the [fencing contract](crate::Storage#fencing)).
///
/// [`Storage::store`](crate::Storage::store) says nothing of the lease it is made under, so a
/// store is fenced by the leases *of the handle it goes through*: give each holder its own
/// handle (`with_storage(storage.clone(), key)`), and make `Clone` start an empty book. Two
/// holders of one key sharing a handle stay safe rather than exact: the older lease is marked
/// lapsed when the newer is taken, a store goes under the lowest generation, and a store that
/// lands then moves no fence on (so the current holder's next store may be refused, and
/// `Credentials` keeps its rotation pending for the next refresh).
///
/// ```
/// use credkit_core::{FenceCheck, Fences};
///
/// let fences = Fences::new();
/// // Lease taken when the record was at generation 7.
/// let lease = fences.taken("user-1", 7);
/// // A store through this handle: the fence it goes under, the rule, the outcome.
/// let fence = fences.fence("user-1").unwrap();
/// match fence.check(7) {
///     FenceCheck::Lands { generation } | FenceCheck::LandsPastLoss { generation } => {
///         fences.landed("user-1", &fence, generation);
///     }
///     FenceCheck::Refused { found } => fences.refused("user-1", &fence, found),
///     _ => unreachable!(),
/// }
/// assert_eq!(fences.fence("user-1").unwrap().generation(), 8);
/// // Released: stores through this handle are unfenced again.
/// fences.forget("user-1", &lease);
/// assert!(fences.fence("user-1").is_none());
/// ```
#[derive(Default)]
pub struct Fences {
    book: Mutex<HashMap<String, Vec<Fence>>>,
}

/// Fence numbers, unique in the process: a fence given to another book is never taken for one
/// of this book's.
static NEXT_FENCE: AtomicU64 = AtomicU64::new(0);

impl Fences {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    fn book(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Fence>>> {
        // Every critical section is one map operation: a poisoned lock still guards whole data.
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a lease just taken on `key` when the record was at `generation` (0: no record),
    /// and returns its fence. Any lease this book still has on `key` has lapsed (the store gave
    /// the lease out again): it is marked not held.
    pub fn taken(&self, key: &str, generation: u64) -> Fence {
        let fence = Fence {
            id: NEXT_FENCE.fetch_add(1, Ordering::Relaxed),
            generation,
            held: Arc::new(AtomicBool::new(true)),
        };
        let mut book = self.book();
        let fences = book.entry(key.to_owned()).or_default();
        for lapsed in fences.iter() {
            lapsed.lapsed();
        }
        fences.push(fence.clone());
        fence
    }

    /// The fence a store to `key` through this handle goes under: none without a lease (the
    /// store is unfenced); with several, the one with the lowest generation.
    pub fn fence(&self, key: &str) -> Option<Fence> {
        self.book()
            .get(key)?
            .iter()
            .min_by_key(|fence| fence.generation)
            .cloned()
    }

    /// A store under `fence` landed at `generation`: the next store under the same lease
    /// expects it, when that lease is still the key's only one here.
    pub fn landed(&self, key: &str, fence: &Fence, generation: u64) {
        if let Some([only]) = self.book().get_mut(key).map(Vec::as_mut_slice)
            && only.id == fence.id
        {
            only.generation = generation;
        }
    }

    /// A store under `fence` was refused by a record at generation `found`: that lease, and
    /// every one here that began before `found`, has lapsed.
    pub fn refused(&self, key: &str, fence: &Fence, found: u64) {
        fence.lapsed();
        for other in self.book().get(key).into_iter().flatten() {
            if other.generation < found {
                other.lapsed();
            }
        }
    }

    /// The lease of `fence` on `key` ended (released or dropped): stores no longer go under it.
    pub fn forget(&self, key: &str, fence: &Fence) {
        let mut book = self.book();
        if let Some(fences) = book.get_mut(key) {
            fences.retain(|held| held.id != fence.id);
            if fences.is_empty() {
                book.remove(key);
            }
        }
    }
}

impl fmt::Debug for Fences {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys may name users: only their number is shown.
        f.debug_struct("Fences")
            .field("keys", &self.book().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        let fence = Fences::new().taken("k", 5);
        assert_eq!(fence.check(5), FenceCheck::Lands { generation: 6 });
        assert_eq!(fence.check(6), FenceCheck::Refused { found: 6 });
        assert_eq!(fence.check(2), FenceCheck::LandsPastLoss { generation: 6 });
        assert_eq!(fence.check(0), FenceCheck::LandsPastLoss { generation: 6 });
        assert_eq!(FenceCheck::unfenced(u64::MAX).generation(), Some(u64::MAX));
        assert_eq!(FenceCheck::Refused { found: 1 }.generation(), None);
        assert_eq!(fence.check(5).generation(), Some(6));
        assert_eq!(fence.check(1).generation(), Some(6));
        let refusal = fence.refusal(9).to_string();
        assert!(
            refusal.contains("generation 9") && refusal.contains("began at 5"),
            "{refusal}"
        );
    }

    #[test]
    fn one_lease_fences_its_key_and_moves_on_with_each_store() {
        let fences = Fences::new();
        let first = fences.taken("rec", 3);
        assert!(fences.fence("other").is_none());
        let used = fences.fence("rec").unwrap();
        assert_eq!(used.generation(), 3);
        fences.landed("rec", &used, 4);
        assert_eq!(fences.fence("rec").unwrap().generation(), 4);
        // A store under a lease that has ended since moves nothing.
        let gone = Fences::new().taken("rec", 3);
        fences.landed("rec", &gone, 9);
        assert_eq!(fences.fence("rec").unwrap().generation(), 4);
        fences.forget("rec", &gone);
        assert!(fences.fence("rec").is_some());
        assert!(first.is_held());
        fences.forget("rec", &first);
        assert!(fences.fence("rec").is_none());
        assert!(fences.book().is_empty());
        assert_eq!(format!("{fences:?}"), "Fences { keys: 0 }");
        assert_eq!(
            format!("{first:?}"),
            "Fence { generation: 3, held: true, .. }"
        );
    }

    #[test]
    fn a_refusal_lapses_the_fence_and_every_older_lease() {
        let fences = Fences::new();
        let older = fences.taken("rec", 3);
        let elsewhere = fences.taken("rec2", 1);
        let newer = fences.taken("rec", 5);
        assert!(!older.is_held(), "the store gave its lease out again");
        assert!(newer.is_held() && elsewhere.is_held());
        let used = fences.fence("rec").unwrap();
        assert_eq!(used.generation(), 3, "the lowest generation");
        // Whose store it was is not known: no fence moves on.
        fences.landed("rec", &used, 6);
        assert_eq!(fences.fence("rec").unwrap().generation(), 3);
        fences.refused("rec", &older, 5);
        assert!(newer.is_held(), "a record at its own generation is no news");
        fences.refused("rec", &older, 6);
        assert!(!newer.is_held());
        assert!(elsewhere.is_held());
        fences.forget("rec", &older);
        assert_eq!(fences.fence("rec").unwrap().generation(), 5);
    }

    #[test]
    fn a_refused_fence_is_not_held_even_alone() {
        let fences = Fences::new();
        let fence = fences.taken("rec", 2);
        fences.refused("rec", &fence, 2);
        assert!(!fence.is_held());
        let other = fences.taken("rec2", 1);
        other.lapsed();
        assert!(!other.is_held());
    }
}
