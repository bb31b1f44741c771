//! `ChainSource`: the first source that succeeds.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use crate::{AccessToken, Error, ErrorKind, Result, TokenSource};

/// A [`TokenSource`] that tries its sources in order and returns the first token one of them
/// gives.
///
/// Only a source with nothing configured here (an error for which
/// [`Error::is_not_configured`] holds: no credentials file, no environment variable, no program
/// installed) passes the turn to the next source. Any other error stops the chain at once and
/// is returned as it is: a token endpoint's 503 or a malformed credentials file from the first
/// source must never silently switch the identity to the next one. Retry such errors around the
/// chain (a [`Retrying`](crate::Retrying) source, or [`Credentials`](crate::Credentials)).
///
/// Each fetch starts again from the first source, so a source that becomes configured is
/// preferred again. When no source is configured, the chain's error is itself of kind
/// [`ErrorKind::NotConfigured`] (so a chain nested in another chain passes the turn too); its
/// message lists each source's reason in order, and [`Error::causes`] holds their errors. An
/// empty chain is an [`ErrorKind::Configuration`] error.
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
    /// One more than the index of the source that supplied the last token; 0 before any.
    supplier: Arc<AtomicUsize>,
}

impl ChainSource {
    /// An empty chain; add sources with [`with`](ChainSource::with).
    pub fn new() -> Self {
        Self::default()
    }

    /// A chain of `sources`, tried in the given order.
    pub fn from_sources(sources: Vec<Arc<dyn TokenSource>>) -> Self {
        Self {
            sources,
            supplier: Arc::default(),
        }
    }

    /// Appends a source, tried after those already in the chain.
    #[must_use]
    pub fn with(mut self, source: impl TokenSource + 'static) -> Self {
        self.sources.push(Arc::new(source));
        self
    }

