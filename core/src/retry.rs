//! `RetryPolicy` and the `Retrying` source: credkit's one retry layer.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::{AccessToken, Clock, Error, Result, TokenSource};

/// How often and how patiently to retry a transient failure.
///
/// The default matches the reference library: 3 attempts in all, waiting about 1 s and then about
/// 2 s (a multiplier of 2, plus or minus 10 % jitter). A `Retry-After` the endpoint sent is
/// honoured: the wait is at least that long. Every wait is capped by
/// [`max_wait`](RetryPolicy::with_max_wait) (default 30 s).
///
/// ```
/// use std::time::Duration;
/// use credkit_core::RetryPolicy;
///
/// let policy = RetryPolicy::default();
/// assert_eq!(policy.max_attempts(), 3);
/// assert_eq!(policy.nominal_wait(1), Duration::from_secs(1));
/// assert_eq!(policy.nominal_wait(2), Duration::from_secs(2));
///
/// let patient = RetryPolicy::default().with_max_attempts(5).with_initial_wait(Duration::from_millis(200));
/// assert_eq!(patient.nominal_wait(3), Duration::from_millis(800));
/// assert_eq!(RetryPolicy::none().max_attempts(), 1);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_wait: Duration,
    multiplier: f64,
    jitter: f64,
    max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_wait: Duration::from_secs(1),
            multiplier: 2.0,
            jitter: 0.1,
            max_wait: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries: one attempt.
    pub fn none() -> Self {
        Self::default().with_max_attempts(1)
    }

    /// Sets the number of attempts in all, the first included (at least 1). Default 3.
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the wait before the first retry. Default 1 s.
    #[must_use]
    pub fn with_initial_wait(mut self, wait: Duration) -> Self {
        self.initial_wait = wait;
        self
    }

    /// Sets the factor by which each wait grows (at least 1; not finite counts as 1). Default 2.
    #[must_use]
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = if multiplier.is_finite() {
            multiplier.max(1.0)
        } else {
            1.0
        };
        self
    }

    /// Sets the jitter as a fraction of each wait, clamped to `0.0..=1.0`: each wait is drawn
    /// uniformly from `wait * (1 - jitter)` to `wait * (1 + jitter)`. Default 0.1.
    #[must_use]
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        self
    }

    /// Sets the longest single wait, which also caps a `Retry-After`. Default 30 s.
    #[must_use]
    pub fn with_max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// The number of attempts in all.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The longest single wait (see [`with_max_wait`](Self::with_max_wait)).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use credkit_core::RetryPolicy;
    /// assert_eq!(RetryPolicy::default().max_wait(), Duration::from_secs(30));
    /// ```
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// The wait before retry number `retry` (1 for the first retry), before jitter and capped.
    pub fn nominal_wait(&self, retry: u32) -> Duration {
        let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let factor = self.multiplier.powi(exponent);
        self.scaled(self.initial_wait, factor)
    }

    /// The wait before retry number `retry` after `error`, with jitter from `unit` (a number in
    /// `0.0..1.0`; 0.5 means no jitter), at least the error's `Retry-After`, capped.
    pub fn wait_before(&self, retry: u32, error: &Error, unit: f64) -> Duration {
        let nominal = self.nominal_wait(retry);
        let spread = 1.0 + self.jitter * (unit.clamp(0.0, 1.0) * 2.0 - 1.0);
        let jittered = self.scaled(nominal, spread);
        error
            .retry_after()
            .map_or(jittered, |asked| jittered.max(asked))
            .min(self.max_wait)
    }

    /// Runs `attempt` until it succeeds, fails permanently, or no attempt is left, waiting
    /// [`wait_before`](Self::wait_before) on `clock` between attempts; the last failure is
    /// returned as it is. `what` names the operation in the debug log (never a URL or a body).
    /// [`Retrying`] is this around a [`TokenSource`]; a provider runs its own requests that
    /// must not reach the caching layer's retries this way (the reauth API's, say).
    ///
    /// ```
    /// # use credkit_core::{Error, ErrorKind, RetryPolicy, SystemClock};
    /// # futures::executor::block_on(async {
    /// let mut calls = 0;
    /// let answer = RetryPolicy::default()
    ///     .run(&SystemClock, "an example", || {
    ///         calls += 1;
    ///         async { Err::<(), _>(Error::new(ErrorKind::TokenEndpoint, "invalid_grant")) }
    ///     })
    ///     .await;
    /// assert!(answer.is_err());
    /// assert_eq!(calls, 1); // permanent: not sent again
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// The last attempt's error.
    pub async fn run<T, F, Fut>(&self, clock: &dyn Clock, what: &str, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut sent = 1;
        loop {
            let err = match attempt().await {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            if !err.is_transient() || sent >= self.max_attempts {
                if sent > 1 {
                    tracing::debug!(what, attempts = sent, kind = %err.kind(), "giving up after transient failures");
                }
                return Err(err);
            }
            let wait = self.wait_before(sent, &err, unit_random());
            tracing::debug!(
                what,
                attempt = sent,
                kind = %err.kind(),
                status = err.http_status(),
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "transient failure; trying again"
            );
            clock.sleep(wait).await;
            sent += 1;
        }
    }

    fn scaled(&self, wait: Duration, factor: f64) -> Duration {
        let secs = wait.as_secs_f64() * factor;
        Duration::try_from_secs_f64(secs)
            .unwrap_or(self.max_wait)
            .min(self.max_wait)
    }
}

