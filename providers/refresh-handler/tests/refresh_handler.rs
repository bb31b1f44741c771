//! `RefreshHandlerSource`: the handler's inputs, spec 2.1's validation, the scaled threshold,
//! error pass-through and redaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{
    BuildError, Clock, Error, ErrorKind, REFRESH_THRESHOLD, Result, TokenSource, TokenState,
    Transport,
};
use credkit_refresh_handler::{RefreshHandler, RefreshHandlerSource, handler_fn};
use credkit_testing::{FakeClock, MockTransport, strategies};
use futures::executor::block_on;
use proptest::prelude::*;
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

const EXPIRED: &str = "The credentials returned by the refresh_handler are already expired.";

fn transport() -> Arc<dyn Transport> {
    Arc::new(MockTransport::new())
}

fn seconds(n: i64) -> time::Duration {
    time::Duration::seconds(n)
}

/// A source whose handler returns `token` expiring `lifetime` after the clock's now.
fn source_with(
    clock: &FakeClock,
    token: &str,
    lifetime: time::Duration,
) -> std::result::Result<RefreshHandlerSource, BuildError> {
    let (clock_in, token) = (clock.clone(), token.to_owned());
    let handler = handler_fn(move |_transport, _scopes| {
        let (token, expiry) = (token.clone(), clock_in.now() + lifetime);
        async move { Ok((token, expiry)) }
    });
    RefreshHandlerSource::builder(handler, transport())
        .with_clock(clock.clone())
        .build()
}

#[test]
fn token_carries_the_handlers_expiry_and_no_issue_time() {
    let clock = FakeClock::new();
    let source = source_with(&clock, "ya29.ok", seconds(3600)).unwrap();
    let token = block_on(source.fetch_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), "ya29.ok");
    assert_eq!(token.expiry(), Some(clock.now() + seconds(3600)));
    assert_eq!(token.issued_at(), None);
    assert_eq!(token.token_type(), "Bearer");
    assert_eq!(source.name(), "refresh handler");
}

#[test]
fn handler_gets_the_scopes_and_the_transport_once_per_fetch() {
    let calls = Arc::new(AtomicUsize::new(0));
    let transport = transport();
    let expected = Arc::clone(&transport);
    let counter = Arc::clone(&calls);
    let handler = handler_fn(move |given: Arc<dyn Transport>, scopes: Arc<[String]>| {
        counter.fetch_add(1, Ordering::SeqCst);
        assert!(Arc::ptr_eq(&given, &expected));
        assert_eq!(
            &*scopes,
            ["email", "https://www.googleapis.com/auth/cloud-platform"]
        );
        async move { Ok(("ya29.t", OffsetDateTime::now_utc() + time::Duration::HOUR)) }
    });
    let source = RefreshHandlerSource::builder(handler, transport)
        .with_scopes(["email", "https://www.googleapis.com/auth/cloud-platform"])
        .build()
        .unwrap();
    assert_eq!(
        source.scopes(),
        ["email", "https://www.googleapis.com/auth/cloud-platform"]
    );
    block_on(source.fetch_token()).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    block_on(source.fetch_token()).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn no_scopes_means_an_empty_list() {
    let handler = handler_fn(|_transport, scopes: Arc<[String]>| async move {
        assert!(scopes.is_empty());
        Ok(("ya29.t", OffsetDateTime::now_utc() + time::Duration::HOUR))
    });
    let source = RefreshHandlerSource::new(handler, transport());
    assert!(source.scopes().is_empty());
    block_on(source.fetch_token()).unwrap();
}

#[test]
fn an_expired_token_gets_the_reference_message() {
    let clock = FakeClock::new();
    for lifetime in [seconds(0), seconds(-1), seconds(-3600)] {
        let err = block_on(
            source_with(&clock, "ya29.old", lifetime)
                .unwrap()
                .fetch_token(),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), EXPIRED);
        assert_eq!(err.kind(), ErrorKind::Provider);
        assert!(!err.is_transient());
    }
}

#[test]
fn a_five_minute_token_uses_the_full_threshold() {
    // The handler does not say when its token was issued, so its lifetime is unknown and the
    // full 225 s threshold applies: fresh for 75 s, as in the reference.
    let clock = FakeClock::new();
    let source = source_with(&clock, "ya29.short", seconds(300)).unwrap();
    let token = block_on(source.fetch_token()).unwrap();
    let start = clock.now();
    let state = |after: i64| token.state(start + seconds(after), REFRESH_THRESHOLD);
    assert_eq!(state(0), TokenState::Fresh);
    assert_eq!(state(74), TokenState::Fresh);
    assert_eq!(state(75), TokenState::Stale);
    assert_eq!(state(299), TokenState::Stale);
    assert_eq!(state(300), TokenState::Invalid);
}