    /// Appends the outcome of building a source: the source itself, or the reason it could
    /// not be built (a credentials file that did not load, a discovery that found nothing).
    ///
    /// A failed member stands in the chain as a source that always fails with that reason, so
    /// the chain treats it as it would the source: a [not configured](Error::is_not_configured)
    /// reason passes the turn and appears in the chain's combined error; any other reason (a
    /// malformed file) stops the chain with it, rather than silently switching identity to
    /// the next member.
    ///
    /// ```
    /// use credkit_core::{AccessToken, BuildError, ChainSource, Error, StaticSource, TokenSource};
    ///
    /// let missing: Result<StaticSource, Error> = Err(Error::not_configured("no broker socket"));
    /// let broken: Result<StaticSource, BuildError> = Err(BuildError::invalid_value("bad file"));
    /// # futures::executor::block_on(async {
    /// let chain = ChainSource::new().with_result(missing).with_result(Ok::<_, Error>(
    ///     StaticSource::new(AccessToken::new("ya29.t")),
    /// ));
    /// assert!(chain.fetch_token().await.is_ok());
    ///
    /// let chain = ChainSource::new().with_result(broken);
    /// let err = chain.fetch_token().await.unwrap_err();
    /// assert_eq!(err.to_string(), "bad file");
    ///
    /// let none: Result<StaticSource, Error> = Err(Error::not_configured("MY_TOKEN is not set"));
    /// let err = ChainSource::new().with_result(none).fetch_token().await.unwrap_err();
    /// assert!(err.to_string().ends_with("[1] source that failed to build: MY_TOKEN is not set"));
    /// # });
    /// ```
    #[must_use]
    pub fn with_result<S, E>(self, source: std::result::Result<S, E>) -> Self
    where
        S: TokenSource + 'static,
        E: Into<Error>,
    {
        match source {
            Ok(source) => self.with(source),
            Err(err) => self.with(FailedSource(err.into())),
        }
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

    /// The member that supplied the last token, and its index in [`sources`](Self::sources);
    /// `None` before any member has.
    ///
    /// ```
    /// use credkit_core::{AccessToken, ChainSource, EnvSource, StaticSource, TokenSource};
    ///
    /// # futures::executor::block_on(async {
    /// let chain = ChainSource::new()
    ///     .with(EnvSource::new("CREDKIT_DOC_UNSET").with_lookup(|_| None))
    ///     .with(StaticSource::new(AccessToken::new("ya29.t")));
    /// assert!(chain.serving().is_none());
    /// assert_eq!(chain.name(), "credential chain");
    /// chain.fetch_token().await?;
    /// let (index, member) = chain.serving().unwrap();
    /// assert_eq!((index, member.name()), (1, "static token"));
    /// assert_eq!(chain.name(), "static token");
    /// # Ok::<(), credkit_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn serving(&self) -> Option<(usize, &Arc<dyn TokenSource>)> {
        let index = self.supplier.load(Ordering::Acquire).checked_sub(1)?;
        self.sources.get(index).map(|source| (index, source))
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
        let mut not_configured = Vec::with_capacity(self.sources.len());
        for (index, source) in self.sources.iter().enumerate() {
            match source.fetch_token().await {
                Ok(token) => {
                    self.supplier.store(index + 1, Ordering::Release);
                    if !not_configured.is_empty() {
                        tracing::debug!(
                            source = source.name(),
                            skipped = not_configured.len(),
                            "credential chain: a later source supplied the token"
                        );
                    }
                    return Ok(token);
                }
                Err(err) if err.is_not_configured() => {
                    tracing::debug!(
                        source = source.name(),
                        "credential chain: source not configured, trying the next"
                    );
                    not_configured.push(err);
                }
                Err(err) => {
                    tracing::debug!(
                        source = source.name(),
                        kind = %err.kind(),
                        "credential chain: source failed; the chain stops"
                    );
                    return Err(err);
                }
            }
        }
        let mut message = format!(
            "no source in the credential chain is configured ({}):",
            not_configured.len()
        );
        for (index, (source, err)) in self.sources.iter().zip(&not_configured).enumerate() {
            let separator = if index == 0 { " " } else { "; " };
            // Writing to a String cannot fail.
            let _ = write!(
                message,
                "{separator}[{}] {}: {err}",
                index + 1,
                source.name()
            );
        }
        Err(Error::not_configured(message).with_causes(not_configured))
    }

    /// The name of the member that supplied the last token ([`ChainSource::serving`]), so
    /// `Credentials::source_name` and logs say who issued it; `credential chain` before any
    /// member has.
    fn name(&self) -> &str {
        self.serving()
            .map_or("credential chain", |(_, source)| source.name())
    }

    /// The first member's stored token, and only the first member's: a later member's
    /// token would be served only if every member before it has nothing configured, which
    /// the chain cannot know without fetching; serving it could switch the identity. A later
    /// member still works: it fetches a new token when its turn comes.
    fn initial_token(&self) -> Option<AccessToken> {
        let first = self.sources.first()?;
        let token = first.initial_token();
        if token.is_none()
            && let Some(later) = self.sources[1..]
                .iter()
                .find(|s| s.initial_token().is_some())
        {
            tracing::debug!(
                source = later.name(),
                "credential chain: a member after the first holds a stored token; it is not served, the member fetches when its turn comes"
            );
        }
        token
    }

    /// Passes the record to the source that supplied the last token: the record is its state.
    /// Before any token, nothing can tell whose state it is, and no source takes it.
    fn adopt_record(&self, record: &crate::CredentialRecord) {
        if let Some((_, source)) = self.serving() {
            source.adopt_record(record);
        }
    }
}

/// A chain member that failed to build: it fails every fetch with the reason.
#[derive(Debug)]
struct FailedSource(Error);

#[async_trait]
impl TokenSource for FailedSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        Err(self.0.clone())
    }

    fn name(&self) -> &'static str {
        "source that failed to build"
    }
}
