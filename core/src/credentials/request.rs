//! What the authorizer (`crate::authorize`) asks of `Credentials`: write a usable token and say
//! which one, hand over the refresh ahead to drive, wait for a usable token without building a
//! header map, and take a rejection of a token by its name. One trip through the cache each.

use std::sync::Arc;

use futures::future::BoxFuture;
use http::HeaderMap;

use super::ahead::RefreshAhead;
use super::inner::Invalidated;
use super::snapshot::Snapshot;
use super::{Credentials, flight};
use crate::{Result, TokenState};

/// What [`Credentials::write_usable`] did.
pub(crate) enum Written {
    /// A usable token's headers are written; `ahead` is its refresh ahead for the caller to
    /// drive (a stale token, no spawner, nobody else driving it).
    Usable {
        token: u64,
        ahead: Option<RefreshAhead>,
    },
    /// No usable token: nothing was written.
    Unusable,
}

/// A usable token, ready to be written into a request's headers.
pub(crate) struct Usable(Arc<Snapshot>);

impl Usable {
    /// Writes the headers, as `apply` does; returns the token's name.
    pub(crate) fn write(&self, headers: &mut HeaderMap) -> u64 {
        self.0.write(headers);
        self.0.id()
    }
}

/// What a rejection of a token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// The token is dropped: the next request waits for a new one.
    Dropped,
    /// The token had just replaced a rejected one: kept, reported.
    Kept,
    /// The cache already holds another token, or is waiting for one.
    Replaced,
}

impl Credentials {
    /// Writes a usable token into `headers`: a fresh one at the cost of `apply`, a stale one
    /// with the refresh ahead to drive when there is no spawner (or started on the spawner).
    #[inline]
    pub(crate) fn write_usable(&self, headers: &mut HeaderMap) -> Written {
        match self.inner.write_fresh(headers) {
            Some(token) => Written::Usable { token, ahead: None },
            None => self.write_usable_slow(headers),
        }
    }

    #[cold]
    fn write_usable_slow(&self, headers: &mut HeaderMap) -> Written {
        let inner = &self.inner;
        let (now, cached, state) = inner.look();
        match cached {
            Some(snapshot) if state != TokenState::Invalid => {
                snapshot.write(headers);
                let ahead = if state == TokenState::Stale {
                    // With a spawner the refresh runs there and nothing is returned.
                    inner.refresh_ahead(now).map(|driven| self.ahead(driven))
                } else {
                    None
                };
                Written::Usable {
                    token: snapshot.id(),
                    ahead,
                }
            }
            // The caller waits with `usable_later`, which starts or joins the refresh.
            _ => Written::Unusable,
        }
    }

    /// A usable token, waiting for the one refresh if there is none: `usable` as a `'static`
    /// future.
    pub(crate) fn usable_later(&self) -> BoxFuture<'static, Result<Usable>> {
        let credentials = self.clone();
        Box::pin(async move { credentials.usable().await.map(Usable) })
    }

    /// A request that carried token `token` was rejected.
    pub(crate) fn reject(&self, token: u64) -> Rejection {
        match self.inner.invalidate(|snapshot| snapshot.id() == token) {
            Invalidated::Dropped => Rejection::Dropped,
            Invalidated::Kept => Rejection::Kept,
            Invalidated::Replaced => Rejection::Replaced,
        }
    }

    /// `driven`, the refresh ahead, as the handle a caller drives.
    pub(super) fn ahead(&self, driven: flight::Driven) -> RefreshAhead {
        let marks = driven.marks();
        let inner = Arc::clone(&self.inner);
        RefreshAhead::new(
            Box::pin(async move {
                // The outcome goes to the cache and the observer; the caller has its token.
                let _outcome = inner.wait_for(driven, flight::NO_LIMIT).await;
            }),
            marks,
        )
    }
}
