//! Behaviour that mutation testing found unpinned: each test here fails for a mutant that the
//! rest of the suite let through (see `.cargo/mutants.toml` and CONTRIBUTING.md).

// Setup helpers outside `#[test]` functions unwrap too: a broken setup should fail loudly.
#![allow(clippy::unwrap_used)]

mod credentials_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use credkit_core::authorize::{Authorization, Authorizer};
use credkit_core::http::{self, HeaderMap};
use credkit_core::{
    AccessToken, Clock, Credentials, Error, ErrorKind, RetryPolicy, StaticSource, TokenState,
};
use credkit_testing::FakeClock;
use futures::FutureExt;
use futures::executor::block_on;
use futures::future::BoxFuture;
use secrecy::ExposeSecret;
use time::OffsetDateTime;

use credentials_support::{HOUR, QueueSpawner, TestSource, bearer};

/// A fake clock that counts how it is read.
#[derive(Debug)]
struct Counting {
    clock: FakeClock,
    now: AtomicUsize,
    system_time: AtomicUsize,
}

impl Counting {
    fn new(clock: &FakeClock) -> Arc<Self> {
        Arc::new(Self {
            clock: clock.clone(),
            now: AtomicUsize::new(0),
            system_time: AtomicUsize::new(0),
        })
    }

    fn reads(&self) -> (usize, usize) {
        (
            self.now.load(Ordering::SeqCst),
            self.system_time.load(Ordering::SeqCst),
        )
    }

    fn reset(&self) {
        self.now.store(0, Ordering::SeqCst);
        self.system_time.store(0, Ordering::SeqCst);
    }
}

impl Clock for Counting {
    fn now(&self) -> OffsetDateTime {
        self.now.fetch_add(1, Ordering::SeqCst);
        self.clock.now()
    }
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.clock.sleep(duration)
    }
    fn system_time(&self) -> SystemTime {
        self.system_time.fetch_add(1, Ordering::SeqCst);
        self.clock.now().into()
    }
}

#[test]
fn a_fresh_token_takes_the_fast_path_one_system_time_read_and_no_calendar_read() {
    let clock = FakeClock::new();
    let counting = Counting::new(&clock);
    let source = TestSource::new(&clock);
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(Arc::clone(&counting))
        .build()
        .unwrap();
    block_on(credentials.refresh()).unwrap();
    counting.reset();

    let mut headers = HeaderMap::new();
    assert_eq!(credentials.apply(&mut headers).unwrap(), TokenState::Fresh);
    assert_eq!(counting.reads(), (0, 1), "apply");
    counting.reset();
    block_on(credentials.before_request(&mut headers)).unwrap();
    assert_eq!(counting.reads(), (0, 1), "before_request");
    counting.reset();
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "tok-1");
    assert_eq!(counting.reads(), (0, 1), "headers");
    counting.reset();
    let token = block_on(credentials.access_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), "tok-1");
    assert_eq!(counting.reads(), (0, 1), "access_token");
    // The authorizer's hot path is the same one, for a first send and for a replay.
    let authorizer = Authorizer::new(credentials.clone());
    let mut request = http::Request::get("https://api.example/v1")
        .body(())
        .unwrap();
    counting.reset();
    assert!(matches!(
        authorizer.authorize(&mut request),
        Authorization::Ready(_)
    ));
    assert_eq!(counting.reads(), (0, 1), "authorize");
    counting.reset();
    assert!(matches!(
        authorizer.authorize_replay(request.headers_mut()),
        Authorization::Ready(_)
    ));
    assert_eq!(counting.reads(), (0, 1), "authorize_replay");
    assert_eq!(bearer(request.headers()), "tok-1");
    assert_eq!(source.fetches(), 1);
}

#[test]
fn a_token_without_expiry_never_reads_the_clock_on_the_hot_path() {
    let clock = FakeClock::new();
    let counting = Counting::new(&clock);
    let credentials = Credentials::builder(StaticSource::new(AccessToken::new("forever")))
        .with_clock(Arc::clone(&counting))
        .build()
        .unwrap();
    block_on(credentials.refresh()).unwrap();
    counting.reset();
    let mut headers = HeaderMap::new();
    assert_eq!(credentials.apply(&mut headers).unwrap(), TokenState::Fresh);
    assert_eq!(block_on(credentials.headers()).unwrap().len(), 1);
    assert_eq!(counting.reads(), (0, 0));
}

