//! `RefreshAhead`: the refresh of a stale token, handed to a caller without a spawner to drive
//! beside its request.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;

use super::marks::Marks;

/// The refresh ahead of a stale token, for a caller to drive beside its request: from
/// [`Credentials::refresh_ahead`](crate::Credentials::refresh_ahead).
///
/// Poll it while the request runs. It resolves when the refresh is over; its outcome goes to
/// the cache (and the observer), not to the caller, who already has a usable token.
///
/// When the request finishes first, ask [`must_finish`](Self::must_finish) before dropping it:
/// while a grant is out, its answer may carry a rotated refresh token, so drive it to its end
/// (a grant takes one round trip); otherwise drop it, which loses nothing and releases the
/// storage's lease at once. A dropped refresh with its grant out is not lost either: the next
/// caller finishes it. But until then it keeps the lease that other processes wait for.
///
/// ```
/// # use std::time::Duration;
/// # use credkit_core::{AccessToken, Clock, Credentials, StaticSource, SystemClock};
/// # futures::executor::block_on(async {
/// let stale = AccessToken::new("ya29.old")
///     .with_expiry(SystemClock.now() + Duration::from_secs(60));
/// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.new")))
///     .with_initial_token(stale)
///     .build()?;
/// if let Some(ahead) = credentials.refresh_ahead() {
///     // ... send the request with the stale token, polling `ahead` beside it ...
///     ahead.await;
/// }
/// assert!(credentials.valid());
/// # Ok::<(), credkit_core::BuildError>(())
/// # }).unwrap();
/// ```
#[must_use = "a refresh ahead does nothing unless polled"]
pub struct RefreshAhead {
    future: BoxFuture<'static, ()>,
    marks: Arc<Marks>,
}

impl RefreshAhead {
    pub(super) fn new(future: BoxFuture<'static, ()>, marks: Arc<Marks>) -> Self {
        Self { future, marks }
    }

    /// Whether a grant is out with its answer not yet read: dropping the refresh now would
    /// leave it for the next caller to finish, holding the storage's lease meanwhile.
    pub fn must_finish(&self) -> bool {
        self.marks.granting()
    }

    /// Runs `work` (a request) with the refresh ahead, if any, polled beside it; returns
    /// `work`'s output once the refresh is over or may be dropped (see
    /// [`must_finish`](Self::must_finish)). Without a refresh it is `work` alone.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use credkit_core::{AccessToken, Clock, Credentials, RefreshAhead, StaticSource, SystemClock};
    /// # futures::executor::block_on(async {
    /// # let stale = AccessToken::new("ya29.old").with_expiry(SystemClock.now() + Duration::from_secs(60));
    /// # let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.new")))
    /// #     .with_initial_token(stale)
    /// #     .build()?;
    /// let status = RefreshAhead::beside(credentials.refresh_ahead(), async { 200 }).await;
    /// assert_eq!(status, 200);
    /// # Ok::<(), credkit_core::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub async fn beside<F: Future>(ahead: Option<Self>, work: F) -> F::Output {
        let Some(ahead) = ahead else {
            return work.await;
        };
        let mut ahead = Some(ahead);
        let mut work = std::pin::pin!(work);
        let output = std::future::poll_fn(|cx| {
            if let Some(refresh) = &mut ahead
                && Pin::new(refresh).poll(cx).is_ready()
            {
                ahead = None;
            }
            work.as_mut().poll(cx)
        })
        .await;
        if let Some(refresh) = ahead
            && refresh.must_finish()
        {
            refresh.await;
        }
        output
    }
}

impl Future for RefreshAhead {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.future.as_mut().poll(cx)
    }
}

impl fmt::Debug for RefreshAhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshAhead")
            .field("must_finish", &self.must_finish())
            .finish_non_exhaustive()
    }
}
