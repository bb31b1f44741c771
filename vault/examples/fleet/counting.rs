//! A storage decorator that writes down, for the keys it watches, each operation in order:
//! `R` load, `L` lease taken, `W` store, `D` remove.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use credkit_core::{CredentialRecord, KeyPage, Lease, LeaseOptions, Result, Storage};

#[derive(Clone)]
pub(crate) struct Counting {
    inner: Arc<dyn Storage>,
    log: Arc<Mutex<HashMap<String, String>>>,
}

impl Counting {
    pub(crate) fn new(inner: Arc<dyn Storage>) -> Self {
        Self {
            inner,
            log: Arc::default(),
        }
    }

    /// Starts writing down `key`'s operations (from an empty log).
    pub(crate) fn watch(&self, key: &str) {
        self.lock().insert(key.to_owned(), String::new());
    }

    /// `key`'s operations so far.
    pub(crate) fn ops(&self, key: &str) -> String {
        self.lock().get(key).cloned().unwrap_or_default()
    }

    fn note(&self, key: &str, op: char) {
        if let Some(ops) = self.lock().get_mut(key) {
            ops.push(op);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Counting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Counting")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Storage for Counting {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        self.note(key, 'R');
        self.inner.load(key).await
    }

    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        self.note(key, 'W');
        self.inner.store(key, record).await
    }

    async fn remove(&self, key: &str) -> Result<()> {
        self.note(key, 'D');
        self.inner.remove(key).await
    }

    async fn lease(&self, key: &str, options: &LeaseOptions) -> Result<Option<Lease>> {
        let lease = self.inner.lease(key, options).await;
        if matches!(lease, Ok(Some(_))) {
            self.note(key, 'L');
        }
        lease
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