#[test]
fn apply_with_a_spawner_refreshes_an_expired_token_in_the_background() {
    let clock = FakeClock::new();
    let spawner = QueueSpawner::default();
    let source = TestSource::new(&clock);
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .with_initial_token(AccessToken::new("seed").with_lifetime(clock.now(), HOUR))
        .with_spawner(spawner.spawner())
        .build()
        .unwrap();
    clock.advance(HOUR + Duration::from_secs(1));
    assert!(credentials.apply(&mut HeaderMap::new()).is_err(), "expired");
    assert_eq!(spawner.len(), 1, "a background refresh was started");
    spawner.run_all();
    assert_eq!(source.fetches(), 1);
    assert_eq!(credentials.token_state(), TokenState::Fresh);
}

#[test]
fn debug_shows_whether_a_refresh_is_in_flight() {
    let clock = FakeClock::new();
    let source = TestSource::with_delay(&clock, Duration::from_secs(1));
    let credentials = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .build()
        .unwrap();
    assert!(format!("{credentials:?}").contains("refreshing: false"));
    let mut waiting = Box::pin(credentials.headers());
    assert!((&mut waiting).now_or_never().is_none());
    assert!(format!("{credentials:?}").contains("refreshing: true"));
    clock.advance(Duration::from_secs(1));
    block_on(waiting).unwrap();
    assert!(format!("{credentials:?}").contains("refreshing: false"));
}

#[test]
fn token_states_have_names() {
    let names: Vec<String> = [TokenState::Fresh, TokenState::Stale, TokenState::Invalid]
        .iter()
        .map(|state| format!("{state}={}", state.as_str()))
        .collect();
    assert_eq!(names, ["fresh=fresh", "stale=stale", "invalid=invalid"]);
}

#[test]
fn a_token_reports_its_lifetime_and_turns_stale_before_it_expires() {
    let clock = FakeClock::new();
    let token = AccessToken::new("t").with_lifetime(clock.now(), HOUR);
    assert_eq!(token.lifetime(), Some(HOUR));
    assert_eq!(AccessToken::new("t").lifetime(), None);
    let threshold = Duration::from_secs(225);
    assert_eq!(token.state(clock.now(), threshold), TokenState::Fresh);
    let stale = clock.now() + HOUR - Duration::from_secs(225);
    assert_eq!(token.state(stale, threshold), TokenState::Stale);
    assert_eq!(
        token.state(clock.now() + HOUR, threshold),
        TokenState::Invalid
    );
}

#[test]
fn an_access_token_debug_shows_what_is_not_secret() {
    let clock = FakeClock::new();
    let token = AccessToken::new("ya29.secret-value")
        .with_lifetime(clock.now(), HOUR)
        .with_token_type("Bearer");
    let debug = format!("{token:?}");
    assert!(!debug.contains("secret-value"));
    assert!(debug.contains("[REDACTED]"), "{debug}");
    assert!(debug.contains("token_type: \"Bearer\""), "{debug}");
    assert!(
        debug.contains("expiry: Some(2026-01-01 1:00:00.0 +00:00:00)"),
        "{debug}"
    );
}

#[test]
fn max_wait_caps_waits_and_retry_after_and_keeps_the_other_settings() {
    let policy = RetryPolicy::default()
        .with_max_attempts(7)
        .with_max_wait(Duration::from_secs(5));
    assert_eq!(policy.max_attempts(), 7);
    assert_eq!(policy.max_wait(), Duration::from_secs(5));
    assert_eq!(policy.nominal_wait(1), Duration::from_secs(1));
    assert_eq!(policy.nominal_wait(10), Duration::from_secs(5));
    let asked = Error::new(ErrorKind::Transport, "busy")
        .with_transient(true)
        .with_retry_after(Duration::from_secs(60));
    assert_eq!(policy.wait_before(1, &asked, 0.5), Duration::from_secs(5));
}

#[test]
fn a_non_token_reply_names_its_media_type() {
    let response = http::Response::builder()
        .status(200)
        .header("content-type", "text/html; charset=utf-8")
        .body(bytes::Bytes::from_static(b"<html>login</html>"))
        .unwrap();
    let now = FakeClock::new().now();
    let error = credkit_core::oauth::read_token_response(&response, now, &[]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the token endpoint answered HTTP 200 with a text/html body that is not a token response (it is not a complete JSON object)"
    );
}

