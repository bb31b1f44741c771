//! `EnvSource`: an access token from an environment variable.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{AccessToken, Error, Result, TokenSource};

/// How an [`EnvSource`] reads a variable.
type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A [`TokenSource`] that reads an access token from an environment variable on every fetch:
/// the usual first link of a custom [`ChainSource`](crate::ChainSource) ("a token from
/// `MY_TOKEN` if set, else Application Default Credentials").
///
/// An unset or empty variable is [not configured](Error::is_not_configured), so a chain moves
/// on. A value that cannot go into an HTTP header (whitespace, a line break) is a permanent
/// [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse) error that stops the
/// chain; no error repeats the value. The token has no expiry: it is used until a server
/// rejects it (then [`Credentials::invalidate_if`](crate::Credentials::invalidate_if) drops
/// it and the next fetch reads the variable again).
///
/// Read the environment through a lookup of your own with
/// [`with_lookup`](EnvSource::with_lookup), so tests never touch the process environment.
///
/// # Examples
///
/// ```
/// use secrecy::ExposeSecret;
/// use credkit_core::{EnvSource, TokenSource};
///
/// # futures::executor::block_on(async {
/// let source = EnvSource::new("MY_TOKEN")
///     .with_lookup(|name| (name == "MY_TOKEN").then(|| "ya29.from-env".to_owned()));
/// assert_eq!(source.fetch_token().await?.secret().expose_secret(), "ya29.from-env");
///
/// let unset = EnvSource::new("MY_TOKEN").with_lookup(|_| None);
/// let err = unset.fetch_token().await.unwrap_err();
/// assert!(err.is_not_configured());
/// assert_eq!(err.to_string(), "the environment variable MY_TOKEN is not set");
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct EnvSource {
    variable: String,
    lookup: Lookup,
}

impl EnvSource {
    /// A source reading `variable` from the process environment.
    pub fn new(variable: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            lookup: Arc::new(|name| std::env::var(name).ok()),
        }
    }

    /// Reads variables through `lookup` instead of the process environment.
    #[must_use]
    pub fn with_lookup(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.lookup = Arc::new(lookup);
        self
    }

    /// The variable's name.
    ///
    /// ```
    /// assert_eq!(credkit_core::EnvSource::new("MY_TOKEN").variable(), "MY_TOKEN");
    /// ```
    pub fn variable(&self) -> &str {
        &self.variable
    }
}

impl fmt::Debug for EnvSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvSource")
            .field("variable", &self.variable)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TokenSource for EnvSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        match (self.lookup)(&self.variable) {
            Some(value) if !value.is_empty() => AccessToken::validated(value),
            Some(_) => Err(Error::not_configured(format!(
                "the environment variable {} is empty",
                self.variable
            ))),
            None => Err(Error::not_configured(format!(
                "the environment variable {} is not set",
                self.variable
            ))),
        }
    }

    fn name(&self) -> &'static str {
        "environment variable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn source(value: &'static str) -> EnvSource {
        EnvSource::new("TOKEN").with_lookup(move |_| Some(value.to_owned()))
    }

    #[test]
    fn empty_is_not_configured_and_bad_text_is_permanent() {
        futures::executor::block_on(async {
            let err = source("").fetch_token().await.unwrap_err();
            assert!(err.is_not_configured());
            assert_eq!(err.to_string(), "the environment variable TOKEN is empty");
            let err = source("tok-secret\r\nx: 1")
                .fetch_token()
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidResponse);
            assert!(!err.is_transient());
            assert!(!err.to_string().contains("tok-secret"));
        });
    }

    #[test]
    fn debug_never_shows_the_value() {
        let debug = format!("{:?}", source("tok-secret"));
        assert!(debug.contains("TOKEN") && !debug.contains("tok-secret"));
    }

    #[test]
    fn names_itself_and_its_variable() {
        let source = source("tok");
        assert_eq!(source.variable(), "TOKEN");
        assert_eq!(source.name(), "environment variable");
    }
}
