//! `ScriptedSource`: an in-memory `TokenSource` that answers from a script.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{AccessToken, Clock, Error, ErrorKind, OAuthError, Result, TokenSource};

use crate::FakeClock;

/// One answer of a [`ScriptedSource`], or of a proptest
/// [`source_step`](crate::strategies::source_step).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Step {
    /// A token with this secret. `expires_in` counts from the instant the fetch started, on the
    /// source's clock: `None` never expires, zero or negative is already expired on arrival.
    Token {
        /// The token's secret.
        secret: String,
        /// Its lifetime from the start of the fetch; may be zero or negative.
        expires_in: Option<time::Duration>,
    },
    /// Fail with this error.
    Error(Error),
    /// Never answer (until the fetch is dropped).
    Hang,
}

impl Step {
    /// A token valid for `lifetime` from the start of the fetch.
    pub fn token(secret: impl Into<String>, lifetime: Duration) -> Self {
        Self::Token {
            secret: secret.into(),
            expires_in: Some(time::Duration::try_from(lifetime).unwrap_or(time::Duration::MAX)),
        }
    }

    /// A transient failure, as a token endpoint's 503 `temporarily_unavailable`.
    pub fn transient() -> Self {
        Self::Error(Error::token_endpoint(
            503,
            OAuthError::new("temporarily_unavailable"),
        ))
    }

    /// A permanent failure, as a token endpoint's 400 `invalid_grant`.
    pub fn permanent() -> Self {
        Self::Error(Error::token_endpoint(400, OAuthError::new("invalid_grant")))
    }
}

/// A token with this secret, valid for one hour from the start of its fetch:
/// `scripted_credentials(["ya29.first", "ya29.second"])`.
impl From<&str> for Step {
    fn from(secret: &str) -> Self {
        Self::token(secret, Duration::from_secs(3600))
    }
}

/// A token with this secret, valid for one hour from the start of its fetch.
impl From<String> for Step {
    fn from(secret: String) -> Self {
        Self::token(secret, Duration::from_secs(3600))
    }
}

/// A failure with this error.
impl From<Error> for Step {
    fn from(error: Error) -> Self {
        Self::Error(error)
    }
}

/// An in-memory [`TokenSource`] that answers from a script: tokens or errors in order, with
/// lifetimes measured on the [`FakeClock`] it was given, a fetch counter, and an optional delay
/// or hang. The fake that nearly every test of code using credkit needs.
///
/// Once the script is used up it answers with numbered tokens, `scripted-token-<n>` (`n` the
/// fetch number, from 1), each valid for an hour from the start of its fetch; so a test that
/// only counts refreshes scripts nothing.
///
/// A [`with_delay`](Self::with_delay) makes every fetch wait on the clock first (instant with
/// an auto-advancing clock; otherwise it completes when the test advances the clock). Lifetimes
/// count from the start of the fetch, before the delay, as the contract asks of real sources.
///
/// Give the *same* clock to the [`Credentials`](credkit_core::Credentials) under test: tokens
/// stamped on a fake clock look long expired to the system clock, and `Credentials` refuses
/// them with "the token expired N s before it was received: check the clocks".
/// [`scripted_credentials`](crate::scripted_credentials) builds the source and the credentials
/// on one clock in one call, so the clock cannot be forgotten.
///
/// Clones share the script and the counter.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use credkit_core::Credentials;
/// use credkit_testing::{FakeClock, ScriptedSource, Step, block_on};
///
/// let clock = FakeClock::new();
/// let source = ScriptedSource::new(&clock)
///     .then(Step::transient())
///     .then_token("ya29.first", Duration::from_secs(3600));
/// let credentials = Credentials::builder(source.clone()).with_clock(clock.clone()).build()?;
/// clock.set_auto_advance(true); // the retry's backoff passes at once
/// let token = block_on(credentials.access_token())?;
/// assert_eq!(source.fetches(), 2);
/// # let _ = token;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ScriptedSource {
    shared: Arc<Shared>,
}

struct Shared {
    clock: FakeClock,
    script: Mutex<VecDeque<Step>>,
    fetches: AtomicUsize,
    delay: Mutex<Option<Duration>>,
}

impl ScriptedSource {
    /// An empty script whose lifetimes are measured on `clock` (a clone shares its time).
    pub fn new(clock: &FakeClock) -> Self {
        Self {
            shared: Arc::new(Shared {
                clock: clock.clone(),
                script: Mutex::new(VecDeque::new()),
                fetches: AtomicUsize::new(0),
                delay: Mutex::new(None),
            }),
        }
    }

    /// Appends a step.
    #[must_use]
    pub fn then(self, step: Step) -> Self {
        self.push(step);
        self
    }

    /// Appends a token valid for `lifetime` from the start of its fetch.
    #[must_use]
    pub fn then_token(self, secret: impl Into<String>, lifetime: Duration) -> Self {
        self.then(Step::token(secret, lifetime))
    }

    /// Appends a failure with `error`.
    #[must_use]
    pub fn then_error(self, error: Error) -> Self {
        self.then(Step::Error(error))
    }

    /// Appends a fetch that never answers.
    #[must_use]
    pub fn then_hang(self) -> Self {
        self.then(Step::Hang)
    }

    /// Makes every fetch wait `delay` on the clock before answering.
    #[must_use]
    pub fn with_delay(self, delay: Duration) -> Self {
        *lock(&self.shared.delay) = Some(delay);
        self
    }

    /// Appends a step to a shared source.
    pub fn push(&self, step: Step) {
        lock(&self.shared.script).push_back(step);
    }

    /// Appends several steps to a shared source.
    pub fn push_all(&self, steps: impl IntoIterator<Item = Step>) {
        lock(&self.shared.script).extend(steps);
    }

    /// How many fetches have started.
    pub fn fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }

    /// How many scripted steps are left.
    pub fn remaining(&self) -> usize {
        lock(&self.shared.script).len()
    }

    /// The clock lifetimes are measured on.
    pub fn clock(&self) -> &FakeClock {
        &self.shared.clock
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not take the other tests' view of the script with it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[async_trait]
impl TokenSource for ScriptedSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let n = self.shared.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        let started = self.shared.clock.now();
        let step = lock(&self.shared.script).pop_front();
        let delay = *lock(&self.shared.delay);
        if let Some(delay) = delay {
            self.shared.clock.sleep(delay).await;
        }
        match step {
            None => Ok(AccessToken::new(format!("scripted-token-{n}"))
                .with_lifetime(started, Duration::from_secs(3600))),
            Some(Step::Token { secret, expires_in }) => {
                let token = AccessToken::validated(secret)?;
                Ok(match expires_in {
                    None => token,
                    Some(lifetime) => token
                        .with_issued_at(started)
                        .with_expiry(started.saturating_add(lifetime)),
                })
            }
            Some(Step::Error(err)) => Err(err),
            Some(Step::Hang) => {
                futures::future::pending::<()>().await;
                Err(Error::new(ErrorKind::Internal, "a hung fetch answered"))
            }
        }
    }

    fn name(&self) -> &'static str {
        "scripted source"
    }
}

impl fmt::Debug for ScriptedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptedSource")
            .field("fetches", &self.fetches())
            .field("remaining", &self.remaining())
            .finish_non_exhaustive()
    }
}
