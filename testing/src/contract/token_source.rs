//! The [`TokenSource`] contract suite: runs an implementation through the trait's contract.
//!
//! A plugin author checks a source in a few lines. The suite builds the source once per check
//! with a factory that it hands a [`Far`] side: a [`FakeClock`], an in-memory token endpoint
//! already scripted for the check, and the [`Behaviour`] wanted, for sources that are not HTTP.
//!
//! | check | the far side | the source must |
//! |---|---|---|
//! | token | a token for one hour, answered [`Far::delay`] after the request | return it, its lifetime counted from *before* the request: expiry within a second before `start + 1 h` on the clock (for a token without an expiry, see below) |
//! | transient failure | HTTP 503 `temporarily_unavailable` | fail with [`Error::is_transient`] |
//! | permanent failure | HTTP 400 `invalid_grant` | fail, not transient |
//! | cancellation | a token, after a delay that never passes | survive its fetch being dropped mid-way, then fetch again |
//! | secrets | every error description echoes the secrets | never show a secret (the token's, or one given to [`Contract::with_secret`]) in its `Debug`, a token's `Debug`, or an error's `Display` or `Debug` |
//!
//! None of the checks may see a [not configured](Error::is_not_configured) error. A failed check
//! panics with the clause it broke.
//!
//! # Tokens without an expiry
//!
//! A token without an expiry is served by the caching layer until a `401` invalidates it, so
//! the suite checks what it can of one:
//!
//! - a source that asked the far side's endpoint, which answered `expires_in: 3600`, must not
//!   drop that expiry: such a token fails the lifetime row;
//! - a source that is not HTTP (a fixed token, one read from a variable or a file) may hand
//!   out tokens without an expiry: the lifetime row is then exempt, but a token's
//!   [`issued_at`](credkit_core::AccessToken::issued_at), when set, must not be later than the
//!   start of the fetch.
//!
//! # Examples
//!
//! An HTTP provider points its token URL at [`Far::token_url`] and sends through
//! [`Far::endpoint`]; a source of another kind does what [`Far::behaviour`] says. The kit's own
//! [`ScriptedSource`] does the latter:
//!
//! ```
//! use credkit_testing::ScriptedSource;
//! use credkit_testing::contract::token_source::Contract;
//!
//! Contract::new(|far| {
//!     ScriptedSource::new(far.clock()).with_delay(far.delay()).then(far.step())
//! })
//! .check();
//! ```

use std::any::Any;
use std::fmt::Debug;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use credkit_core::secrecy::ExposeSecret;
use credkit_core::{Clock, Error, TokenSource};
use futures::FutureExt;

#[cfg(doc)]
use crate::ScriptedSource;
use crate::{FakeClock, FakeTokenEndpoint, IN_MEMORY_TOKEN_URL, Reply, Step};

/// The token secret the suite hands out; distinctive, so finding it anywhere means a leak.
pub const CONTRACT_TOKEN: &str = "credkit-contract-secret-access-token";

/// The lifetime of the contract's tokens, from the instant the request is sent.
pub const CONTRACT_LIFETIME: Duration = Duration::from_secs(3600);

/// How long the far side takes to answer a token request, on the clock.
pub const CONTRACT_DELAY: Duration = Duration::from_secs(30);

/// What the far side does in a check, for sources that are not HTTP.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Behaviour {
    /// Hand out [`CONTRACT_TOKEN`], valid for [`CONTRACT_LIFETIME`] from the request.
    Token,
    /// Fail in a way worth retrying (a 503, a timeout, a network failure).
    TransientFailure,
    /// Fail in a way no retry fixes (a revoked grant, a login required).
    PermanentFailure,
}

/// The far side of one check: the clock, the scripted endpoint, the behaviour wanted.
pub struct Far {
    clock: FakeClock,
    endpoint: FakeTokenEndpoint,
    behaviour: Behaviour,
    kept: Mutex<Vec<Box<dyn Any + Send>>>,
}