#[test]
fn an_error_debug_lists_causes_only_when_there_are_some() {
    let alone = format!("{:?}", Error::not_configured("no file"));
    assert!(!alone.contains("causes"), "{alone}");
    let chained = Error::new(ErrorKind::NotConfigured, "nothing configured")
        .with_causes(vec![Error::not_configured("no file")]);
    let debug = format!("{chained:?}");
    assert!(
        debug.contains("causes: [Error { kind: NotConfigured, message: \"no file\""),
        "{debug}"
    );
}

#[test]
fn a_non_string_error_member_is_not_retryable_but_a_falsy_one_is_empty() {
    use credkit_core::classify::is_transient_oauth_body;
    use serde_json::json;
    let transient = "internal_failure";
    assert!(is_transient_oauth_body(
        &json!({"error_description": transient})
    ));
    // Python's `data.get(key) or ""`: falsy members read as "", so the other one decides.
    for falsy in [json!(null), json!(false), json!(0), json!([]), json!({})] {
        let body = json!({"error": falsy, "error_description": transient});
        assert!(is_transient_oauth_body(&body), "{body}");
    }
    // Any other non-string member: "not a str: not retryable".
    for truthy in [json!(true), json!(1), json!(["x"]), json!({"a": 1})] {
        let body = json!({"error": truthy, "error_description": transient});
        assert!(!is_transient_oauth_body(&body), "{body}");
    }
}

#[test]
fn a_media_type_holding_a_secret_is_not_named() {
    use credkit_core::secrecy::SecretString;
    let reply = |content_type: &str| {
        http::Response::builder()
            .status(200)
            .header("content-type", content_type)
            .body(bytes::Bytes::from_static(b"<html>login</html>"))
            .unwrap()
    };
    let now = FakeClock::new().now();
    let secret = SecretString::from("sekrit");
    let error = credkit_core::oauth::read_token_response(&reply("text/sekrit"), now, &[&secret])
        .unwrap_err()
        .to_string();
    assert!(error.contains("with an untyped body"), "{error}");
    assert!(!error.contains("sekrit"), "{error}");
    // An empty secret is no secret: it does not hide every media type.
    let empty = SecretString::from("");
    let error = credkit_core::oauth::read_token_response(&reply("text/html"), now, &[&empty])
        .unwrap_err()
        .to_string();
    assert!(error.contains("with a text/html body"), "{error}");
}

#[test]
fn an_interactive_future_debug_names_itself() {
    let future = credkit_core::interactive::interactive(async {});
    assert_eq!(format!("{future:?}"), "Interactive { .. }");
}

#[test]
fn error_kinds_have_stable_names() {
    let names = [
        (ErrorKind::Transport, "transport"),
        (ErrorKind::Timeout, "timeout"),
        (ErrorKind::TokenEndpoint, "token_endpoint"),
        (ErrorKind::InvalidResponse, "invalid_response"),
        (ErrorKind::Configuration, "configuration"),
        (ErrorKind::ReauthRequired, "reauth_required"),
        (ErrorKind::Provider, "provider"),
        (ErrorKind::Storage, "storage"),
        (ErrorKind::NotConfigured, "not_configured"),
        (ErrorKind::Internal, "internal"),
    ];
    for (kind, name) in names {
        assert_eq!(kind.as_str(), name);
        assert_eq!(kind.to_string(), name);
    }
}

#[test]
fn an_error_keeps_its_oauth_fields_and_shows_them_in_debug() {
    use credkit_core::OAuthError;
    let error = Error::token_endpoint(
        400,
        OAuthError::new("invalid_grant").with_description("Token has been expired or revoked."),
    );
    let oauth = error.oauth().unwrap();
    assert_eq!(oauth.error(), "invalid_grant");
    assert_eq!(
        oauth.description(),
        Some("Token has been expired or revoked.")
    );
    let debug = format!("{error:?}");
    assert!(
        debug.starts_with("Error { kind: TokenEndpoint, message: "),
        "{debug}"
    );
    assert!(debug.contains("http_status: 400"), "{debug}");
    assert!(debug.contains("invalid_grant"), "{debug}");
    assert!(Error::new(ErrorKind::Internal, "x").oauth().is_none());
}

#[test]
fn credentials_name_their_source() {
    let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
    assert_eq!(credentials.source_name(), "static token");
}

