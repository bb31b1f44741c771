//! The tests a user of credkit writes first, with only the public kit: each body is at most 15
//! lines, with no helper of its own.
//!
//! - the API gets the bearer header;
//! - a 401 leads to exactly one refresh (and one replay);
//! - an expired token is refreshed;
//! - and the easy mistake (tokens stamped on a `FakeClock`, `Credentials` on the system clock)
//!   fails loudly instead of passing without testing anything.

use std::error::Error;
use std::time::Duration;

use credkit_core::bytes::Bytes;
use credkit_core::{AuthorizedTransport, Credentials, Transport};
use credkit_testing::mockall::Sequence;
use credkit_testing::{FakeClock, MockTransport, ScriptedSource, response};

const HOUR: Duration = Duration::from_secs(3600);
const URL: &str = "https://api.example.test/files";

type TestResult = Result<(), Box<dyn Error>>;

#[tokio::test]
async fn the_api_gets_the_bearer_header() -> TestResult {
    let clock = FakeClock::new();
    let source = ScriptedSource::new(&clock).then_token("ya29.first", HOUR);
    let credentials = Credentials::builder(source).with_clock(clock).build()?;
    let mut api = MockTransport::new();
    api.expect_send()
        .withf(|request| request.headers()["authorization"] == "Bearer ya29.first")
        .times(1)
        .returning(|_| Ok(response(200, "{}")));
    let api = AuthorizedTransport::new(api, credentials);
    let request = http::Request::get(URL).body(Bytes::new())?;
    assert_eq!(api.send(request).await?.status(), 200);
    Ok(())
}

#[tokio::test]
async fn a_401_leads_to_one_refresh() -> TestResult {
    let clock = FakeClock::new();
    let source = ScriptedSource::new(&clock)
        .then_token("ya29.revoked", HOUR)
        .then_token("ya29.new", HOUR);
    let credentials = Credentials::builder(source.clone())
        .with_clock(clock)
        .build()?;
    let (mut api, mut seq) = (MockTransport::new(), Sequence::new());
    api.expect_send()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(response(401, "")));
    api.expect_send()
        .withf(|request| request.headers()["authorization"] == "Bearer ya29.new")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(response(200, "")));
    let request = http::Request::get(URL).body(Bytes::new())?;
    assert_eq!(
        AuthorizedTransport::new(api, credentials)
            .send(request)
            .await?
            .status(),
        200
    );
    assert_eq!(source.fetches(), 2, "one fetch, then exactly one refresh");
    Ok(())
}

#[tokio::test]
async fn an_expired_token_is_refreshed() -> TestResult {
    let clock = FakeClock::new();
    let source = ScriptedSource::new(&clock); // numbered one-hour tokens
    let credentials = Credentials::builder(source.clone())
        .with_clock(clock.clone())
        .build()?;
    assert_eq!(
        credentials.headers().await?["authorization"],
        "Bearer scripted-token-1"
    );
    clock.advance(HOUR);
    assert_eq!(
        credentials.headers().await?["authorization"],
        "Bearer scripted-token-2"
    );
    assert_eq!(source.fetches(), 2);
    Ok(())
}

/// The mistaken 401 test: its tokens are stamped on a `FakeClock` (2026-01-01) but
/// `Credentials` reads the system clock, so every token arrives long expired. It used to pass
/// without testing anything; now the first request fails with a typed error naming the cause,
/// and the API is never called.
#[tokio::test]
async fn mixing_the_system_clock_with_fake_clock_tokens_fails_loudly() -> TestResult {
    let source = ScriptedSource::new(&FakeClock::new())
        .then_token("ya29.revoked", HOUR)
        .then_token("ya29.new", HOUR);
    let credentials = Credentials::new(source.clone()); // the mistake: no with_clock
    let mut api = MockTransport::new();
    api.expect_send().never();
    let request = http::Request::get(URL).body(Bytes::new())?;
    let err = AuthorizedTransport::new(api, credentials)
        .send(request)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), credkit_core::ErrorKind::InvalidResponse);
    assert!(
        err.to_string()
            .contains("before it was received: check the clocks"),
        "{err}"
    );
    assert!(!err.is_transient(), "not retried: one fetch");
    assert_eq!(source.fetches(), 1);
    Ok(())
}
