//! `CountingStorage`: a `MemoryStorage` that counts its loads and stores, and refuses stores on
//! demand (a store that is down).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use credkit_core::{
    CredentialRecord, Error, ErrorKind, KeyPage, Lease, LeaseOptions, MemoryStorage, Result,
    Storage,
};

/// A [`MemoryStorage`] (leases and listing included) that counts its loads and stores, and
/// refuses stores with a transient storage error while [`refuse_stores`](Self::refuse_stores)
/// says so: for tests of how often a cache reads its store, and of a store that is down.
///
/// ```
/// # futures::executor::block_on(async {
/// use credkit_core::{CredentialRecord, Storage};
/// use credkit_testing::CountingStorage;
///
/// let storage = CountingStorage::default();
/// storage.store("k", &CredentialRecord::new()).await?;
/// assert!(storage.load("k").await?.is_some());
/// assert_eq!((storage.loads(), storage.stores()), (1, 1));
/// storage.refuse_stores(true);
/// assert!(storage.store("k", &CredentialRecord::new()).await.unwrap_err().is_transient());
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct CountingStorage {
    inner: MemoryStorage,
    loads: AtomicUsize,
    stores: AtomicUsize,
    refusing: AtomicBool,
}

impl CountingStorage {
    /// The loads so far (since the last [`reset`](Self::reset)).
    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }

    /// The stores tried so far, refused ones included (since the last
    /// [`reset`](Self::reset)).
    pub fn stores(&self) -> usize {
        self.stores.load(Ordering::SeqCst)
    }

    /// The records themselves, to read or change without counting.
    pub fn memory(&self) -> &MemoryStorage {
        &self.inner
    }

    /// Counts from zero again.
    pub fn reset(&self) {
        self.loads.store(0, Ordering::SeqCst);
        self.stores.store(0, Ordering::SeqCst);
    }

    /// Refuses every store from now on (or no longer), with a transient storage error.
    pub fn refuse_stores(&self, refuse: bool) {
        self.refusing.store(refuse, Ordering::SeqCst);
    }
}

#[async_trait]
impl Storage for CountingStorage {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(key).await
    }

    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        self.stores.fetch_add(1, Ordering::SeqCst);
        if self.refusing.load(Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::Storage, "the store is down").with_transient(true));
        }
        self.inner.store(key, record).await
    }

    async fn remove(&self, key: &str) -> Result<()> {
        self.inner.remove(key).await
    }

    async fn lease(&self, key: &str, options: &LeaseOptions) -> Result<Option<Lease>> {
        self.inner.lease(key, options).await
    }

    async fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Option<KeyPage>> {
        self.inner.list(prefix, cursor, limit).await
    }
}