impl Far {
    fn new(behaviour: Behaviour, secrets: &[String]) -> Self {
        let clock = FakeClock::new().with_auto_advance(true);
        let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
        let echo = secrets.join(" ");
        endpoint.push_reply(match behaviour {
            Behaviour::Token => Reply::json(
                200,
                serde_json::json!({
                    "access_token": CONTRACT_TOKEN,
                    "expires_in": CONTRACT_LIFETIME.as_secs(),
                    "token_type": "Bearer",
                }),
            )
            .with_delay(CONTRACT_DELAY),
            Behaviour::TransientFailure => Reply::oauth_error(
                503,
                "temporarily_unavailable",
                Some(&format!("busy {echo}")),
            ),
            Behaviour::PermanentFailure => {
                Reply::oauth_error(400, "invalid_grant", Some(&format!("Bad token {echo}")))
            }
        });
        Self {
            clock,
            endpoint,
            behaviour,
            kept: Mutex::new(Vec::new()),
        }
    }

    /// The clock: give it to the source. It auto-advances, so [`delay`](Self::delay) passes at
    /// once, except in the cancellation check, where the first fetch waits until it is dropped.
    pub fn clock(&self) -> &FakeClock {
        &self.clock
    }

    /// The in-memory token endpoint, scripted for this check (every request gets the same
    /// answer): give it to an HTTP source as its transport.
    pub fn endpoint(&self) -> &FakeTokenEndpoint {
        &self.endpoint
    }

    /// The token URL to point an HTTP source at.
    pub fn token_url(&self) -> &'static str {
        IN_MEMORY_TOKEN_URL
    }

    /// What the source should do, for sources that are not HTTP.
    pub fn behaviour(&self) -> &Behaviour {
        &self.behaviour
    }

    /// How long the far side takes to answer, on the clock: [`CONTRACT_DELAY`].
    pub fn delay(&self) -> Duration {
        CONTRACT_DELAY
    }

    /// The behaviour as a [`ScriptedSource`] step.
    pub fn step(&self) -> Step {
        match self.behaviour {
            Behaviour::Token => Step::token(CONTRACT_TOKEN, CONTRACT_LIFETIME),
            Behaviour::TransientFailure => Step::transient(),
            Behaviour::PermanentFailure => Step::permanent(),
        }
    }

    /// Keeps `value` alive until the check ends (a fake program the source runs, say).
    pub fn keep(&self, value: impl Any + Send) {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Box::new(value));
    }
}

impl Debug for Far {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Far")
            .field("behaviour", &self.behaviour)
            .finish_non_exhaustive()
    }
}

/// The suite for one [`TokenSource`] implementation; see the [module docs](self).
pub struct Contract<F> {
    factory: F,
    secrets: Vec<String>,
    transient: bool,
}

impl<F> Debug for Contract<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contract")
            .field("secrets", &self.secrets.len())
            .field("transient", &self.transient)
            .finish_non_exhaustive()
    }
}

