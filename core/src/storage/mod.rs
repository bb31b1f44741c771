//! The `Storage` trait and its forwarding impls; the record it persists (`record.rs`, the one
//! door secrets leave by); the in-memory store (`memory.rs`); fencing by generation
//! (`fence.rs`); the codec record bytes pass through (`codec.rs`).

use std::fmt::Debug;

use async_trait::async_trait;

use crate::Result;

mod codec;
mod fence;
mod lease;
mod memory;
mod record;

pub use codec::{PlainJson, RecordCodec};
pub use fence::{Fence, FenceCheck, Fences};
pub use lease::{Lease, LeaseHandle, LeaseOptions};
pub use memory::MemoryStorage;
pub use record::CredentialRecord;

/// One page of the keys a storage holds, from [`Storage::list`].
///
/// ```
/// use credkit_core::KeyPage;
///
/// let page = KeyPage::new(vec!["user-1".into()], Some("cursor".into()));
/// assert_eq!(page.keys(), ["user-1"]);
/// assert_eq!(page.next(), Some("cursor"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPage {
    keys: Vec<String>,
    next: Option<String>,
}

impl KeyPage {
    /// A page of `keys`, with the cursor of the next page (`None`: this was the last).
    pub fn new(keys: Vec<String>, next: Option<String>) -> Self {
        Self { keys, next }
    }

    /// The keys on this page, in no particular order.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The cursor to pass to [`Storage::list`] for the next page; `None` on the last page.
    pub fn next(&self) -> Option<&str> {
        self.next.as_deref()
    }

    /// The keys and the next cursor, by value.
    pub fn into_parts(self) -> (Vec<String>, Option<String>) {
        (self.keys, self.next)
    }
}

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
///   may help (a busy database, a server out of reach). A record that cannot be read for good
///   (corrupt, not a record) is a permanent error: `Credentials` then replaces it with its next
///   store, where a transient one is never overwritten blind.
/// - [`lease`](Storage::lease) is optional. A storage shared by several processes offers it so
///   that they make one refresh per expiry between them and never lose a rotated refresh token:
///   `Credentials` refreshes under the lease (take it, load the record again, use a token
///   another process stored if it is still fresh, else fetch, store, release).
/// - [`list`](Storage::list) is optional: a storage that can enumerate its keys without reading
///   records offers it (operators' tools and the vault's listing use it).
///
/// # Fencing
///
/// A lease that can *lapse* while its holder still runs (a time to live that ran out during a
/// pause, a lost connection) lets two holders refresh at once, and the late one could overwrite
/// the rotation the other just stored, losing the newer refresh token. A storage whose lease
/// can lapse therefore fences stores by **generation**; a lease that cannot lapse while its
/// holder lives (an operating system's file lock, [`MemoryStorage`]'s) needs none of this.
///
/// - Each record has a generation: 0 when there is none, and each store that lands sets a
///   higher one, atomically with the record ([`FenceCheck::generation`]).
/// - Taking the lease reads the record's generation, atomically with taking it, and records it
///   in the handle's [`Fences`] ([`Fences::taken`]).
/// - A store made through a handle that holds the key's lease goes under that lease's fence
///   ([`Fences::fence`]) and obeys [`Fence::check`] atomically with the write (a
///   compare-and-set, a script, a row lock):
///   - the record is at a **higher** generation (another holder stored since): the store is
///     refused with a permanent [`ErrorKind::Storage`](crate::ErrorKind::Storage) error
///     ([`Fence::refusal`]) and the lease reports itself no longer held
///     ([`LeaseHandle::is_held`] false, through [`Fences::refused`]); `Credentials` then loads
///     the newer record and adopts it;
///   - the same generation: the store lands at the next one, and the fence moves with it
///     ([`Fences::landed`]), so a second store under the same lease lands too;
///   - a **lower** one (the medium lost writes: a failover, a removal): the holder's record is
///     the newer one, and lands past the fence.
/// - A store made without the lease is not fenced: it lands (a user's own write, a refresh
///   after the policy allowed one without the lease).
/// - Fences belong to one handle: `Clone` makes a handle with none, which stands for another
///   holder, as another process would. Give each `Credentials` its own clone.
///
/// [`credkit_testing::contract::storage::run_fenced`](https://docs.rs/credkit-testing) checks
/// all of this given a way to make a lease lapse.
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

    /// Takes the cross-process lease on `key`, waiting at most [`LeaseOptions::wait`] (on its
    /// clock) for another holder to release it. `Ok(None)`: this storage offers no lease, and
    /// `Credentials` refreshes as it would without one. Default: `Ok(None)`.
    ///
    /// The lease is exclusive across every process sharing the storage, released when the
    /// [`Lease`] is released or dropped, and released too when its holder dies (an operating
    /// system's file lock, a time to live). Waiting must never block the thread: poll with
    /// sleeps on the options' clock, or wait on a notification. Cancelling the future must not
    /// leave the lease held.
    ///
    /// # Errors
    ///
    /// A transient [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) error when another holder
    /// kept the lease past the wait; an [`ErrorKind::Storage`](crate::ErrorKind::Storage) error
    /// when the medium fails.
    async fn lease(&self, key: &str, options: &LeaseOptions) -> Result<Option<Lease>> {
        let _ = (key, options);
        Ok(None)
    }

    /// One page of at most `limit` keys starting with `prefix`, from `cursor` (`None`: the
    /// first page; else the previous page's [`KeyPage::next`]). Reads no record: listing never
    /// loads a secret. `Ok(None)`: this storage cannot list. Default: `Ok(None)`.
    ///
    /// Every key present for the whole listing appears exactly once across the pages; a key
    /// stored or removed meanwhile may or may not. A page may hold fewer than `limit` keys (even
    /// none) and still have a next one.
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::Storage`](crate::ErrorKind::Storage) error when the medium fails or the
    /// cursor is not one this storage gave.
    async fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Option<KeyPage>> {
        let _ = (prefix, cursor, limit);
        Ok(None)
    }
}

crate::forward_impls! {
    #[async_trait]
    trait Storage {
        async fn load(&self, key: &str) -> Result<Option<CredentialRecord>>;
        async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()>;
        async fn remove(&self, key: &str) -> Result<()>;
        async fn lease(&self, key: &str, options: &LeaseOptions) -> Result<Option<Lease>>;
        async fn list(&self, prefix: &str, cursor: Option<&str>, limit: usize) -> Result<Option<KeyPage>>;
    }
}
