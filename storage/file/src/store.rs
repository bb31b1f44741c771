//! `FileStorage`: the `Storage` impl, every file operation sent to the blocking pool.

use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use blocking::unblock;
use credkit_core::{
    BuildError, CredentialRecord, Lease, LeaseHandle, LeaseOptions, Result, Storage,
};

use crate::dir::Dir;
use crate::{error, fsio, names};

/// A [`Storage`] in a directory: one private file per key, replaced atomically, with a
/// cross-process lease on a sibling lock file.
///
/// # Examples
///
/// ```
/// use credkit_core::{CredentialRecord, Storage};
/// use credkit_storage_file::FileStorage;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let temp = tempfile::tempdir()?;
/// # let dir = temp.path().join("credkit");
/// let storage = FileStorage::new(&dir)?;
/// # futures::executor::block_on(async {
/// storage.store("user", &CredentialRecord::new()).await?;
/// assert!(storage.load("user").await?.is_some());
/// assert!(storage.record_path("user").starts_with(&dir));
/// # Ok::<(), credkit_core::Error>(())
/// # })?;
/// # Ok(())
/// # }
/// ```
///
/// With `Credentials`, so that a token outlives the process and processes sharing the
/// directory refresh once between them:
///
/// ```no_run
/// # use credkit_core::{Credentials, StaticSource, AccessToken};
/// # use credkit_storage_file::FileStorage;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let source = StaticSource::new(AccessToken::new("t"));
/// let credentials = Credentials::builder(source)
///     .with_storage(FileStorage::in_user_cache_dir("my-app")?, "user:my-client-id")
///     .build()?;
/// # drop(credentials);
/// # Ok(())
/// # }
/// ```
///
/// # Layout and guarantees
///
/// - The key `k` maps to `<prefix>-<hash>.json` and `<prefix>-<hash>.lock`: the prefix keeps at
///   most 32 letters, digits, `-` and `_` of the key (anything else becomes `_`), the hash is
///   128 bits of the SHA-256 of the whole key. No key can name a path outside the directory,
///   and the name shows nothing of the key beyond that prefix: keys must not be secrets.
/// - On Unix the directory is created with mode 0700 and every file with 0600. A directory
///   owned by another user, or open to others, is refused by [`new`](Self::new); a record open
///   to others is refused by `load` with a transient error (so `Credentials` never overwrites
///   it: it may hold the only copy of a rotated refresh token) that says which `chmod` fixes it.
/// - On Unix [`new`](Self::new) opens the directory once (following a symlink on its path that
///   once), checks the directory it opened, and keeps it open: every later read, write, rename,
///   removal, lock and `fsync` works relative to that handle (`openat`, `renameat`,
///   `unlinkat`), so re-pointing a symlink or renaming a directory on the path afterwards
///   changes nothing. Records and lock files are opened without following a symlink and
///   checked on the open file (`fstat`): a symlink, a directory or any other non-file in their
///   place, or a file of another user, is refused with a permanent error that says to remove
///   it, never read or locked (`Credentials` then stores a new record over it, replacing the
///   name, never writing through it). This matters most to a root process, which every file
///   permission lets through.
/// - `store` writes a temporary file in the same directory, flushes it to disk (`fsync`),
///   renames it over the record and flushes the directory: a crash at any point leaves the old
///   record or the new one, whole. A failed store (a full disk, a read-only directory) removes
///   its temporary file, leaves the old record as it was, and is a transient error.
/// - `load` takes no lock. A record that does not parse is read again a few times (5 ms apart,
///   on the blocking pool), then reported as a permanent error, which `Credentials` answers by
///   replacing the record with its next store. Records written by newer versions load (unknown
///   fields are ignored).
/// - The [lease](Storage::lease) is an exclusive advisory lock (`flock` on Unix, `LockFileEx`
///   on Windows) on the lock file, never on the record (a rename would swap the locked file
///   away). Waiting polls with a try-lock every [poll interval](FileStorageBuilder::with_lease_poll_interval),
///   sleeping on the [`LeaseOptions`] clock, and gives up after [`LeaseOptions::wait`] with a
///   transient [`Timeout`](credkit_core::ErrorKind::Timeout) error. The lock is held by an open
///   file: dropping the lease, cancelling the holder or killing its process releases it at once.
///   Lock files stay in the directory (removing one would let two holders lock two different
///   files); they hold nothing.
/// - Every file operation and lock attempt runs on the [`blocking`] crate's thread pool, never on
///   the async executor's threads: `FileStorage` works under any runtime.
///
/// # Platforms
///
/// Linux and macOS are first-class. Windows builds and keeps the atomic replace
/// (`MoveFileEx` with replace-existing), the lock (`LockFileEx`, released when the process
/// ends) and the retrying reads; it has no file modes (the directory takes the ACL of its
/// parent, the user's profile by default) and no directory `fsync`. Advisory locks on network
/// filesystems (NFS, SMB) are only as good as the server's.
///
/// Clones share the directory and settings; there is no need to wrap it in an `Arc`.
#[derive(Clone)]
pub struct FileStorage {
    inner: Arc<Inner>,
}

