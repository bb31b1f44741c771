//! The errors the blocking API adds to those of the work it waits for: each says what to do.

use std::io;
use std::time::Duration;

use credkit_core::{Error, ErrorKind};

/// The shared runtime could not start its threads: the machine is out of threads or memory.
/// Transient: the next call tries to start it again.
pub(super) fn runtime_failed(err: io::Error) -> Error {
    Error::new(
        ErrorKind::Provider,
        "credkit's blocking runtime could not start its threads; the next call tries again",
    )
    .with_transient(true)
    .with_source(err)
}

/// A caller on the one thread of the current-thread runtime its work would run on: waiting
/// there would wait forever, so the call is refused before anything starts.
pub(super) fn would_deadlock() -> Error {
    Error::new(
        ErrorKind::Configuration,
        "a blocking credentials call on the thread of the current-thread runtime given to \
         with_handle would wait for itself forever: use the async API on that runtime, or give \
         with_handle a handle of another runtime",
    )
}

/// The caller stopped waiting after its `with_timeout`; the work goes on. Transient.
pub(super) fn timed_out(waited: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "gave up waiting for the refresh after {} ms (with_timeout); it goes on in the \
             background, and a later call gets its token",
            waited.as_millis()
        ),
    )
}

/// The work panicked on its runtime. Sources, storages and observers are already caught by
/// the caching layer, so this is credkit's own bug.
pub(super) fn panicked() -> Error {
    Error::internal("the work of a blocking credentials call panicked on its runtime")
}

/// The runtime dropped the work before it finished: the runtime given to `with_handle` shut
/// down (the shared one never does).
pub(super) fn abandoned(given: bool) -> Error {
    if given {
        Error::new(
            ErrorKind::Configuration,
            "the runtime given to with_handle shut down before the blocking credentials call \
             finished: keep it running while these credentials are used",
        )
    } else {
        Error::internal("credkit's blocking runtime dropped the work of a blocking call")
    }
}
