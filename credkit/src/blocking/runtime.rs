//! Where a blocking call's work runs: one shared tokio runtime started on first use, or a
//! runtime the caller names; and how the caller's thread waits for it.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use credkit_core::Result;
use futures::FutureExt;
use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use super::error;

/// The shared runtime's worker threads. The work is waiting on sockets, so one would do; the
/// second keeps refreshes going while a source or transport of the user's blocks one (a
/// synchronous call inside its async code).
pub(super) const WORKER_THREADS: usize = 2;

/// The name of the shared runtime's threads, as a debugger or `top -H` shows them.
pub(super) const THREAD_NAME: &str = "credkit-blocking";

/// The shared runtime, once started. A static is never dropped: the runtime lives until the
/// process exits, which ends its threads with everything else. (Dropping a tokio runtime from
/// inside another one panics; a static never is.)
static SHARED: OnceLock<Runtime> = OnceLock::new();

/// Held while the shared runtime starts, so two first callers start one.
static STARTING: Mutex<()> = Mutex::new(());

/// The shared runtime, started on first use. A failure to start is returned, not remembered:
/// the next call tries again.
fn shared() -> Result<&'static Runtime> {
    if let Some(runtime) = SHARED.get() {
        return Ok(runtime);
    }
    let _starting = STARTING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(runtime) = SHARED.get() {
        return Ok(runtime);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name(THREAD_NAME)
        .enable_all()
        .build()
        .map_err(error::runtime_failed)?;
    Ok(SHARED.get_or_init(|| runtime))
}

/// The handle of the shared runtime, starting it if need be.
pub(super) fn shared_handle() -> Result<Handle> {
    Ok(shared()?.handle().clone())
}

/// Where a blocking call's work runs and how long its caller waits: what every blocking value
/// carries.
#[derive(Clone, Debug, Default)]
pub(super) struct Runner {
    /// The runtime of `with_handle`; `None` for the shared one.
    handle: Option<Handle>,
    /// How long a caller waits for the work; `None` for as long as it takes.
    timeout: Option<Duration>,
}

impl Runner {
    pub(super) fn set_handle(&mut self, handle: Handle) {
        self.handle = Some(handle);
    }

    pub(super) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = Some(timeout);
    }

    pub(super) fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Whether the work runs on a runtime given with `with_handle`.
    pub(super) fn has_own_handle(&self) -> bool {
        self.handle.is_some()
    }

    /// The runtime the work runs on.
    fn handle(&self) -> Result<Handle> {
        match &self.handle {
            Some(handle) => Ok(handle.clone()),
            None => shared_handle(),
        }
    }

    /// Runs `future` in the background (a refresh ahead nobody waits for). If the runtime
    /// cannot start, the future is dropped, which the caching layer allows: the next caller
    /// drives the refresh.
    pub(super) fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        if let Ok(handle) = self.handle() {
            drop(handle.spawn(future));
        }
    }

    /// Runs `work` on the runtime and waits for its result on this thread.
    ///
    /// The work never needs the caller's runtime, so the wait is safe on a plain thread and on
    /// a thread of any other runtime, multi-thread or current-thread: the caller's runtime is
    /// only paused, as by any blocking call. On a worker of the very runtime that does the work
    /// (a source of the user's calling a blocking API from inside a refresh, or `with_handle`
    /// given the caller's own multi-thread runtime), the wait hands the worker's other tasks
    /// to another thread first (`block_in_place`), so the work can run; on the thread of a
    /// current-thread runtime that would do the work, nothing could, and the call is refused.
    pub(super) fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T>> + Send + 'static,
    {
        let handle = self.handle()?;
        let on_target = Handle::try_current().is_ok_and(|current| current.id() == handle.id());
        if on_target && handle.runtime_flavor() == RuntimeFlavor::CurrentThread {
            return Err(error::would_deadlock());
        }
        // Room for the one message, so the work never waits for a caller that gave up.
        let (sender, receiver) = mpsc::sync_channel(1);
        drop(handle.spawn(async move {
            let outcome = AssertUnwindSafe(work)
                .catch_unwind()
                .await
                .unwrap_or_else(|_| Err(error::panicked()));
            // The caller may have stopped waiting (its timeout): the outcome is in the cache.
            let _ = sender.send(outcome);
        }));
        if !on_target {
            return self.receive(&receiver);
        }
        // `block_in_place` refuses (panics, before running the closure) on a thread that
        // cannot hand its tasks over: one that entered a current-thread runtime under this
        // handle. There the plain wait is all that is left; the work still has the runtime's
        // other workers.
        match catch_unwind(AssertUnwindSafe(|| {
            tokio::task::block_in_place(|| self.receive(&receiver))
        })) {
            Ok(outcome) => outcome,
            Err(_) => self.receive(&receiver),
        }
    }

    /// Waits for the work's outcome, up to the timeout.
    fn receive<T>(&self, receiver: &Receiver<Result<T>>) -> Result<T> {
        let abandoned = || error::abandoned(self.has_own_handle());
        match self.timeout {
            None => receiver.recv().map_err(|_| abandoned())?,
            Some(timeout) => match receiver.recv_timeout(timeout) {
                Ok(outcome) => outcome,
                Err(RecvTimeoutError::Timeout) => Err(error::timed_out(timeout)),
                Err(RecvTimeoutError::Disconnected) => Err(abandoned()),
            },
        }
    }
}