struct Inner {
    /// The directory, opened once by `new`: every later operation goes through it.
    dir: Arc<Dir>,
    poll_interval: Duration,
}

impl FileStorage {
    /// How often a waiting [`lease`](Storage::lease) tries the lock by default: every 10 ms.
    pub const DEFAULT_LEASE_POLL_INTERVAL: Duration = Duration::from_millis(10);

    /// A storage in `dir` with the default settings: `FileStorage::builder(dir).build()`.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let temp = tempfile::tempdir()?;
    /// use credkit_storage_file::FileStorage;
    ///
    /// let storage = FileStorage::new(temp.path().join("tokens"))?;
    /// assert!(storage.dir().ends_with("tokens"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`FileStorageBuilder::build`].
    pub fn new(dir: impl Into<PathBuf>) -> std::result::Result<Self, BuildError> {
        Self::builder(dir).build()
    }

    /// A builder for a storage in `dir`; see [`FileStorageBuilder`].
    pub fn builder(dir: impl Into<PathBuf>) -> FileStorageBuilder {
        FileStorageBuilder {
            dir: dir.into(),
            poll_interval: Self::DEFAULT_LEASE_POLL_INTERVAL,
        }
    }

    /// A storage in `app`'s folder of the user's cache directory (see
    /// [`user_cache_dir`](Self::user_cache_dir)), with the default settings.
    ///
    /// # Errors
    ///
    /// As [`FileStorageBuilder::build`], and a [`BuildError`] when the platform has no user
    /// cache directory.
    pub fn in_user_cache_dir(app: &str) -> std::result::Result<Self, BuildError> {
        let dir = Self::user_cache_dir(app).ok_or_else(error::no_cache_dir)?;
        Self::new(dir)
    }

    /// `app`'s folder in the user's cache directory: `$XDG_CACHE_HOME/<app>` or
    /// `~/.cache/<app>` on Linux, `~/Library/Caches/<app>` on macOS,
    /// `%LOCALAPPDATA%\<app>` on Windows. `None` when the platform has none.
    ///
    /// ```
    /// use credkit_storage_file::FileStorage;
    ///
    /// if let Some(dir) = FileStorage::user_cache_dir("credkit") {
    ///     assert!(dir.ends_with("credkit"));
    /// }
    /// ```
    pub fn user_cache_dir(app: &str) -> Option<PathBuf> {
        dirs::cache_dir().map(|dir| dir.join(app))
    }

    /// The path the directory was opened by. The storage works in the directory it opened
    /// then, even if this path has led elsewhere since (a symlink re-pointed, say).
    pub fn dir(&self) -> &Path {
        self.inner.dir.path()
    }

    /// Where the record of `key` is (whether or not there is one), under [`dir`](Self::dir).
    pub fn record_path(&self, key: &str) -> PathBuf {
        self.inner.dir.join(&fsio::record_name(&names::stem(key)))
    }

