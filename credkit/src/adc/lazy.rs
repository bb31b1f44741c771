//! `AdcSource`: ADC as a token source that discovers when first asked, and again while
//! nothing is found.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::time::OffsetDateTime;
use credkit_core::{AccessToken, Clock, CredentialRecord, Error, Result, SystemClock, TokenSource};

use super::{Adc, Discovered};

/// The name of an [`AdcSource`] before it found anything.
const NAME: &str = "application default credentials";

/// Application Default Credentials as a [`TokenSource`] that needs no discovery up front.
///
/// The first fetch discovers. While discovery finds nothing (a [not
/// configured](Error::is_not_configured) error, which the fetch returns, so a
/// [`ChainSource`](credkit_core::ChainSource) passes the turn), each later fetch discovers
/// again, or no more often than [`with_rediscovery_interval`](Self::with_rediscovery_interval)
/// on the clock: a `gcloud auth application-default login` run after the program started is
/// picked up without rebuilding anything. Once found, the credential is kept for the life of
/// the source and every fetch goes to it. A broken credentials file is an error of its own
/// (not "not configured"), and is looked at again on the next fetch.
///
/// Its [`name`](TokenSource::name) is the found credential's token source's, or
/// `application default credentials` before.
///
/// **Cancellation.** A fetch dropped while it discovers (a caller's timeout around a fallback
/// that hangs) leaves nothing behind: nothing was found, no "not found" is remembered, and the
/// next fetch discovers afresh. A fetch dropped after discovery keeps what was found; the
/// found source's own cancellation rules apply to its fetch.
///
/// ```
/// # futures::executor::block_on(async {
/// use credkit::Adc;
/// use credkit::core::{AccessToken, ChainSource, StaticSource, TokenSource};
///
/// // Nothing configured here (and the metadata server not probed): the chain passes ADC's
/// // turn to the next member.
/// let nothing = |name: &str| (name == "NO_GCE_CHECK").then(|| "True".to_owned());
/// let chain = ChainSource::new()
///     .with(Adc::new().with_env(nothing).source())
///     .with(StaticSource::new(AccessToken::new("ya29.fallback")));
/// assert!(chain.fetch_token().await.is_ok());
/// assert_eq!(chain.name(), "static token");
/// # });
/// ```
#[derive(Debug)]
pub struct AdcSource {
    adc: Adc,
    found: OnceLock<Discovered>,
    /// The source of the found credential, kept so `name` can lend its name.
    source: OnceLock<Arc<dyn TokenSource>>,
    /// When discovery last found nothing, and what it said.
    last_miss: Mutex<Option<(OffsetDateTime, Error)>>,
    interval: Duration,
    clock: Arc<dyn Clock>,
}

impl AdcSource {
    pub(crate) fn new(adc: Adc) -> Self {
        let clock = adc.clock.clone().unwrap_or_else(|| Arc::new(SystemClock));
        Self {
            adc,
            found: OnceLock::new(),
            source: OnceLock::new(),
            last_miss: Mutex::new(None),
            interval: Duration::ZERO,
            clock,
        }
    }

    /// Discovers again at most once per `interval` while nothing is found (on the clock given
    /// to [`Adc::with_clock`]); within it a fetch returns the last "not found" error at once.
    /// Default: zero, every fetch discovers (discovery reads a variable or two and stats a
    /// file; the caching layer already spaces failed refreshes by its minimum retry interval).
    #[must_use]
    pub fn with_rediscovery_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// What discovery found, once it has.
    pub fn discovered(&self) -> Option<&Discovered> {
        self.found.get()
    }

    /// The found credential's token source, discovering if need be.
    async fn source(&self) -> Result<&Arc<dyn TokenSource>> {
        if let Some(source) = self.source.get() {
            return Ok(source);
        }
        let now = self.clock.now();
        if let Ok(last) = self.last_miss.lock()
            && let Some((at, err)) = &*last
            && now < *at + self.interval
        {
            return Err(err.clone());
        }
        match self.adc.discover().await {
            Ok(found) => {
                let source = found.token_source();
                let _ = self.found.set(found);
                Ok(self.source.get_or_init(|| source))
            }
            Err(err) => {
                if err.is_not_configured()
                    && let Ok(mut last) = self.last_miss.lock()
                {
                    *last = Some((now, err.clone()));
                }
                Err(err)
            }
        }
    }
}

#[async_trait]
impl TokenSource for AdcSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        self.source().await?.fetch_token().await
    }

    fn name(&self) -> &str {
        self.source.get().map_or(NAME, |source| source.name())
    }

    fn adopt_record(&self, record: &CredentialRecord) {
        if let Some(source) = self.source.get() {
            source.adopt_record(record);
        }
    }

    fn clock(&self) -> Option<Arc<dyn Clock>> {
        self.adc.clock.clone()
    }
}