#[test]
fn a_fresh_token_is_served_while_a_forced_refresh_is_in_flight() {
    let clock = FakeClock::new();
    let source = credkit_testing::ScriptedSource::new(&clock)
        .then_token("first", HOUR)
        .then_hang();
    let credentials = Credentials::builder(source.clone())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(bearer(&block_on(credentials.headers()).unwrap()), "first");
    let mut forced = Box::pin(credentials.refresh());
    assert!(
        (&mut forced).now_or_never().is_none(),
        "the forced refresh hangs"
    );
    // The cached token is still fresh: `access_token` serves it rather than joining the flight.
    let token = credentials.access_token().now_or_never().unwrap().unwrap();
    assert_eq!(token.secret().expose_secret(), "first");
    assert_eq!(source.fetches(), 2);
}

#[test]
fn a_static_source_debug_shows_its_redacted_token() {
    let debug = format!("{:?}", StaticSource::new(AccessToken::new("ya29.secret")));
    assert!(
        debug.starts_with("StaticSource { token: AccessToken {"),
        "{debug}"
    );
    assert!(!debug.contains("ya29.secret"), "{debug}");
}

#[test]
fn an_empty_quota_project_is_none() {
    assert_eq!(
        AccessToken::new("t").with_quota_project("").quota_project(),
        None
    );
    let token = AccessToken::new("t").with_quota_project("billing");
    assert_eq!(token.quota_project(), Some("billing"));
}

#[test]
fn credentials_new_uses_the_default_threshold() {
    // No issue time: the whole threshold applies, so 60 s before expiry is already stale.
    let expiry = OffsetDateTime::now_utc() + Duration::from_secs(60);
    let credentials = Credentials::new(StaticSource::new(
        AccessToken::new("ya29.t").with_expiry(expiry),
    ));
    block_on(credentials.access_token()).unwrap();
    assert_eq!(credentials.token_state(), TokenState::Stale);
}

#[test]
fn a_cancelled_caller_leaves_the_flight_to_the_callers_still_waiting() {
    let clock = FakeClock::new();
    let source = credkit_testing::ScriptedSource::new(&clock)
        .then_token("only", HOUR)
        .with_delay(Duration::from_secs(5));
    let credentials = Credentials::builder(source.clone())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let mut first = Box::pin(credentials.access_token());
    let mut second = Box::pin(credentials.access_token());
    assert!((&mut first).now_or_never().is_none());
    assert!((&mut second).now_or_never().is_none());
    drop(first);
    // `second` still drives the flight, so it is not dropped: a new caller joins it.
    let mut third = Box::pin(credentials.access_token());
    assert!((&mut third).now_or_never().is_none());
    clock.advance(Duration::from_secs(5));
    let second = block_on(second).unwrap();
    let third = block_on(third).unwrap();
    assert_eq!(second.secret().expose_secret(), "only");
    assert!(Arc::ptr_eq(&second, &third));
    assert_eq!(source.fetches(), 1);
}

#[test]
fn credentials_debug_shows_the_settings_but_no_secret() {
    let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.secret")))
        .with_quota_project("billing")
        .with_storage(credkit_core::MemoryStorage::new(), "user@example.com")
        .build()
        .unwrap();
    block_on(credentials.headers()).unwrap();
    let debug = format!("{credentials:?}");
    for shown in [
        "source: \"static token\"",
        "has_token: true",
        "refresher: Refresher {",
        "flight_deadline: ",
        "storage_key: Some(\"user@example.com\")",
        "threshold: 225s",
    ] {
        assert!(debug.contains(shown), "{shown} in {debug}");
    }
    assert!(!debug.contains("ya29.secret"), "{debug}");
}

#[test]
fn a_rejected_access_token_invalidates_the_cache_it_came_from() {
    let clock = FakeClock::new();
    let source = credkit_testing::ScriptedSource::new(&clock)
        .then_token("first", HOUR)
        .then_token("second", HOUR);
    let credentials = Credentials::builder(source)
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let token = block_on(credentials.access_token()).unwrap();
    assert!(!credentials.invalidate_if(&AccessToken::new("other")));
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    assert!(credentials.invalidate_if(&*token));
    assert_eq!(credentials.token_state(), TokenState::Invalid);
    let next = block_on(credentials.access_token()).unwrap();
    assert_eq!(next.secret().expose_secret(), "second");
}