    /// Where the lock file of `key`'s lease is, under [`dir`](Self::dir).
    pub fn lock_path(&self, key: &str) -> PathBuf {
        self.inner.dir.join(&fsio::lock_name(&names::stem(key)))
    }
}

/// Builds a [`FileStorage`]; start with [`FileStorage::builder`].
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let temp = tempfile::tempdir()?;
/// use std::time::Duration;
/// use credkit_storage_file::FileStorage;
///
/// let storage = FileStorage::builder(temp.path().join("c"))
///     .with_lease_poll_interval(Duration::from_millis(2))
///     .build()?;
/// assert!(format!("{storage:?}").contains("2ms"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct FileStorageBuilder {
    dir: PathBuf,
    poll_interval: Duration,
}

impl FileStorageBuilder {
    /// Tries a lease held by another process every `interval` while waiting for it (at least
    /// every millisecond). Default
    /// [`DEFAULT_LEASE_POLL_INTERVAL`](FileStorage::DEFAULT_LEASE_POLL_INTERVAL).
    pub fn with_lease_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The storage: its directory created (with its parents) if missing, private to this
    /// user.
    ///
    /// This does blocking file I/O: call it at start-up, or from a blocking task.
    ///
    /// On Unix the directory stays open for the life of the storage (and its clones): one file
    /// descriptor, through which every later operation goes, wherever the path leads later.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] (loading) when the directory cannot be created or opened, is not a
    /// directory, belongs to another user, or (Unix) is open to other users (with the `chmod`
    /// that fixes it). The message says which; the I/O error is its source.
    pub fn build(self) -> std::result::Result<FileStorage, BuildError> {
        let dir = Dir::open(&self.dir).map_err(error::unusable_dir)?;
        Ok(FileStorage {
            inner: Arc::new(Inner {
                dir: Arc::new(dir),
                poll_interval: self.poll_interval,
            }),
        })
    }
}

impl fmt::Debug for FileStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStorage")
            .field("dir", &self.inner.dir.path())
            .field("poll_interval", &self.inner.poll_interval)
            .finish()
    }
}

#[async_trait]
impl Storage for FileStorage {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        let dir = Arc::clone(&self.inner.dir);
        let stem = names::stem(key);
        unblock(move || fsio::read(&dir, &stem)).await
    }

    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        let bytes = record.to_json()?;
        let dir = Arc::clone(&self.inner.dir);
        let stem = names::stem(key);
        unblock(move || fsio::write(&dir, &stem, &bytes)).await
    }

    async fn remove(&self, key: &str) -> Result<()> {
        let dir = Arc::clone(&self.inner.dir);
        let stem = names::stem(key);
        unblock(move || fsio::remove(&dir, &stem)).await
    }

    async fn lease(&self, key: &str, options: &LeaseOptions) -> Result<Option<Lease>> {
        let stem = names::stem(key);
        let path = self.lock_path(key);
        let clock = options.clock();
        let wait = options.wait();
        let started = clock.now();
        loop {
            let (dir, stem) = (Arc::clone(&self.inner.dir), stem.clone());
            // A dropped attempt that has not started never runs; one already running finishes
            // on its thread and its output (the locked file) is dropped with the task, which
            // releases the lock (tests/lease_cancel.rs).
            if let Some(file) = unblock(move || fsio::try_lock(&dir, &stem)).await? {
                return Ok(Some(Lease::new(FileLease { file, path })));
            }
            let waited = Duration::try_from(clock.now() - started).unwrap_or(Duration::ZERO);
            let Some(left) = wait.checked_sub(waited).filter(|left| !left.is_zero()) else {
                return Err(error::lease_timeout(&path, wait));
            };
            clock.sleep(self.inner.poll_interval.min(left)).await;
        }
    }
}

/// A held lock on a lock file: the open file. Closing it (on drop) releases the lock, and so
/// does the death of the process.
struct FileLease {
    file: File,
    path: PathBuf,
}

impl fmt::Debug for FileLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileLease")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl LeaseHandle for FileLease {
    async fn release(self: Box<Self>) -> Result<()> {
        unblock(move || fsio::unlock(&self.file, &self.path)).await
    }
}
