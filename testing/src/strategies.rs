//! proptest strategies for the things tests vary: secrets, tokens, expiries and scope lists;
//! clock steps, token-source behaviour and lifetimes; hostile token-endpoint replies.
//!
//! Each strategy says what its times are relative to. Drive async code from a `proptest!` body
//! with [`block_on`](crate::block_on).

use std::time::Duration;

use credkit_core::AccessToken;
use proptest::prelude::*;
use time::OffsetDateTime;

use crate::{FAKE_CLOCK_START, Reply, Step};

/// The prefix every generated secret starts with, distinctive enough that finding it in a
/// `Debug` or error string means the secret leaked.
pub const SECRET_PREFIX: &str = "credkit-secret-";

/// Secrets of 16 to 64 URL-safe characters behind [`SECRET_PREFIX`].
///
/// ```
/// use proptest::prelude::*;
/// use credkit_testing::strategies::{secret, SECRET_PREFIX};
///
/// proptest!(|(s in secret())| {
///     prop_assert!(s.starts_with(SECRET_PREFIX));
/// });
/// ```
pub fn secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~-]{16,64}".prop_map(|tail| format!("{SECRET_PREFIX}{tail}"))
}

/// Expiries from an hour before to a day after [`FAKE_CLOCK_START`] (an absolute instant, not
/// the clock's current time), to the second.
pub fn expiry() -> impl Strategy<Value = OffsetDateTime> {
    (-3600_i64..86_400).prop_map(|secs| FAKE_CLOCK_START + time::Duration::seconds(secs))
}

/// Token lifetimes from 1 second to 2 hours, relative to the instant the token is issued.
/// [`signed_lifetime`] adds zero and already-expired ones.
pub fn lifetime() -> impl Strategy<Value = Duration> {
    (1_u64..7200).prop_map(Duration::from_secs)
}

/// OAuth scopes: URL-like or short names, never empty or containing whitespace.
pub fn scope() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,12}",
        "[a-z.]{1,20}".prop_map(|s| format!("https://www.googleapis.com/auth/{s}")),
    ]
}

/// Lists of 0 to 5 scopes.
pub fn scope_list() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(scope(), 0..=5)
}

/// Access tokens with a secret from [`secret`], maybe an expiry (and issue time), maybe granted
/// scopes, maybe an ID token.
pub fn access_token() -> impl Strategy<Value = AccessToken> {
    (
        secret(),
        proptest::option::of((expiry(), lifetime())),
        proptest::option::of(scope_list()),
        proptest::option::of(secret()),
    )
        .prop_map(|(secret, expiry, scopes, id_token)| {
            let mut token = AccessToken::new(secret);
            if let Some((expiry, lifetime)) = expiry {
                let issued = expiry - time::Duration::try_from(lifetime).unwrap_or_default();
                token = token.with_expiry(expiry).with_issued_at(issued);
            }
            if let Some(scopes) = scopes {
                token = token.with_granted_scopes(scopes);
            }
            if let Some(id_token) = id_token {
                token = token.with_id_token(id_token.into());
            }
            token
        })
}

/// Steps to move a clock forward by, relative to its current time: zero, a nanosecond on each
/// side of the refresh threshold's edges, and anything from 0 to 2 hours.
///
/// ```
/// use std::time::Duration;
/// use proptest::prelude::*;
/// use credkit_core::Clock;
/// use credkit_testing::{FakeClock, strategies::clock_step};
///
/// proptest!(|(steps in proptest::collection::vec(clock_step(), 0..5))| {
///     let clock = FakeClock::new();
///     let total: Duration = steps.iter().sum();
///     steps.iter().for_each(|step| clock.advance(*step));
///     prop_assert_eq!(clock.now(), credkit_testing::FAKE_CLOCK_START + total);
/// });
/// ```
pub fn clock_step() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(credkit_core::REFRESH_THRESHOLD),
        Just(Duration::from_secs(3600)),
        Just(Duration::from_secs(3600 - 225)),
        (0_u64..7200).prop_map(Duration::from_secs),
        (0_u64..2_000_000_000).prop_map(Duration::from_nanos),
    ]
}

