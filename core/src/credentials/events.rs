//! What `Credentials` tells an `on_refresh` observer.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::{Error, TokenState};

/// Something that happened to the cached token, for metrics, alerting and persistence.
///
/// Given to the callback set with
/// [`CredentialsBuilder::on_refresh`](crate::CredentialsBuilder::on_refresh). No event carries a
/// secret: tokens appear only as their expiry, and errors never contain a secret (see
/// [`Error`]).
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use credkit_core::{AccessToken, Credentials, RefreshEvent, StaticSource};
///
/// # futures::executor::block_on(async {
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&seen);
/// let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
///     .on_refresh(move |event: &RefreshEvent| {
///         if let RefreshEvent::Refreshed { expiry, .. } = event {
///             log.lock().unwrap().push(*expiry);
///         }
///     })
///     .build()?;
/// credentials.refresh().await?;
/// assert_eq!(*seen.lock().unwrap(), [None]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum RefreshEvent {
    /// A new token is cached (and, with a storage, was stored first).
    #[non_exhaustive]
    Refreshed {
        /// When the new token expires; `None` if it does not.
        expiry: Option<OffsetDateTime>,
        /// Whether the token came from the storage loaded on start rather than from the source.
        from_storage: bool,
        /// Whether the source rotated the refresh token (the new one went to storage, if any).
        rotated_refresh_token: bool,
    },
    /// A refresh failed.
    #[non_exhaustive]
    Failed {
        /// Why. Its message never contains a secret.
        error: Error,
        /// Whether callers keep being served the cached token (it was stale, not yet expired).
        /// If so, the next refresh ahead waits the minimum retry interval.
        keeps_token: bool,
    },
    /// Loading or storing the credential record failed. The refresh itself goes on: the token
    /// is still handed out, since failing every request over a storage fault helps nobody.
    #[non_exhaustive]
    StorageFailed {
        /// Why. Its message never contains a secret.
        error: Error,
    },
    /// The storage's cross-process lease could not be taken: another process held it past the
    /// wait (a transient timeout), or the storage failed. The refresh then went ahead without
    /// it, or failed, as the builder says (see
    /// [`with_lease_policy`](crate::CredentialsBuilder::with_lease_policy)).
    #[non_exhaustive]
    LeaseUnavailable {
        /// Why. Its message never contains a secret.
        error: Error,
        /// Whether this process refreshed on its own, without the lease.
        refreshed_locally: bool,
    },
    /// The [spawner](crate::CredentialsBuilder::with_spawner) panicked when handed a refresh
    /// (tokio's `spawn` called outside a runtime, say). The refresh is not lost: a caller that
    /// waits drives it instead. Fix the spawner (capture a runtime handle).
    SpawnerPanicked,
    /// The API rejected the token that had just replaced a rejected one (a 401 within the
    /// minimum retry interval of the refresh that fetched it): the fault is most likely the
    /// request's audience or scopes, not the token, so the token is kept and no refresh is
    /// made for it until `kept_until`. Reported once per token; check the audience and scopes
    /// the API expects.
    #[non_exhaustive]
    FreshTokenRejected {
        /// Until when rejections of this token are not believed: the minimum retry interval
        /// after the refresh that fetched it. The next rejection after it drops the token.
        kept_until: OffsetDateTime,
    },
    /// The token's state changed, as noticed by a call, a refresh or an invalidation. Time
    /// passing alone emits nothing until something looks at the token.
    #[non_exhaustive]
    StateChanged {
        /// The state before.
        from: TokenState,
        /// The state now.
        to: TokenState,
    },
}

/// The observer callback, shared by the handle and its refreshes.
pub(super) type Observer = Arc<dyn Fn(&RefreshEvent) + Send + Sync>;
