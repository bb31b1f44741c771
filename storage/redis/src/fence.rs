//! The fences of one `RedisStorage` handle: the leases taken through it, by record, and the
//! generation a store under each must not find exceeded.
//!
//! **Clones.** [`Storage::store`](credkit_core::Storage::store) says nothing of the lease it is
//! made under, so a store is fenced by the leases of the handle it goes through. These fences
//! belong to one handle and are not shared by its clones: each clone (what every `Credentials`
//! is given by `with_storage(storage.clone(), ..)`) is a holder of its own, as a second process
//! would be, and only the connection is shared. Shared fences confused holders: a store
//! through one clone without the lease (a refresh after a lease timeout, or code of the user's)
//! was fenced by another clone's lease and moved its fence on, so that holder's store then
//! overwrote it rather than being fenced off; and a lapsed holder's store passed under the fence
//! of the holder that took the lease after it, or unfenced once that one released it,
//! overwriting the newer rotation fencing exists to keep. Fences are kept by record, so leases
//! on different keys never meet.
//!
//! Two holders can still share one handle (two `Credentials` given the same
//! `Arc<RedisStorage>`, or a lease that lapsed while the same handle took the key's lease
//! again), and a store does not say whose it is. Then the handle stays safe rather than exact:
//! the older lease is marked lost (the server gave the lease out again, so it lapsed), a store
//! is fenced by the lowest generation of the key's leases (a lapsed holder's store never passes
//! under a newer lease), and a store that lands moves no fence on. The current holder's next
//! store may then be refused; `Credentials` keeps its rotation pending and stores it again at
//! the next refresh. Give each `Credentials` its own clone.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A lease held through a handle, and the generation a store under it must not find exceeded.
#[derive(Clone, Debug)]
pub(crate) struct Fence {
    pub(crate) owner: String,
    pub(crate) generation: i64,
    /// The lease handle's `is_held`: cleared when a store is fenced off or the lease is given
    /// out again, so `Credentials` knows the lease lapsed and loads the newer record.
    pub(crate) held: Arc<AtomicBool>,
}

/// One handle's fences, by the record's Redis name.
#[derive(Debug, Default)]
pub(crate) struct Fences(HashMap<String, Vec<Fence>>);

impl Fences {
    /// Records the lease just taken on `record`. Any lease this handle still records on it has
    /// lapsed (the server gave the lease out again): it is marked not held.
    pub(crate) fn taken(&mut self, record: &str, fence: Fence) {
        let fences = self.0.entry(record.to_owned()).or_default();
        for lapsed in fences.iter() {
            lapsed.held.store(false, Ordering::Release);
        }
        fences.push(fence);
    }

    /// The fence a store to `record` through this handle is made under: none without a lease;
    /// with several leases, the one with the lowest generation.
    pub(crate) fn fence(&self, record: &str) -> Option<Fence> {
        self.0
            .get(record)?
            .iter()
            .min_by_key(|fence| fence.generation)
            .cloned()
    }

    /// A store under `fence` landed at `generation`: the next store under the same lease
    /// expects it, when that lease is still the record's only one here.
    pub(crate) fn landed(&mut self, record: &str, fence: &Fence, generation: i64) {
        if let Some([only]) = self.0.get_mut(record).map(Vec::as_mut_slice)
            && only.owner == fence.owner
        {
            only.generation = generation;
        }
    }

    /// A store to `record` was fenced off by a record at generation `found`: every lease here
    /// that began before it has lapsed.
    pub(crate) fn refused(&self, record: &str, found: i64) {
        for fence in self.0.get(record).into_iter().flatten() {
            if fence.generation < found {
                fence.held.store(false, Ordering::Release);
            }
        }
    }

    /// The lease of `owner` on `record` ended: stores no longer go under it.
    pub(crate) fn forget(&mut self, record: &str, owner: &str) {
        if let Some(fences) = self.0.get_mut(record) {
            fences.retain(|fence| fence.owner != owner);
            if fences.is_empty() {
                self.0.remove(record);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fence(owner: &str, generation: i64) -> Fence {
        Fence {
            owner: owner.to_owned(),
            generation,
            held: Arc::new(AtomicBool::new(true)),
        }
    }

    fn held(fence: &Fence) -> bool {
        fence.held.load(Ordering::Acquire)
    }

    #[test]
    fn one_lease_fences_its_record_and_moves_on_with_each_store() {
        let mut fences = Fences::default();
        let first = fence("a", 3);
        fences.taken("rec", first.clone());
        assert!(fences.fence("other").is_none());
        let used = fences.fence("rec").unwrap();
        assert_eq!((used.owner.as_str(), used.generation), ("a", 3));
        fences.landed("rec", &used, 4);
        assert_eq!(fences.fence("rec").unwrap().generation, 4);
        // A store under a lease that has ended since moves nothing.
        fences.landed("rec", &fence("b", 3), 9);
        assert_eq!(fences.fence("rec").unwrap().generation, 4);
        fences.refused("rec", 4);
        assert!(held(&first), "a record at its own generation is no news");
        fences.refused("rec", 5);
        assert!(!held(&first));
        fences.forget("rec", "b");
        assert!(fences.fence("rec").is_some());
        fences.forget("rec", "a");
        assert!(fences.fence("rec").is_none());
        assert!(fences.0.is_empty());
    }

    #[test]
    fn a_second_lease_on_one_record_in_one_handle_fences_by_the_lowest_generation() {
        let mut fences = Fences::default();
        let (lapsed, current, elsewhere) = (fence("a", 3), fence("b", 5), fence("c", 1));
        fences.taken("rec", lapsed.clone());
        fences.taken("rec2", elsewhere.clone());
        fences.taken("rec", current.clone());
        assert!(!held(&lapsed), "the server gave its lease out again");
        assert!(held(&current) && held(&elsewhere));
        let used = fences.fence("rec").unwrap();
        assert_eq!(used.owner, "a");
        // Whose store it was is not known: no fence moves on.
        fences.landed("rec", &used, 6);
        assert_eq!(fences.fence("rec").unwrap().generation, 3);
        fences.refused("rec", 5);
        assert!(held(&current), "a record at its own generation is no news");
        fences.refused("rec", 6);
        assert!(!held(&current));
        assert!(held(&elsewhere));
        fences.forget("rec", "a");
        assert_eq!(fences.fence("rec").unwrap().owner, "b");
        fences.landed("rec", &fences.fence("rec").unwrap(), 7);
        assert_eq!(fences.fence("rec").unwrap().generation, 7);
    }
}
