//! `GcsCredentialProvider`: `object_store`'s GCS credential provider over a credkit
//! [`Credentials`].

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use credkit_core::{AccessToken, Credentials};
use object_store::CredentialProvider;
use object_store::gcp::GcpCredential;
use secrecy::ExposeSecret;
use zeroize::Zeroize;

use crate::error;

/// `object_store`'s credential provider for Google Cloud Storage, serving the bearer token of a
/// credkit [`Credentials`]: give it to
/// [`GoogleCloudStorageBuilder::with_credentials`](object_store::gcp::GoogleCloudStorageBuilder::with_credentials)
/// (or build with [`gcs_builder`](crate::gcs_builder)).
///
/// Each [`get_credential`](CredentialProvider::get_credential) is
/// [`Credentials::access_token`]: the cached token while it is fresh (no call to the source),
/// a refresh ahead while it is stale, one shared refresh when it is invalid, with credkit's
/// retries, deadline, storage and lease. `object_store` asks before every request, so this is
/// its hot path: the [`GcpCredential`] it gets is made once per token and handed out as the
/// same `Arc` until the token changes, found by the token's identity with one lock-free load.
///
/// # Errors
///
/// When no token can be had, `object_store` gets [`object_store::Error::Generic`] (store
/// `"GCS"`) whose source is the [`credkit_core::Error`]: `invalid_grant` and the like with their
/// OAuth code and description, transient failures marked as such. Nothing of a token is in it.
///
/// # Secrets
///
/// `object_store`'s [`GcpCredential`] holds its bearer in a plain `String`. The provider makes
/// one per token; when it drops one that nobody else holds (replaced by the next token, or the
/// provider dropped) it zeroizes the string first. A copy `object_store` still holds then is
/// dropped by `object_store`, unwiped. `Debug` shows the credentials' `Debug`, never a token.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use credkit_core::{AccessToken, Credentials, StaticSource};
/// use credkit_object_store::GcsCredentialProvider;
/// use object_store::CredentialProvider;
///
/// # futures::executor::block_on(async {
/// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
/// let provider = GcsCredentialProvider::new(credentials);
/// let first = provider.get_credential().await?;
/// assert_eq!(first.bearer, "ya29.t");
/// // The same token: the same credential, not a new copy.
/// assert!(Arc::ptr_eq(&first, &provider.get_credential().await?));
/// # Ok::<(), object_store::Error>(())
/// # }).unwrap();
/// ```
pub struct GcsCredentialProvider {
    credentials: Credentials,
    /// The credential made for the last token served.
    last: ArcSwapOption<Made>,
}

/// A [`GcpCredential`] and the token it was made from.
///
/// The token's `Arc` is kept, not just its address: while it is held its address cannot be
/// reused by a later token, so "same pointer" always means "same token".
struct Made {
    token: Arc<AccessToken>,
    credential: Arc<GcpCredential>,
}

impl Made {
    /// `object_store`'s credential is a plain `String`: wipes it when this is the last copy.
    fn wipe_if_unheld(&mut self) {
        if let Some(credential) = Arc::get_mut(&mut self.credential) {
            credential.bearer.zeroize();
        }
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        self.wipe_if_unheld();
    }
}

