//! The in-memory store.

use std::collections::HashMap;
use std::fmt::{self, Debug};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use super::{CredentialRecord, Storage};
use crate::Result;

/// A [`Storage`] in process memory: records live as long as the value (and its clones, which
/// share it).
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
    records: Arc<Mutex<HashMap<String, CredentialRecord>>>,
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many records it holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CredentialRecord>> {
        // A panic while holding the lock cannot leave a map half-updated: every operation is a
        // single insert, get or remove.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Debug for MemoryStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let records = self.lock();
        f.debug_struct("MemoryStorage")
            .field("keys", &records.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        Ok(self.lock().get(key).cloned())
    }

    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        self.lock().insert(key.to_owned(), record.clone());
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<()> {
        self.lock().remove(key);
        Ok(())
    }
}