#[test]
fn tokens_shorter_than_the_reference_threshold_are_accepted() {
    // The reference refuses anything expiring within 225 s; credkit takes a 3-minute token and
    // even a 1-second one, stale at once (served while the caching layer refreshes ahead).
    let clock = FakeClock::new();
    for lifetime in [180, 60, 1] {
        let token = block_on(
            source_with(&clock, "ya29.brief", seconds(lifetime))
                .unwrap()
                .fetch_token(),
        )
        .unwrap();
        assert_eq!(token.expiry(), Some(clock.now() + seconds(lifetime)));
        assert_eq!(
            token.state(clock.now(), REFRESH_THRESHOLD),
            TokenState::Stale
        );
    }
}

#[test]
fn a_one_hour_token_behaves_as_in_the_reference() {
    let clock = FakeClock::new();
    let token = block_on(
        source_with(&clock, "ya29.hour", seconds(3600))
            .unwrap()
            .fetch_token(),
    )
    .unwrap();
    let start = clock.now();
    assert_eq!(
        token.state(start + seconds(3600 - 226), REFRESH_THRESHOLD),
        TokenState::Fresh
    );
    assert_eq!(
        token.state(start + seconds(3600 - 225), REFRESH_THRESHOLD),
        TokenState::Stale
    );
}

#[test]
fn now_is_read_after_the_handler_returns() {
    // A slow handler: its token expires while it runs.
    let clock = FakeClock::new();
    let slow = clock.clone();
    let handler = handler_fn(move |_transport, _scopes| {
        let clock = slow.clone();
        async move {
            let expiry = clock.now() + seconds(10);
            clock.advance(Duration::from_secs(10));
            Ok(("ya29.late", expiry))
        }
    });
    let source = RefreshHandlerSource::builder(handler, transport())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let err = block_on(source.fetch_token()).unwrap_err();
    assert_eq!(err.to_string(), EXPIRED);
}

// Issue 12: a token with 60 s left is not "a one-minute token issued now" (fresh until 15 s
// before its end): its issue time is unknown, so the full threshold (or the configured one)
// applies and it is stale at once.
#[test]
fn a_token_with_a_minute_left_is_stale_at_once() {
    let clock = FakeClock::new();
    let source = source_with(&clock, "ya29.short", seconds(60)).unwrap();
    let token = block_on(source.fetch_token()).unwrap();
    let expiry = clock.now() + seconds(60);
    assert_eq!(token.lifetime(), None);
    assert_eq!(
        token.stale_at(REFRESH_THRESHOLD),
        Some(expiry - seconds(225))
    );
    assert_eq!(
        token.state(clock.now(), REFRESH_THRESHOLD),
        TokenState::Stale
    );
    let configured = Duration::from_secs(30);
    assert_eq!(token.state(clock.now(), configured), TokenState::Fresh);
    assert_eq!(
        token.state(clock.now() + seconds(30), configured),
        TokenState::Stale
    );
}

