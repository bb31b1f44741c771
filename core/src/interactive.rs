//! Whether a person is waiting on the code that runs now: the marker that lets a provider tell
//! a refresh someone drives (and can answer a prompt for) from one the cache runs by itself.
//!
//! The caching layer runs refreshes for several kinds of caller: one awaiting
//! [`Credentials::refresh`](crate::Credentials::refresh) or
//! [`before_request`](crate::Credentials::before_request), a background refresh ahead on the
//! [`Spawner`](crate::Spawner), one started by [`apply`](crate::Credentials::apply). A
//! [`TokenSource`](crate::TokenSource) cannot tell them apart, and most need not. One that would
//! ask a person something (reauthentication's password, a security key) must not do so from the
//! background, where nobody is there to answer.
//!
//! So the application says where a person waits: it wraps the future that person awaits in
//! [`interactive`], and a source asks [`is_interactive`] at the moment it would start to ask.
//! The answer is true only while that future (or anything it polls, such as the shared refresh
//! it joined) is being polled. A refresh running on a spawner is polled by the spawner's task,
//! never inside the wrapper, so it always sees `false`.
//!
//! It is a thread-local flag set for the length of each poll: no async runtime is involved, and
//! it works with any executor. A spawner that runs futures inline, inside the caller's poll,
//! would see the caller's flag; `tokio::spawn` and every thread-pool spawner never do.
//!
//! ```
//! use credkit_core::interactive::{interactive, is_interactive};
//!
//! # futures::executor::block_on(async {
//! assert!(!is_interactive());
//! let inside = interactive(async { is_interactive() }).await;
//! assert!(inside);
//! assert!(!is_interactive());
//! # });
//! ```

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

thread_local! {
    /// How many [`Interactive`] polls are on this thread's stack now.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Marks `future` as awaited by a person who can answer prompts: while it is polled,
/// [`is_interactive`] is true.
///
/// ```
/// use credkit_core::{AccessToken, Credentials, StaticSource};
/// use credkit_core::interactive::interactive;
///
/// # futures::executor::block_on(async {
/// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
/// // A refresh this call drives may ask the user (reauthentication, say).
/// let token = interactive(credentials.refresh()).await?;
/// assert_eq!(token.token_type(), "Bearer");
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
pub fn interactive<F: Future>(future: F) -> Interactive<F> {
    Interactive {
        inner: Box::pin(future),
    }
}

/// Whether the code running now is polled inside an [`interactive`] future on this thread:
/// a person waits for it and can answer a prompt.
///
/// ```
/// assert!(!credkit_core::interactive::is_interactive());
/// ```
pub fn is_interactive() -> bool {
    DEPTH.with(|depth| depth.get() > 0)
}

/// The future [`interactive`] returns: `F`, with [`is_interactive`] true while it is polled.
#[must_use = "futures do nothing unless polled"]
pub struct Interactive<F> {
    // Boxed so the wrapper needs no pin projection (and so no unsafe code).
    inner: Pin<Box<F>>,
}

impl<F> fmt::Debug for Interactive<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interactive").finish_non_exhaustive()
    }
}

impl<F: Future> Future for Interactive<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _scope = Scope::enter();
        self.inner.as_mut().poll(cx)
    }
}

/// One level of [`DEPTH`], left on drop, so a panicking poll leaves the flag as it was.
struct Scope;

impl Scope {
    fn enter() -> Self {
        DEPTH.with(|depth| depth.set(depth.get().saturating_add(1)));
        Self
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        DEPTH.with(|depth| depth.set(depth.get().saturating_sub(1)));
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use futures::executor::block_on;

    use super::*;

    #[test]
    fn nested_scopes_and_a_panic_restore_the_flag() {
        block_on(async {
            let inner = interactive(async { interactive(async { is_interactive() }).await }).await;
            assert!(inner);
            assert!(!is_interactive());
        });
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            block_on(interactive(async { panic!("a poll that panics") }));
        }));
        assert!(panicked.is_err());
        assert!(!is_interactive());
    }

    #[test]
    fn a_future_polled_outside_the_wrapper_is_not_interactive() {
        let shared = futures::FutureExt::shared(Box::pin(async { is_interactive() }));
        assert!(!block_on(shared.clone()));
        let fresh = futures::FutureExt::shared(Box::pin(async { is_interactive() }));
        assert!(block_on(interactive(fresh)));
    }
}
