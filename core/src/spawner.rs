//! The `Spawner` trait: background work without knowing the runtime.

use futures::future::BoxFuture;

/// Runs a future in the background, on whatever runtime the application uses.
///
/// The caching layer uses it to refresh a stale token ahead of its expiry without making any
/// caller wait. Every `Fn(BoxFuture<'static, ()>) + Send + Sync` is a spawner, so a closure over
/// the runtime's spawn function is all it takes; credkit itself never depends on a runtime.
///
/// # Contract
///
/// - Run the future to completion, or drop it if the runtime is shutting down; dropping it is
///   safe and leaves the caching layer usable (the next caller drives the refresh instead).
/// - Do not block the caller: return once the future is queued.
///
/// # Examples
///
/// With tokio: `let spawner = |f| { tokio::spawn(f); };`. On any executor, a spawner of one's
/// own:
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use futures::future::BoxFuture;
/// use credkit_core::Spawner;
///
/// // Queues futures for a test to run later.
/// let queue: Arc<Mutex<Vec<BoxFuture<'static, ()>>>> = Arc::default();
/// let q = Arc::clone(&queue);
/// let spawner: Arc<dyn Spawner> = Arc::new(move |f| q.lock().unwrap().push(f));
///
/// spawner.spawn(Box::pin(async {}));
/// assert_eq!(queue.lock().unwrap().len(), 1);
/// ```
pub trait Spawner: Send + Sync {
    /// Runs `future` in the background.
    fn spawn(&self, future: BoxFuture<'static, ()>);
}

impl<F> Spawner for F
where
    F: Fn(BoxFuture<'static, ()>) + Send + Sync,
{
    fn spawn(&self, future: BoxFuture<'static, ()>) {
        self(future);
    }
}