impl<F, S> Contract<F>
where
    F: Fn(&Far) -> S,
    S: TokenSource,
{
    /// The suite for the sources `factory` builds, one per check.
    pub fn new(factory: F) -> Self {
        Self {
            factory,
            secrets: vec![CONTRACT_TOKEN.to_owned()],
            transient: true,
        }
    }

    /// Also checks that `secret` (a refresh token or client secret the source holds) never
    /// shows; the far side echoes it in its error descriptions too.
    #[must_use]
    pub fn with_secret(mut self, secret: impl Into<String>) -> Self {
        self.secrets.push(secret.into());
        self
    }

    /// Skips the transient-failure check, for a source that cannot fail transiently (one that
    /// reads a variable or a file).
    #[must_use]
    pub fn without_transient_failures(mut self) -> Self {
        self.transient = false;
        self
    }

    /// Runs every check on the current thread.
    ///
    /// # Panics
    ///
    /// When a check fails, naming the clause.
    pub fn check(self) {
        futures::executor::block_on(self.check_async());
    }

    /// Runs every check on the caller's executor (for a source that needs a runtime).
    ///
    /// # Panics
    ///
    /// When a check fails, naming the clause.
    pub async fn check_async(self) {
        self.token().await;
        if self.transient {
            self.failure(Behaviour::TransientFailure, true).await;
        }
        self.failure(Behaviour::PermanentFailure, false).await;
        self.cancellation().await;
    }

    fn far(&self, behaviour: Behaviour) -> Far {
        Far::new(behaviour, &self.secrets[1..])
    }

    async fn token(&self) {
        let far = self.far(Behaviour::Token);
        let source = (self.factory)(&far);
        let start = far.clock.now();
        let token = match source.fetch_token().await {
            Ok(token) => token,
            Err(err) => fail("token", &format!("the fetch failed: {err:?}")),
        };
        if token.secret().expose_secret() != CONTRACT_TOKEN {
            fail("token", "the token is not the one the far side handed out");
        }
        match token.expiry() {
            Some(expiry) => Self::lifetime_from_start(start, expiry),
            None => Self::without_expiry(&far, start, token.issued_at()),
        }
        self.no_secret("token", &format!("{token:?}"));
        self.no_secret("source", &format!("{source:?}"));
    }

    /// The lifetime row for a token with an expiry: counted from before the request.
    fn lifetime_from_start(start: time::OffsetDateTime, expiry: time::OffsetDateTime) {
        let latest = start + CONTRACT_LIFETIME;
        if expiry > latest || expiry < latest - time::Duration::SECOND {
            fail(
                "lifetime counted from before the request",
                &format!(
                    "the request was sent at {start} for a {CONTRACT_LIFETIME:?} token, answered {CONTRACT_DELAY:?} later; the token expires at {expiry}, not at {latest}"
                ),
            );
        }
    }

    /// The lifetime row for a token without an expiry: see "Tokens without an expiry" in the
    /// module docs.
    fn without_expiry(
        far: &Far,
        start: time::OffsetDateTime,
        issued_at: Option<time::OffsetDateTime>,
    ) {
        let clause = "lifetime counted from before the request";
        if far.endpoint.request_count() > 0 {
            fail(
                clause,
                &format!(
                    "the token has no expiry, but the far side's endpoint answered the source's request with `expires_in: {}`: the source dropped it, so the caching layer would serve the token forever (a source that is not HTTP may hand out tokens without an expiry; one that reads a token response may not)",
                    CONTRACT_LIFETIME.as_secs()
                ),
            );
        }
        if let Some(issued_at) = issued_at.filter(|&issued_at| issued_at > start) {
            fail(
                clause,
                &format!(
                    "the token has no expiry (allowed for a source that is not HTTP), but it was issued at {issued_at}, after the fetch started at {start}: stamp tokens before the request"
                ),
            );
        }
    }

    async fn failure(&self, behaviour: Behaviour, transient: bool) {
        let clause = if transient {
            "a transient failure is transient"
        } else {
            "a permanent failure is not transient"
        };
        let far = self.far(behaviour);
        let source = (self.factory)(&far);
        let Err(err) = source.fetch_token().await else {
            fail(clause, "the fetch succeeded against a failing far side")
        };
        self.error_is_clean(clause, &err);
        if err.is_transient() != transient {
            fail(
                clause,
                &format!("is_transient() is {}: {err:?}", err.is_transient()),
            );
        }
        self.no_secret(clause, &format!("{source:?}"));
    }

    async fn cancellation(&self) {
        let clause = "safe to cancel";
        let far = self.far(Behaviour::Token);
        let source = (self.factory)(&far);
        far.clock.set_auto_advance(false);
        {
            let mut fetch = source.fetch_token();
            // One poll starts the work (a request, a process) and leaves it waiting on the
            // clock, which does not move; dropping it is the cancellation.
            if let Some(Err(err)) = (&mut fetch).now_or_never() {
                fail(clause, &format!("the first fetch failed: {err:?}"));
            }
        }
        far.clock.set_auto_advance(true);
        match source.fetch_token().await {
            // The cancelled fetch's work may be lost (a scripted answer used up): any token will do.
            Ok(_) => {}
            Err(err) => fail(
                clause,
                &format!("the fetch after a cancelled one failed: {err:?}"),
            ),
        }
    }

    fn error_is_clean(&self, clause: &str, err: &Error) {
        if err.is_not_configured() {
            fail(
                clause,
                &format!("the source says it is not configured: {err:?}"),
            );
        }
        self.no_secret(clause, &err.to_string());
        self.no_secret(clause, &format!("{err:?}"));
    }

    fn no_secret(&self, clause: &str, text: &str) {
        if let Some(secret) = self.secrets.iter().find(|s| text.contains(s.as_str())) {
            fail(
                &format!("no secret in Debug or errors ({clause})"),
                &format!("found {:?} in {text}", redacted(secret)),
            );
        }
    }
}

