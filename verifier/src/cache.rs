//! The key cache of an online verifier.
//!
//! - **Hot path:** the current keys are one `ArcSwap` load; no lock, no await.
//! - **Freshness:** keys are kept for the response's `Cache-Control: max-age` minus its `Age`
//!   (capped at a day); [`DEFAULT_KEYS_MAX_AGE`] without one; `no-cache` or `no-store` mean
//!   "fetch again next time".
//! - **Single flight:** callers that find the keys stale queue on one async mutex; the first
//!   fetches, and each one after it sees that the generation moved on and takes the new keys.
//!   Dropping the fetching caller drops the fetch and releases the mutex with the generation
//!   unchanged, so the next waiter fetches: a cancelled caller never wedges the others.
//! - **Unknown `kid`:** a token naming a key the set lacks (Google rotated its keys) triggers a
//!   refresh, at most one per minimum interval counted from the last fetch attempt.
//! - **Stale if error:** when a fetch fails, keys fetched earlier are still used, even past their
//!   max-age (a key Google published stays valid for its tokens; an outage of the keys endpoint
//!   should not reject every caller), and the failure is logged; the next fetch is tried
//!   [`FAILED_FETCH_RETRY`] later. Without earlier keys, callers get the fetch error.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use credkit_core::{Clock, Error, ErrorKind, Transport};
use futures::future::{Either, select};
use http::header::{ACCEPT, AGE, CACHE_CONTROL};
use http::{Method, Request, StatusCode, Uri};
use time::OffsetDateTime;

use crate::VerifyError;
use crate::keys::KeySet;

/// How long keys are kept when their response has no `Cache-Control: max-age`.
pub const DEFAULT_KEYS_MAX_AGE: Duration = Duration::from_secs(3600);

/// The longest a `max-age` is honoured.
pub(crate) const MAX_KEYS_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// How long after a failed fetch the next one is tried (meanwhile callers get the earlier keys,
/// or the fetch error).
pub const FAILED_FETCH_RETRY: Duration = Duration::from_secs(5);

/// The largest keys document read (Google's are about 2 KiB).
pub(crate) const MAX_KEYS_BODY: usize = 256 * 1024;

/// What the cache holds at one moment; replaced whole, never changed.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// Moves on with every fetch attempt, successful or not.
    generation: u64,
    pub(crate) keys: Arc<KeySet>,
    /// Until when the keys are fresh; `None` before the first successful fetch.
    fresh_until: Option<OffsetDateTime>,
    last_attempt: Option<OffsetDateTime>,
    last_error: Option<Error>,
}

impl Snapshot {
    fn is_fresh(&self, now: OffsetDateTime) -> bool {
        self.fresh_until.is_some_and(|until| now < until)
    }

    /// Whether a fetch failed less than [`FAILED_FETCH_RETRY`] ago.
    fn backing_off(&self, now: OffsetDateTime) -> bool {
        self.last_error.is_some()
            && self
                .last_attempt
                .is_some_and(|at| now < at + FAILED_FETCH_RETRY)
    }

    /// These keys, or the reason there are none.
    fn usable(self: Arc<Self>) -> Result<Arc<Self>, VerifyError> {
        if !self.keys.is_empty() {
            return Ok(self);
        }
        Err(VerifyError::KeyFetch(
            self.last_error
                .clone()
                .unwrap_or_else(|| Error::internal("no keys and no fetch error")),
        ))
    }
}

/// Keys fetched from a URL through a transport.
#[derive(Debug)]
pub(crate) struct RemoteKeys {
    url: Uri,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    state: ArcSwap<Snapshot>,
    flight: futures::lock::Mutex<()>,
    min_refresh_interval: Duration,
    default_max_age: Duration,
    fetch_timeout: Duration,
}

impl RemoteKeys {
    pub(crate) fn new(
        url: Uri,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        min_refresh_interval: Duration,
        default_max_age: Duration,
        fetch_timeout: Duration,
    ) -> Self {
        Self {
            url,
            transport,
            clock,
            state: ArcSwap::default(),
            flight: futures::lock::Mutex::new(()),
            min_refresh_interval,
            default_max_age,
            fetch_timeout,
        }
    }

    pub(crate) fn url(&self) -> &Uri {
        &self.url
    }

    /// The keys to use at `now`: the cached ones while fresh (or while a failed fetch is
    /// backing off), else those of a refresh.
    pub(crate) async fn current(&self, now: OffsetDateTime) -> Result<Arc<Snapshot>, VerifyError> {
        let snapshot = self.state.load_full();
        if snapshot.is_fresh(now) || snapshot.backing_off(now) {
            return snapshot.usable();
        }
        self.refresh(snapshot.generation).await.usable()
    }

    /// After a token named a key `seen` lacks: the keys of a refresh, when the minimum
    /// interval since the last fetch attempt has passed; `None` when it has not.
    pub(crate) async fn refresh_for_unknown_key(
        &self,
        seen: &Snapshot,
        now: OffsetDateTime,
    ) -> Option<Arc<Snapshot>> {
        if seen
            .last_attempt
            .is_some_and(|at| now < at + self.min_refresh_interval)
        {
            return None;
        }
        Some(self.refresh(seen.generation).await)
    }