#[test]
fn each_build_error_answers_to_its_own_kind_only() {
    use credkit_core::BuildError;
    let errors = [
        BuildError::missing_field("m"),
        BuildError::invalid_value("i"),
        BuildError::loading("l"),
        BuildError::parsing("p"),
        BuildError::unknown_type("u"),
    ];
    for (index, error) in errors.iter().enumerate() {
        let answers = [
            error.is_missing_field(),
            error.is_invalid_value(),
            error.is_loading(),
            error.is_parsing(),
            error.is_unknown_type(),
        ];
        let expected: Vec<bool> = (0..answers.len()).map(|i| i == index).collect();
        assert_eq!(answers.to_vec(), expected, "{error:?}");
        assert!(!error.is_transient(), "{error:?}");
    }
}

#[test]
fn an_http_build_error_says_which_part_was_invalid() {
    use credkit_core::bytes::Bytes;
    let message = |builder: http::request::Builder| {
        Error::from(builder.body(Bytes::new()).unwrap_err()).to_string()
    };
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(http::uri::Scheme::HTTPS);
    let cases = [
        (
            http::Request::builder().uri("not a url"),
            "its URI is invalid",
        ),
        (http::Request::builder().uri(parts), "its URI is invalid"),
        (
            http::Request::builder().header("bad name", "v"),
            "a header name or value is invalid",
        ),
        (
            http::Request::builder().header("x-name", "bad\nvalue"),
            "a header name or value is invalid",
        ),
        (
            http::Request::builder().method("bad method"),
            "its method is invalid",
        ),
    ];
    for (builder, what) in cases {
        assert_eq!(
            message(builder),
            format!("the HTTP request could not be built: {what}")
        );
    }
}

#[test]
fn memory_storage_counts_and_shows_its_keys_and_leases() {
    use credkit_core::{CredentialRecord, LeaseOptions, MemoryStorage, Storage};
    let storage = MemoryStorage::new();
    assert!(storage.is_empty());
    assert_eq!(storage.len(), 0);
    let record = CredentialRecord::new().with_access_token(&AccessToken::new("ya29.secret"));
    block_on(storage.store("a", &record)).unwrap();
    block_on(storage.store("b", &record)).unwrap();
    assert!(!storage.is_empty());
    assert_eq!(storage.len(), 2);
    let options = LeaseOptions::new(Duration::ZERO, FakeClock::new());
    let lease = block_on(storage.lease("a", &options)).unwrap().unwrap();
    let debug = format!("{storage:?}");
    assert!(
        debug.contains("keys: [") && debug.contains("leased: [\"a\"]"),
        "{debug}"
    );
    assert!(!debug.contains("ya29.secret"), "{debug}");
    let lease_debug = format!("{lease:?}");
    assert!(
        lease_debug.starts_with("Lease(MemoryLease { key: \"a\""),
        "{lease_debug}"
    );
}

#[test]
fn a_credential_record_debug_shows_what_it_holds_but_no_secret() {
    use credkit_core::CredentialRecord;
    use credkit_core::secrecy::SecretString;
    let record = CredentialRecord::new()
        .with_access_token(&AccessToken::new("ya29.secret"))
        .with_refresh_token(SecretString::from("1//refresh-secret"))
        .with_provider_secret("rapt_token", SecretString::from("rapt-secret"));
    let debug = format!("{record:?}");
    assert!(
        debug.starts_with("CredentialRecord { access_token: Some(\"[REDACTED]\")"),
        "{debug}"
    );
    assert!(
        debug.contains("refresh_token: Some(\"[REDACTED]\")"),
        "{debug}"
    );
    assert!(
        debug.contains("provider_secret_names: [\"rapt_token\"]"),
        "{debug}"
    );
    for secret in ["ya29.secret", "1//refresh-secret", "rapt-secret"] {
        assert!(!debug.contains(secret), "{debug}");
    }
}

#[test]
fn initial_wait_sets_the_first_wait_and_keeps_the_other_settings() {
    let policy = RetryPolicy::default()
        .with_max_attempts(6)
        .with_initial_wait(Duration::from_secs(3));
    assert_eq!(policy.max_attempts(), 6);
    assert_eq!(policy.nominal_wait(1), Duration::from_secs(3));
    assert!(policy.nominal_wait(2) > Duration::from_secs(3));
}