/// A secret's first few characters, for naming it in a failure without repeating it.
fn redacted(secret: &str) -> String {
    let head: String = secret.chars().take(6).collect();
    format!("{head}...")
}

#[track_caller]
fn fail(clause: &str, details: &str) -> ! {
    // The suite's purpose is to fail the calling test loudly.
    #[allow(clippy::panic)]
    {
        panic!("TokenSource contract broken: {clause}: {details}")
    }
}

/// The kit's own source keeps the contract.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScriptedSource;
    use credkit_core::AccessToken;

    #[test]
    fn the_scripted_source_keeps_the_contract() {
        Contract::new(|far| {
            ScriptedSource::new(far.clock())
                .with_delay(far.delay())
                .then(far.step())
        })
        .check();
    }

    #[test]
    #[should_panic(expected = "lifetime counted from before the request")]
    fn a_lifetime_counted_after_the_request_is_caught() {
        #[derive(Debug)]
        struct Late(FakeClock);
        #[async_trait::async_trait]
        impl TokenSource for Late {
            async fn fetch_token(&self) -> credkit_core::Result<AccessToken> {
                self.0.sleep(CONTRACT_DELAY).await;
                Ok(AccessToken::new(CONTRACT_TOKEN).with_lifetime(self.0.now(), CONTRACT_LIFETIME))
            }
        }
        Contract::new(|far| Late(far.clock().clone())).check();
    }

    /// A source that is not HTTP and has no expiry to give passes (the row's exemption).
    #[test]
    fn a_token_without_an_expiry_from_a_source_that_is_not_http_passes() {
        Contract::new(|far| {
            let step = match far.step() {
                Step::Token { secret, .. } => Step::Token {
                    secret,
                    expires_in: None,
                },
                other => other,
            };
            ScriptedSource::new(far.clock())
                .with_delay(far.delay())
                .then(step)
        })
        .check();
    }

    /// An HTTP source that reads `expires_in: 3600` and drops it.
    #[test]
    #[should_panic(expected = "the source dropped it")]
    fn an_http_source_that_drops_the_expiry_is_caught() {
        #[derive(Debug)]
        struct Forgetful(FakeTokenEndpoint);
        #[async_trait::async_trait]
        impl TokenSource for Forgetful {
            async fn fetch_token(&self) -> credkit_core::Result<AccessToken> {
                use credkit_core::Transport;
                let request = http::Request::post(IN_MEMORY_TOKEN_URL).body(bytes::Bytes::new())?;
                let response = self.0.send(request).await?;
                if !response.status().is_success() {
                    return Err(Error::token_endpoint(
                        response.status().as_u16(),
                        credkit_core::OAuthError::new(if response.status() == 503 {
                            "temporarily_unavailable"
                        } else {
                            "invalid_grant"
                        }),
                    ));
                }
                Ok(AccessToken::new(CONTRACT_TOKEN))
            }
        }
        Contract::new(|far| Forgetful(far.endpoint().clone())).check();
    }

    /// A token without an expiry stamped after the fetch.
    #[test]
    #[should_panic(expected = "stamp tokens before the request")]
    fn a_token_without_an_expiry_issued_after_the_fetch_is_caught() {
        #[derive(Debug)]
        struct Late(FakeClock);
        #[async_trait::async_trait]
        impl TokenSource for Late {
            async fn fetch_token(&self) -> credkit_core::Result<AccessToken> {
                self.0.sleep(CONTRACT_DELAY).await;
                Ok(AccessToken::new(CONTRACT_TOKEN).with_issued_at(self.0.now()))
            }
        }
        Contract::new(|far| Late(far.clock().clone())).check();
    }
}
