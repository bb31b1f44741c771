//! The in-memory store.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Debug};
use std::ops::Bound;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use futures::channel::oneshot;
use futures::future::{Either, select};

use super::{CredentialRecord, KeyPage, Lease, LeaseHandle, LeaseOptions, Storage};
use crate::{Error, ErrorKind, Result};

/// A [`Storage`] in process memory: records live as long as the value (and its clones, which
/// share it).
///
/// It offers a [lease](Storage::lease) too, so several `Credentials` sharing one `MemoryStorage`
/// (in one process) make one refresh between them; a waiter wakes as soon as the holder
/// releases the lease or drops it.
///
/// ```
/// use credkit_core::{CredentialRecord, MemoryStorage, Storage};
///
/// # futures::executor::block_on(async {
/// let storage = MemoryStorage::new();
/// storage.store("user", &CredentialRecord::new()).await?;
/// assert!(storage.load("user").await?.is_some());
/// storage.remove("user").await?;
/// assert!(storage.load("user").await?.is_none());
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct MemoryStorage {
    shared: Arc<Mutex<Shared>>,
}

#[derive(Default)]
struct Shared {
    /// Ordered, so that a listing's cursor is the last key it gave.
    records: BTreeMap<String, CredentialRecord>,
    /// The keys leased now, with their holder's number.
    leases: HashMap<String, u64>,
    next_holder: u64,
    /// Waiters for a lease, woken (all of them) whenever one is released.
    waiters: Vec<oneshot::Sender<()>>,
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many records it holds.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.lock().records.is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        lock(&self.shared)
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    // A panic while holding the lock cannot leave the maps half-updated: every operation is a
    // single insert, get or remove.
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Debug for MemoryStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = self.lock();
        f.debug_struct("MemoryStorage")
            .field("keys", &shared.records.keys().collect::<Vec<_>>())
            .field("leased", &shared.leases.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        Ok(self.lock().records.get(key).cloned())
    }

    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        self.lock().records.insert(key.to_owned(), record.clone());
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<()> {
        self.lock().records.remove(key);
        Ok(())
    }

    async fn lease(&self, key: &str, options: &LeaseOptions) -> Result<Option<Lease>> {
        let mut give_up = options.clock().timeout(options.wait());
        loop {
            let released = {
                let mut shared = self.lock();
                if !shared.leases.contains_key(key) {
                    let holder = shared.next_holder;
                    shared.next_holder = shared.next_holder.wrapping_add(1);
                    shared.leases.insert(key.to_owned(), holder);
                    return Ok(Some(Lease::new(MemoryLease {
                        shared: Arc::clone(&self.shared),
                        key: key.to_owned(),
                        holder,
                    })));
                }
                let (wake, released) = oneshot::channel();
                shared.waiters.push(wake);
                released
            };
            match select(released, give_up).await {
                Either::Left((_, pending)) => give_up = pending,
                Either::Right(((), _)) => {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!(
                            "another holder kept the refresh lease past {} s",
                            options.wait().as_secs()
                        ),
                    )
                    .with_transient(true));
                }
            }
        }
    }

    async fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Option<KeyPage>> {
        let shared = self.lock();
        let from = match cursor {
            Some(after) => Bound::Excluded(after.to_owned()),
            None => Bound::Included(prefix.to_owned()),
        };
        let mut matching = shared
            .records
            .range((from, Bound::Unbounded))
            .map(|(key, _)| key)
            .take_while(|key| key.starts_with(prefix));
        let keys: Vec<String> = matching.by_ref().take(limit.max(1)).cloned().collect();
        let next = match (matching.next(), keys.last()) {
            (Some(_), Some(last)) => Some(last.clone()),
            _ => None,
        };
        Ok(Some(KeyPage::new(keys, next)))
    }
}

/// A lease on a [`MemoryStorage`] key: released on `release` or drop.
struct MemoryLease {
    shared: Arc<Mutex<Shared>>,
    key: String,
    holder: u64,
}

impl MemoryLease {
    fn give_back(&self) {
        let waiters = {
            let mut shared = lock(&self.shared);
            if shared.leases.get(&self.key) == Some(&self.holder) {
                shared.leases.remove(&self.key);
            }
            std::mem::take(&mut shared.waiters)
        };
        for waiter in waiters {
            // A waiter that gave up has dropped its receiver: nothing to wake.
            let _ = waiter.send(());
        }
    }
}

impl Debug for MemoryLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryLease")
            .field("key", &self.key)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl LeaseHandle for MemoryLease {
    async fn release(self: Box<Self>) -> Result<()> {
        // Dropping it gives it back.
        Ok(())
    }
}

impl Drop for MemoryLease {
    fn drop(&mut self) {
        self.give_back();
    }
}