/// Lifetimes relative to the instant a fetch starts, on the source's clock, as
/// [`Step::Token`]'s `expires_in`: `None` (never expires), zero, already expired (up to a day
/// in the past), one second, and 1 second to 2 hours.
pub fn signed_lifetime() -> impl Strategy<Value = Option<time::Duration>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(time::Duration::ZERO)),
        1 => (1_i64..86_400).prop_map(|s| Some(time::Duration::seconds(-s))),
        1 => Just(Some(time::Duration::SECOND)),
        4 => (1_i64..7200).prop_map(|s| Some(time::Duration::seconds(s))),
    ]
}

/// What a token source does on one fetch: a token (secret from [`secret`], lifetime from
/// [`signed_lifetime`], relative to the start of the fetch), a transient error, a permanent
/// error, or a hang. Feed them to a [`ScriptedSource`](crate::ScriptedSource).
///
/// ```
/// use proptest::prelude::*;
/// use credkit_core::TokenSource;
/// use credkit_testing::{FakeClock, ScriptedSource, Step, block_on, strategies::source_step};
///
/// proptest!(|(step in source_step())| {
///     prop_assume!(!matches!(step, Step::Hang));
///     let source = ScriptedSource::new(&FakeClock::new()).then(step.clone());
///     let result = block_on(source.fetch_token());
///     prop_assert_eq!(result.is_ok(), matches!(step, Step::Token { .. }));
/// });
/// ```
pub fn source_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (secret(), signed_lifetime())
            .prop_map(|(secret, expires_in)| Step::Token { secret, expires_in }),
        2 => Just(Step::transient()),
        2 => Just(Step::permanent()),
        1 => Just(Step::Hang),
    ]
}

/// Hostile or broken token-endpoint replies: HTML error pages, truncated and non-object JSON,
/// tokens that cannot go into a header, absurd or negative `expires_in`, an error description
/// echoing a [`secret`], resets, stalls, oversize bodies and redirects, each with or without a
/// delay of up to a minute (on the endpoint's clock, from when the request arrives).
///
/// Whatever the reply, a provider must return a classified error or a usable token, never
/// panic, and never put the echoed secret in a message.
pub fn hostile_reply() -> impl Strategy<Value = Reply> {
    let reply = prop_oneof![
        (500_u16..600).prop_map(|status| Reply::html(status, "<html>Service Unavailable</html>")),
        Just(Reply::raw(
            200,
            "application/json",
            r#"{"access_token":"ya29.trunc"#
        )),
        Just(Reply::raw(200, "application/json", "[]")),
        Just(Reply::raw(200, "text/plain", "ya29.not-json")),
        Just(Reply::json(
            200,
            serde_json::json!({"access_token": "ya29.bad\r\nx-injected: 1"})
        )),
        Just(Reply::json(
            200,
            serde_json::json!({"access_token": "", "expires_in": 3600})
        )),
        Just(Reply::json(
            200,
            serde_json::json!({"access_token": "ya29.t", "expires_in": -5})
        )),
        Just(Reply::json(
            200,
            serde_json::json!({"access_token": "ya29.t", "expires_in": 1e300})
        )),
        Just(Reply::json(
            200,
            serde_json::json!({"access_token": "ya29.t", "expires_in": "soon"})
        )),
        Just(Reply::json(200, serde_json::json!({"expires_in": 3600}))),
        secret().prop_map(|secret| Reply::oauth_error(
            400,
            "invalid_grant",
            Some(&format!("Bad token {secret}"))
        )),
        Just(Reply::oauth_error(429, "rate_limited", None).with_header("retry-after", "120")),
        Just(Reply::reset()),
        Just(Reply::stall()),
        Just(Reply::oversize(2 * 1024 * 1024)),
        Just(Reply::redirect("/elsewhere")),
    ];
    (reply, proptest::option::of(0_u64..60)).prop_map(|(reply, delay)| match delay {
        Some(secs) => reply.with_delay(Duration::from_secs(secs)),
        None => reply,
    })
}