    /// One fetch for every caller that saw generation `seen`.
    async fn refresh(&self, seen: u64) -> Arc<Snapshot> {
        let _flight = self.flight.lock().await;
        let current = self.state.load_full();
        if current.generation != seen {
            return current;
        }
        let started = self.clock.now();
        let fetch = std::pin::pin!(self.fetch());
        let result = match select(fetch, self.clock.timeout(self.fetch_timeout)).await {
            Either::Left((result, _)) => result,
            Either::Right(((), _)) => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "fetching the ID token keys from {} took longer than {} s",
                    self.url,
                    self.fetch_timeout.as_secs()
                ),
            )),
        };
        let next = match result {
            Ok((keys, max_age)) => Snapshot {
                generation: current.generation + 1,
                keys: Arc::new(keys),
                fresh_until: Some(started + max_age),
                last_attempt: Some(started),
                last_error: None,
            },
            Err(error) => {
                tracing::warn!(
                    url = %self.url,
                    error = %error,
                    stale_keys = current.keys.len(),
                    "fetching the ID token keys failed; keys fetched earlier, if any, stay in use"
                );
                Snapshot {
                    generation: current.generation + 1,
                    keys: Arc::clone(&current.keys),
                    fresh_until: current.fresh_until,
                    last_attempt: Some(started),
                    last_error: Some(error),
                }
            }
        };
        let next = Arc::new(next);
        self.state.store(Arc::clone(&next));
        next
    }

    async fn fetch(&self) -> Result<(KeySet, Duration), Error> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(self.url.clone())
            .header(ACCEPT, "application/json")
            .body(Bytes::new())
            .map_err(|_| Error::internal("building the keys request"))?;
        let response = self.transport.send(request).await?;
        let status = response.status();
        if status != StatusCode::OK {
            return Err(Error::new(
                ErrorKind::InvalidResponse,
                format!(
                    "the ID token keys endpoint {} answered HTTP {}",
                    self.url,
                    status.as_u16()
                ),
            )
            .with_http_status(status.as_u16())
            .with_transient(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS));
        }
        let body = response.body();
        if body.len() > MAX_KEYS_BODY {
            return Err(Error::new(
                ErrorKind::InvalidResponse,
                format!(
                    "the ID token keys document from {} is larger than {MAX_KEYS_BODY} bytes",
                    self.url
                ),
            ));
        }
        let keys = KeySet::parse(body).map_err(|reason| {
            Error::new(
                ErrorKind::InvalidResponse,
                format!("the ID token keys from {}: {reason}", self.url),
            )
        })?;
        let max_age = max_age(response.headers()).unwrap_or(self.default_max_age);
        Ok((keys, max_age))
    }
}

/// How long a response may be kept: `max-age` minus `Age`, zero for `no-cache` or `no-store`,
/// capped at [`MAX_KEYS_MAX_AGE`]; `None` when `Cache-Control` says nothing about it.
pub(crate) fn max_age(headers: &http::HeaderMap) -> Option<Duration> {
    let mut max_age = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, argument) = directive
                .split_once('=')
                .map_or((directive, None), |(name, argument)| {
                    (name.trim(), Some(argument.trim().trim_matches('"')))
                });
            if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
                return Some(Duration::ZERO);
            }
            if name.eq_ignore_ascii_case("max-age")
                && let Some(seconds) = argument.and_then(|a| a.parse::<u64>().ok())
            {
                max_age = Some(Duration::from_secs(seconds));
            }
        }
    }
    let age = headers
        .get(AGE)
        .and_then(|age| age.to_str().ok())
        .and_then(|age| age.trim().parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_secs);
    max_age.map(|max_age| max_age.saturating_sub(age).min(MAX_KEYS_MAX_AGE))
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, http::HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn cache_control_is_read_as_google_sends_it() {
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(
            max_age(&headers(&[(
                "cache-control",
                "public, max-age=19850, must-revalidate, no-transform"
            )])),
            secs(19850)
        );
        assert_eq!(
            max_age(&headers(&[("cache-control", "MAX-AGE = \"60\"")])),
            secs(60)
        );
        assert_eq!(
            max_age(&headers(&[
                ("cache-control", "max-age=600"),
                ("age", "100")
            ])),
            secs(500)
        );
        assert_eq!(
            max_age(&headers(&[("cache-control", "max-age=60"), ("age", "100")])),
            secs(0)
        );
        assert_eq!(
            max_age(&headers(&[("cache-control", "max-age=99999999")])),
            Some(MAX_KEYS_MAX_AGE)
        );
        assert_eq!(
            max_age(&headers(&[("cache-control", "max-age=600, no-cache")])),
            secs(0)
        );
        assert_eq!(max_age(&headers(&[("cache-control", "no-store")])), secs(0));
        assert_eq!(max_age(&headers(&[("cache-control", "public")])), None);
        assert_eq!(
            max_age(&headers(&[("cache-control", "max-age=soon")])),
            None
        );
        assert_eq!(max_age(&headers(&[])), None);
        assert_eq!(
            max_age(&headers(&[
                ("cache-control", "public"),
                ("cache-control", "max-age=7")
            ])),
            secs(7)
        );
        assert_eq!(
            max_age(&headers(&[("cache-control", "max-age=600"), ("age", "x")])),
            secs(600)
        );
    }
}
