//! `TokioSpawner`: background refreshes on a tokio runtime, from any thread.

use credkit_core::Spawner;
use futures::future::BoxFuture;
use tokio::runtime::Handle;

/// A [`Spawner`] that runs credkit's background refreshes on a tokio runtime, whichever thread
/// hands them over.
///
/// `Credentials` calls its spawner from the thread that calls `apply` or `before_request`,
/// which may be outside any runtime (a worker thread, a blocking section). A closure calling
/// `tokio::spawn` panics there; this spawner holds a [`Handle`] captured up front, so it works
/// from anywhere.
///
/// # Examples
///
/// ```
/// use credkit_core::{AccessToken, Credentials, StaticSource};
/// use credkit_tokio::TokioSpawner;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
///     .with_spawner(TokioSpawner::current())
///     .build()?;
/// # let _ = credentials;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct TokioSpawner {
    handle: Handle,
}

impl TokioSpawner {
    /// A spawner on the runtime this is called from.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as [`Handle::current`]: once, at set-up, where the mistake is
    /// made, rather than later inside a request. Use [`try_current`](Self::try_current) or
    /// [`from_handle`](Self::from_handle) there.
    pub fn current() -> Self {
        Self::from_handle(Handle::current())
    }

    /// A spawner on the runtime this is called from, or `None` outside a tokio runtime.
    ///
    /// ```
    /// assert!(credkit_tokio::TokioSpawner::try_current().is_none());
    /// ```
    pub fn try_current() -> Option<Self> {
        Handle::try_current().ok().map(Self::from_handle)
    }

    /// A spawner on the runtime behind `handle`.
    pub fn from_handle(handle: Handle) -> Self {
        Self { handle }
    }

    /// The runtime's handle.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Spawner for TokioSpawner {
    fn spawn(&self, future: BoxFuture<'static, ()>) {
        drop(self.handle.spawn(future));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[test]
    fn inside_a_runtime_there_is_a_current_spawner() {
        assert!(TokioSpawner::try_current().is_none());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _entered = runtime.enter();
        assert!(TokioSpawner::try_current().is_some());
    }

    #[test]
    fn spawns_from_a_thread_outside_the_runtime() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let spawner = TokioSpawner::from_handle(runtime.handle().clone());
        let ran = Arc::new(AtomicBool::new(false));
        let (done, wait) = std::sync::mpsc::channel();
        let flag = Arc::clone(&ran);
        std::thread::spawn(move || {
            spawner.spawn(Box::pin(async move {
                flag.store(true, Ordering::SeqCst);
                done.send(()).unwrap();
            }));
        })
        .join()
        .unwrap();
        wait.recv().unwrap();
        assert!(ran.load(Ordering::SeqCst));
    }
}
