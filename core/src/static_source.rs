//! `StaticSource`: a fixed token that never refreshes.

use std::fmt;

use async_trait::async_trait;

use crate::{AccessToken, Result, TokenSource};

/// A [`TokenSource`] that returns the same token every time: for a token obtained elsewhere, or
/// as the last link of a [`ChainSource`](crate::ChainSource).
///
/// ```
/// use secrecy::ExposeSecret;
/// use credkit_core::{AccessToken, StaticSource, TokenSource};
///
/// # futures::executor::block_on(async {
/// let source = StaticSource::new(AccessToken::new("ya29.fixed"));
/// let token = source.fetch_token().await?;
/// assert_eq!(token.secret().expose_secret(), "ya29.fixed");
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct StaticSource {
    token: AccessToken,
}

impl StaticSource {
    /// A source that always returns `token`.
    pub fn new(token: AccessToken) -> Self {
        Self { token }
    }

    /// The token it returns.
    pub fn get_ref(&self) -> &AccessToken {
        &self.token
    }

    /// The token it returns, by value.
    pub fn into_inner(self) -> AccessToken {
        self.token
    }
}

impl fmt::Debug for StaticSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticSource")
            .field("token", &self.token)
            .finish()
    }
}

#[async_trait]
impl TokenSource for StaticSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        Ok(self.token.clone())
    }

    fn name(&self) -> &'static str {
        "static token"
    }
}
