//! The cross-process lease a `Storage` may offer: one refresh per expiry across processes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::{Clock, Result};

/// How long to wait for a lease another holder has, and the clock to wait on.
///
/// Given to [`Storage::lease`](crate::Storage::lease) by `Credentials`, which sets `wait` to what
/// is left of the refresh's deadline.
///
/// ```
/// use std::time::Duration;
/// use credkit_core::{LeaseOptions, SystemClock};
///
/// let options = LeaseOptions::new(Duration::from_secs(30), SystemClock);
/// assert_eq!(options.wait(), Duration::from_secs(30));
/// ```
#[derive(Clone, Debug)]
pub struct LeaseOptions {
    wait: Duration,
    clock: Arc<dyn Clock>,
}

impl LeaseOptions {
    /// Wait at most `wait` for the lease, sleeping (between polls) on `clock`.
    pub fn new(wait: Duration, clock: impl Clock + 'static) -> Self {
        Self {
            wait,
            clock: Arc::new(clock),
        }
    }

    /// The longest a storage may wait for another holder to release the lease.
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// The clock to read the time and to sleep on while waiting.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
}

/// A storage's own hold on a lease: what [`Lease`] wraps.
///
/// # Contract
///
/// - Dropping the handle releases the lease, at once where the medium allows it (closing a
///   locked file) and otherwise as soon as it can (a lease with a time to live lapses by
///   itself): a holder that is cancelled, panics or dies never keeps the lease for good.
/// - [`release`](LeaseHandle::release) releases it now and reports a failure.
/// - [`is_held`](LeaseHandle::is_held) is false once the storage knows the lease lapsed (a time
///   to live ran out, or a store was fenced off because another holder stored since); stores
///   made after that are fenced off by a storage whose lease can lapse, by the rules of
///   [fencing](crate::Storage#fencing) ([`Fence::is_held`](crate::Fence::is_held) is the
///   answer such a storage gives). When a refresh ends with its lease no
///   longer held, `Credentials` loads the record again and the stored one wins: it is adopted,
///   any rotation of its own not yet stored is dropped, and its token is used if fresh.
#[async_trait]
pub trait LeaseHandle: Send + Sync + fmt::Debug {
    /// Releases the lease now.
    ///
    /// # Errors
    ///
    /// A [`Storage`](crate::ErrorKind::Storage) error when the medium fails; the lease is then
    /// released by its time to live, or when the process exits.
    async fn release(self: Box<Self>) -> Result<()>;

    /// Whether the lease is still held, as far as the storage knows. Default: true.
    fn is_held(&self) -> bool {
        true
    }
}

/// A held cross-process lease on one key, from [`Storage::lease`](crate::Storage::lease).
///
/// Released by [`release`](Lease::release), or when dropped (a cancelled or panicking holder),
/// or by the operating system or the storage's time to live when the process dies.
///
/// ```
/// use async_trait::async_trait;
/// use credkit_core::{Lease, LeaseHandle, Result};
///
/// #[derive(Debug)]
/// struct Nothing;
///
/// #[async_trait]
/// impl LeaseHandle for Nothing {
///     async fn release(self: Box<Self>) -> Result<()> {
///         Ok(())
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let lease = Lease::new(Nothing);
/// assert!(lease.is_held());
/// lease.release().await?;
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
pub struct Lease {
    handle: Box<dyn LeaseHandle>,
}

impl Lease {
    /// A lease held through `handle`.
    pub fn new(handle: impl LeaseHandle + 'static) -> Self {
        Self {
            handle: Box::new(handle),
        }
    }

    /// Whether the lease is still held, as far as the storage knows.
    pub fn is_held(&self) -> bool {
        self.handle.is_held()
    }

    /// Releases the lease now.
    ///
    /// # Errors
    ///
    /// As [`LeaseHandle::release`].
    pub async fn release(self) -> Result<()> {
        self.handle.release().await
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Lease").field(&self.handle).finish()
    }
}
