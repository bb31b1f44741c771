//! The `Storage` trait and its forwarding impls; the record it persists (`record.rs`, the one
//! door secrets leave by); the in-memory store (`memory.rs`).

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;

mod memory;
mod record;

pub use memory::MemoryStorage;
pub use record::CredentialRecord;

/// Persists credential records by key, so a restarted process can reuse a still-valid token and
/// never loses a rotated refresh token.
///
/// # Contract
///
/// - `store` replaces the whole record for the key, atomically where the medium allows: a reader
///   sees the old record or the new one, never a mix. `load` of an unknown key is `Ok(None)`.
///   `remove` of an unknown key is `Ok(())`.
/// - Records hold secrets. Write them only where the user chose to (with restrictive permissions
///   for files) and never log them. [`CredentialRecord::to_json`] is the one serialized form.
/// - Stores that serialize keep the bytes of [`CredentialRecord::to_json`] as they are and read
///   them back with [`CredentialRecord::from_json`]. That form carries a format `version` and
///   ignores members it does not know, so a record written by a newer credkit still loads after
///   a rollback (keeping the fields this version knows).
/// - Thread safety: shared as `Arc<dyn Storage>`. Cancellation: a dropped `store` may or may not
///   have written the record, but must not leave a torn one.
/// - Errors use [`ErrorKind::Storage`](crate::ErrorKind::Storage); transient only where a retry
///   may help (a busy database).
///
/// # Examples
///
/// A storage that remembers only the last record:
///
/// ```
/// use std::sync::Mutex;
/// use async_trait::async_trait;
/// use credkit_core::{CredentialRecord, Result, Storage};
///
/// #[derive(Debug, Default)]
/// struct LastOne(Mutex<Option<(String, CredentialRecord)>>);
///
/// #[async_trait]
/// impl Storage for LastOne {
///     async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
///         let slot = self.0.lock().unwrap();
///         Ok(slot.as_ref().filter(|(k, _)| k == key).map(|(_, r)| r.clone()))
///     }
///     async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
///         *self.0.lock().unwrap() = Some((key.to_owned(), record.clone()));
///         Ok(())
///     }
///     async fn remove(&self, key: &str) -> Result<()> {
///         let mut slot = self.0.lock().unwrap();
///         if slot.as_ref().is_some_and(|(k, _)| k == key) {
///             *slot = None;
///         }
///         Ok(())
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let storage = LastOne::default();
/// storage.store("me", &CredentialRecord::new()).await?;
/// assert!(storage.load("me").await?.is_some());
/// assert!(storage.load("you").await?.is_none());
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait Storage: Send + Sync + Debug {
    /// Loads the record stored under `key`, if any.
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::Storage`](crate::ErrorKind::Storage) error when the medium fails or the record is unreadable.
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>>;

    /// Stores `record` under `key`, replacing any previous one.
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::Storage`](crate::ErrorKind::Storage) error when the medium fails.
    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()>;

    /// Removes the record under `key`, if any.
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::Storage`](crate::ErrorKind::Storage) error when the medium fails.
    async fn remove(&self, key: &str) -> Result<()>;
}

#[async_trait]
impl<T: Storage + ?Sized> Storage for &T {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        (**self).load(key).await
    }
    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        (**self).store(key, record).await
    }
    async fn remove(&self, key: &str) -> Result<()> {
        (**self).remove(key).await
    }
}

#[async_trait]
impl<T: Storage + ?Sized> Storage for Box<T> {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        (**self).load(key).await
    }
    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        (**self).store(key, record).await
    }
    async fn remove(&self, key: &str) -> Result<()> {
        (**self).remove(key).await
    }
}

#[async_trait]
impl<T: Storage + ?Sized> Storage for Arc<T> {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        (**self).load(key).await
    }
    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        (**self).store(key, record).await
    }
    async fn remove(&self, key: &str) -> Result<()> {
        (**self).remove(key).await
    }
}