impl GcsCredentialProvider {
    /// A provider serving `credentials`' tokens.
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource};
    /// use credkit_object_store::GcsCredentialProvider;
    ///
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let provider = GcsCredentialProvider::new(credentials);
    /// assert_eq!(provider.credentials().source_name(), "static token");
    /// ```
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            last: ArcSwapOption::empty(),
        }
    }

    /// The credentials it serves.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// After Cloud Storage refused the token this provider served last (`object_store`
    /// reports a 401 as [`object_store::Error::Unauthenticated`]), drops it from the
    /// credentials' cache if it is still the cached one, so that the next request waits for a
    /// new token instead of sending the refused one until it expires. Returns whether it
    /// dropped it; `false` when nothing was served yet or the token was already replaced.
    ///
    /// `object_store` tells a credential provider nothing of a 401, so this is the caller's to
    /// call: keep an `Arc` of the provider beside the store. As
    /// [`Credentials::invalidate_if`], a burst of refusals of one token costs one refresh, and
    /// a token refused again right after it replaced a refused one is kept (the wrong scopes or
    /// bucket, not a revoked token).
    ///
    /// ```
    /// # use credkit_core::{AccessToken, Credentials, StaticSource, TokenState};
    /// use credkit_object_store::GcsCredentialProvider;
    /// use object_store::CredentialProvider;
    ///
    /// # futures::executor::block_on(async {
    /// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    /// let provider = GcsCredentialProvider::new(credentials.clone());
    /// provider.get_credential().await?;
    /// // ... the store's request failed with object_store::Error::Unauthenticated ...
    /// assert!(provider.invalidate_served_token());
    /// assert_eq!(credentials.token_state(), TokenState::Invalid);
    /// assert!(!provider.invalidate_served_token()); // already dropped
    /// # Ok::<(), object_store::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn invalidate_served_token(&self) -> bool {
        match &*self.last.load() {
            Some(made) => self.credentials.invalidate_if(&*made.token),
            None => false,
        }
    }

    /// The credential for `token`: the one made last if it was made from this very token, else
    /// a new one, kept for the next calls.
    fn credential_for(&self, token: Arc<AccessToken>) -> Arc<GcpCredential> {
        if let Some(made) = &*self.last.load()
            && Arc::ptr_eq(&made.token, &token)
        {
            return Arc::clone(&made.credential);
        }
        let credential = Arc::new(GcpCredential {
            bearer: token.secret().expose_secret().to_owned(),
        });
        // Two callers seeing a new token at once may both make one; the last store wins and
        // both are correct. The replaced one is wiped by `Made::drop` if nobody holds it.
        self.last.store(Some(Arc::new(Made {
            token,
            credential: Arc::clone(&credential),
        })));
        credential
    }
}

impl From<Credentials> for GcsCredentialProvider {
    fn from(credentials: Credentials) -> Self {
        Self::new(credentials)
    }
}

#[async_trait]
impl CredentialProvider for GcsCredentialProvider {
    type Credential = GcpCredential;

    /// The bearer token of the credentials, as [`Credentials::access_token`] gives it.
    async fn get_credential(&self) -> object_store::Result<Arc<GcpCredential>> {
        let token = self
            .credentials
            .access_token()
            .await
            .map_err(error::no_token)?;
        Ok(self.credential_for(token))
    }
}

impl fmt::Debug for GcsCredentialProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcsCredentialProvider")
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use credkit_core::StaticSource;
    use futures::executor::block_on;

    use super::*;

    #[test]
    fn a_new_token_makes_a_new_credential_and_wipes_the_old_one_if_unheld() {
        let credentials = Credentials::new(StaticSource::new(AccessToken::new("first")));
        let provider = GcsCredentialProvider::new(credentials);
        let first = block_on(provider.get_credential()).unwrap();
        assert_eq!(first.bearer, "first");

        // A token that is not the cached one: a new credential.
        let other = Arc::new(AccessToken::new("second"));
        let second = provider.credential_for(Arc::clone(&other));
        assert_eq!(second.bearer, "second");
        assert!(!Arc::ptr_eq(&first, &second));
        assert!(Arc::ptr_eq(&second, &provider.credential_for(other)));

        // The first credential is still held here, so it was not wiped.
        assert_eq!(first.bearer, "first");

        // A credential nobody else holds is wiped when it is replaced.
        let mut made = Made {
            token: Arc::new(AccessToken::new("x")),
            credential: Arc::new(GcpCredential {
                bearer: "wipe-me".to_owned(),
            }),
        };
        made.wipe_if_unheld();
        assert_eq!(made.credential.bearer, "");
        // ... but not while someone holds it.
        let held = Arc::clone(&second);
        let mut shared = Made {
            token: Arc::new(AccessToken::new("y")),
            credential: Arc::clone(&held),
        };
        drop(second);
        shared.wipe_if_unheld();
        assert_eq!(held.bearer, "second");
    }

    #[test]
    fn debug_shows_no_token() {
        let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.secret")));
        let provider = GcsCredentialProvider::from(credentials);
        block_on(provider.get_credential()).unwrap();
        let debug = format!("{provider:?}");
        assert!(debug.starts_with("GcsCredentialProvider"), "{debug}");
        assert!(!debug.contains("ya29.secret"), "{debug}");
    }
}
