//! `Rejected`: what a request rejected with a 401 carried, for `Credentials::invalidate_if`.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue};

use crate::AccessToken;

/// What a rejected request carried, for
/// [`Credentials::invalidate_if`](crate::Credentials::invalidate_if): an [`AccessToken`] (or an
/// `Arc` of one), an `authorization` [`HeaderValue`], or a [`HeaderMap`].
///
/// Sealed: these are the only implementations.
///
/// ```
/// use credkit_core::{AccessToken, Credentials, StaticSource};
///
/// # futures::executor::block_on(async {
/// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
/// let old = credentials.access_token().await?;
/// credentials.refresh().await?; // replaced (StaticSource returns the same secret)
/// assert!(credentials.invalidate_if(&old)); // same secret: still the rejected one
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
pub trait Rejected: sealed::Sealed {}

pub(super) mod sealed {
    use http::{HeaderMap, HeaderValue};

    use crate::AccessToken;

    /// What a rejected request carried, seen as a token or as a header value.
    pub trait Sealed {
        fn as_token(&self) -> Option<&AccessToken> {
            None
        }
        fn as_authorization(&self) -> Option<&HeaderValue> {
            None
        }
    }

    impl Sealed for AccessToken {
        fn as_token(&self) -> Option<&AccessToken> {
            Some(self)
        }
    }

    impl Sealed for std::sync::Arc<AccessToken> {
        fn as_token(&self) -> Option<&AccessToken> {
            Some(self)
        }
    }

    impl Sealed for HeaderValue {
        fn as_authorization(&self) -> Option<&HeaderValue> {
            Some(self)
        }
    }

    impl Sealed for HeaderMap {
        fn as_authorization(&self) -> Option<&HeaderValue> {
            self.get(http::header::AUTHORIZATION)
        }
    }
}

impl Rejected for AccessToken {}
impl Rejected for Arc<AccessToken> {}
impl Rejected for HeaderValue {}
impl Rejected for HeaderMap {}
