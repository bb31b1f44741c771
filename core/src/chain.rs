//! `ChainSource`: the first source that succeeds.

use std::fmt::Write as _;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{AccessToken, Error, ErrorKind, Result, TokenSource};

/// A [`TokenSource`] that tries its sources in order and returns the first token one of them
/// gives.
///
/// Each fetch starts again from the first source, so a source that recovers is preferred again.
/// When every source fails, the error (of kind [`ErrorKind::Chain`]) lists each failure in
/// order, and [`Error::causes`] holds them; it is transient if any of them was.
///
/// # Examples
///
/// ```
/// use secrecy::ExposeSecret;
/// use credkit_core::{AccessToken, ChainSource, StaticSource, TokenSource};
///
/// # futures::executor::block_on(async {
/// let chain = ChainSource::new()
///     .with(StaticSource::new(AccessToken::new("first")))
///     .with(StaticSource::new(AccessToken::new("second")));
/// let token = chain.fetch_token().await?;
/// assert_eq!(token.secret().expose_secret(), "first");
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, Default)]
pub struct ChainSource {
    sources: Vec<Arc<dyn TokenSource>>,
}

impl ChainSource {
    /// An empty chain; add sources with [`with`](ChainSource::with).
    pub fn new() -> Self {
        Self::default()
    }

    /// A chain of `sources`, tried in the given order.
    pub fn from_sources(sources: Vec<Arc<dyn TokenSource>>) -> Self {
        Self { sources }
    }

    /// Appends a source, tried after those already in the chain.
    #[must_use]
    pub fn with(mut self, source: impl TokenSource + 'static) -> Self {
        self.sources.push(Arc::new(source));
        self
    }

    /// Appends a shared source.
    #[must_use]
    pub fn with_shared(mut self, source: Arc<dyn TokenSource>) -> Self {
        self.sources.push(source);
        self
    }

    /// The sources, in order.
    pub fn sources(&self) -> &[Arc<dyn TokenSource>] {
        &self.sources
    }
}

#[async_trait]
impl TokenSource for ChainSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        if self.sources.is_empty() {
            return Err(Error::new(
                ErrorKind::Configuration,
                "the credential chain has no sources; add at least one",
            ));
        }
        let mut failures = Vec::with_capacity(self.sources.len());
        for source in &self.sources {
            match source.fetch_token().await {
                Ok(token) => {
                    if !failures.is_empty() {
                        tracing::debug!(
                            source = source.name(),
                            skipped = failures.len(),
                            "credential chain: a later source supplied the token"
                        );
                    }
                    return Ok(token);
                }
                Err(err) => {
                    tracing::debug!(source = source.name(), kind = %err.kind(), "credential chain: source failed");
                    failures.push(err);
                }
            }
        }
        let mut message = format!(
            "every source in the credential chain failed ({}):",
            failures.len()
        );
        for (index, (source, err)) in self.sources.iter().zip(&failures).enumerate() {
            let separator = if index == 0 { " " } else { "; " };
            // Writing to a String cannot fail.
            let _ = write!(
                message,
                "{separator}[{}] {}: {err}",
                index + 1,
                source.name()
            );
        }
        Err(Error::chain(message, failures))
    }

    fn name(&self) -> &'static str {
        "credential chain"
    }
}