/// A [`TokenSource`] that retries its inner source's transient failures, waiting through a
/// [`Clock`] between attempts.
///
/// Permanent failures (such as `invalid_grant`) return at once. This is credkit's one retry layer:
/// [`Credentials`](crate::Credentials) wraps its source in it, and providers never retry a token
/// request on their own, so a 503 costs at most [`RetryPolicy::max_attempts`] requests.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use credkit_core::{AccessToken, RetryPolicy, Retrying, StaticSource, SystemClock, TokenSource};
///
/// # futures::executor::block_on(async {
/// let source = Retrying::new(
///     StaticSource::new(AccessToken::new("t")),
///     RetryPolicy::default(),
///     Arc::new(SystemClock),
/// );
/// assert!(source.fetch_token().await.is_ok());
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct Retrying<S> {
    inner: S,
    policy: RetryPolicy,
    clock: Arc<dyn Clock>,
}

impl<S> Retrying<S> {
    /// Wraps `inner`, retrying by `policy` and waiting on `clock`.
    pub fn new(inner: S, policy: RetryPolicy, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner,
            policy,
            clock,
        }
    }

    /// The wrapped source.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped source, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the source.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The policy in use.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }
}

#[async_trait]
impl<S: TokenSource> TokenSource for Retrying<S> {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let source = &self.inner;
        self.policy
            .run(&*self.clock, source.name(), || source.fetch_token())
            .await
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn initial_token(&self) -> Option<AccessToken> {
        self.inner.initial_token()
    }

    fn adopt_record(&self, record: &crate::CredentialRecord) {
        self.inner.adopt_record(record);
    }

    fn clock(&self) -> Option<Arc<dyn Clock>> {
        self.inner.clock()
    }

    fn retry_policy(&self) -> Option<RetryPolicy> {
        self.inner.retry_policy()
    }

    fn quota_project(&self) -> Option<&str> {
        self.inner.quota_project()
    }
}

/// A uniformly distributed number in `0.0..1.0` for jitter, from the standard library's randomly
/// keyed hasher (each `RandomState` gets fresh keys), so core needs no random-number crate.
fn unit_random() -> f64 {
    let bits = RandomState::new().hash_one(0_u8);
    // The top 53 bits fill an f64 mantissa exactly.
    #[allow(clippy::cast_precision_loss)]
    let unit = (bits >> 11) as f64 / (1_u64 << 53) as f64;
    unit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn transient() -> Error {
        Error::new(ErrorKind::Transport, "x").with_transient(true)
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let policy = RetryPolicy::default();
        let err = transient();
        assert_eq!(policy.wait_before(1, &err, 0.0), Duration::from_millis(900));
        assert_eq!(policy.wait_before(1, &err, 0.5), Duration::from_secs(1));
        assert!(policy.wait_before(1, &err, 0.999_999) <= Duration::from_millis(1100));
        assert_eq!(
            policy.wait_before(2, &err, 0.0),
            Duration::from_millis(1800)
        );
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let policy = RetryPolicy::default();
        let asked = transient().with_retry_after(Duration::from_secs(7));
        assert_eq!(policy.wait_before(1, &asked, 0.5), Duration::from_secs(7));
        let greedy = transient().with_retry_after(Duration::from_secs(3600));
        assert_eq!(policy.wait_before(1, &greedy, 0.5), Duration::from_secs(30));
        let short = transient().with_retry_after(Duration::from_millis(10));
        assert_eq!(policy.wait_before(1, &short, 0.5), Duration::from_secs(1));
    }

    #[test]
    fn waits_saturate() {
        let policy = RetryPolicy::default().with_max_attempts(u32::MAX);
        assert_eq!(policy.nominal_wait(u32::MAX), Duration::from_secs(30));
        let odd = RetryPolicy::default()
            .with_multiplier(f64::NAN)
            .with_jitter(f64::INFINITY);
        assert_eq!(odd.nominal_wait(5), Duration::from_secs(1));
        assert!(odd.wait_before(1, &transient(), 0.0) <= Duration::from_secs(30));
    }

    #[test]
    fn unit_random_is_in_range_and_varies() {
        let draws: Vec<f64> = (0..64).map(|_| unit_random()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        assert!(draws.windows(2).any(|w| (w[0] - w[1]).abs() > f64::EPSILON));
    }
}