#[test]
fn tokens_that_cannot_go_in_a_header_are_refused_without_showing_them() {
    let clock = FakeClock::new();
    for bad in [
        "",
        "ya29.two words",
        "ya29.crlf\r\nx-injected: 1",
        "ya29.tab\t",
        " ",
        "ya29.é",
    ] {
        let err = block_on(
            source_with(&clock, bad, seconds(3600))
                .unwrap()
                .fetch_token(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{bad:?}");
        assert!(!err.is_transient());
        assert!(
            err.to_string()
                .contains("access token returned by the refresh_handler"),
            "{err}"
        );
        if !bad.trim().is_empty() {
            assert!(!format!("{err} {err:?}").contains(bad), "{bad:?}");
        }
    }
}

#[test]
fn validation_checks_the_token_before_the_expiry() {
    // As the reference: the token's check comes first.
    let clock = FakeClock::new();
    let err = block_on(source_with(&clock, "", seconds(-5)).unwrap().fetch_token()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
}

#[test]
fn handler_errors_pass_through_unchanged() {
    for (kind, transient) in [
        (ErrorKind::Transport, true),
        (ErrorKind::Provider, false),
        (ErrorKind::TokenEndpoint, true),
        (ErrorKind::ReauthRequired, false),
    ] {
        let handler = handler_fn(move |_transport, _scopes| async move {
            Err::<(String, OffsetDateTime), _>(
                Error::new(kind, "broker said no").with_transient(transient),
            )
        });
        let source = RefreshHandlerSource::new(handler, transport());
        let err = block_on(source.fetch_token()).unwrap_err();
        assert_eq!(err.kind(), kind);
        assert_eq!(err.is_transient(), transient);
        assert_eq!(err.to_string(), "broker said no");
    }
}

#[derive(Debug)]
struct Counting {
    calls: AtomicUsize,
}

#[async_trait]
impl RefreshHandler for Counting {
    async fn refresh(
        &self,
        _transport: Arc<dyn Transport>,
        _scopes: Arc<[String]>,
    ) -> Result<(SecretString, OffsetDateTime)> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        Ok((
            SecretString::from(format!("ya29.n{n}")),
            OffsetDateTime::now_utc() + time::Duration::HOUR,
        ))
    }
}

#[test]
fn a_handler_type_and_shared_handlers_work() {
    let shared: Arc<dyn RefreshHandler> = Arc::new(Counting {
        calls: AtomicUsize::new(0),
    });
    let first = RefreshHandlerSource::new(Arc::clone(&shared), transport());
    let second = RefreshHandlerSource::new(Box::new(Arc::clone(&shared)), transport());
    let a = block_on(first.fetch_token()).unwrap();
    let b = block_on(second.fetch_token()).unwrap();
    assert_eq!(a.secret().expose_secret(), "ya29.n0");
    assert_eq!(b.secret().expose_secret(), "ya29.n1");
    assert!(format!("{:?}", first.handler()).contains("Counting"));
}

#[test]
fn scopes_with_whitespace_are_refused_at_build() {
    for bad in ["", "two words", "tab\t"] {
        let err = RefreshHandlerSource::builder(
            handler_fn(|_transport, _scopes| async {
                Ok(("t", OffsetDateTime::now_utc() + time::Duration::HOUR))
            }),
            transport(),
        )
        .with_scopes(["email", bad])
        .build()
        .unwrap_err();
        assert!(err.is_invalid_value(), "{bad:?}");
    }
}

#[test]
fn source_and_builder_are_send_sync_and_object_safe() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RefreshHandlerSource>();
    assert_send_sync::<credkit_refresh_handler::RefreshHandlerSourceBuilder>();
    let source = RefreshHandlerSource::new(
        Counting {
            calls: AtomicUsize::new(0),
        },
        transport(),
    );
    let _: Arc<dyn TokenSource> = Arc::new(source);
    let _: &dyn RefreshHandler = &Counting {
        calls: AtomicUsize::new(0),
    };
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Neither the source, its builder, nor the token shows a secret the handler captured or
    /// returned.
    #[test]
    fn debug_never_shows_the_secret(secret in strategies::secret()) {
        let clock = FakeClock::new();
        let captured = SecretString::from(secret.clone());
        let handler = handler_fn(move |_transport, _scopes| {
            let token = SecretString::from(captured.expose_secret().to_owned());
            async move { Ok((token, OffsetDateTime::now_utc() + time::Duration::HOUR)) }
        });
        let builder = RefreshHandlerSource::builder(handler, transport()).with_clock(clock.clone());
        let shown = format!("{builder:?}");
        prop_assert!(!shown.contains(&secret));
        let source = builder.build().unwrap();
        let token = block_on(source.fetch_token()).unwrap();
        prop_assert_eq!(token.secret().expose_secret(), secret.as_str());
        let shown = format!("{source:?}");
        prop_assert!(!shown.contains(&secret));
        let shown = format!("{token:?}");
        prop_assert!(!shown.contains(&secret));
    }

    /// The staleness check on arrival is exactly "already expired".
    #[test]
    fn accepted_exactly_when_not_yet_expired(offset in -7200_i64..7200) {
        let clock = FakeClock::new();
        let result = block_on(source_with(&clock, "ya29.p", seconds(offset)).unwrap().fetch_token());
        prop_assert_eq!(result.is_ok(), offset > 0);
    }
}

#[test]
fn debug_names_the_handler_and_the_settings_but_nothing_captured() {
    let captured = SecretString::from("broker-secret");
    let handler = handler_fn(move |_transport, _scopes| {
        let _keep = &captured;
        async { Ok((String::from("ya29.t"), OffsetDateTime::now_utc())) }
    });
    let handler_debug = format!("{handler:?}");
    assert!(handler_debug.starts_with("HandlerFn"), "{handler_debug}");
    let source = RefreshHandlerSource::new(handler, transport());
    let debug = format!("{source:?}");
    assert!(
        debug.starts_with("RefreshHandlerSource { handler: HandlerFn"),
        "{debug}"
    );
    assert!(debug.contains("scopes: "), "{debug}");
    assert!(!debug.contains("broker-secret"), "{debug}");
}
