//! The retrying source: attempts, permanence and backoff waits, observed on a `FakeClock`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use credkit_core::{
    AccessToken, Error, ErrorKind, OAuthError, RetryPolicy, Retrying, TokenSource, TransportFailure,
};
use credkit_testing::{FakeClock, MockTokenSource};
use futures::executor::block_on;

fn within_jitter(actual: Duration, nominal: Duration) -> bool {
    let low = nominal.mul_f64(0.9);
    let high = nominal.mul_f64(1.1);
    (low..=high).contains(&actual)
}

#[test]
fn transient_errors_get_three_attempts_with_growing_waits() {
    let clock = FakeClock::new().with_auto_advance(true);
    let mut source = MockTokenSource::new();
    source
        .expect_fetch_token()
        .times(3)
        .returning(|| Err(Error::token_endpoint(503, OAuthError::new("backend_error"))));
    let retrying = Retrying::new(source, RetryPolicy::default(), Arc::new(clock.clone()));

    let err = block_on(retrying.fetch_token()).unwrap_err();
    assert_eq!(err.http_status(), Some(503));
    let waits = clock.sleeps();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert!(within_jitter(waits[0], Duration::from_secs(1)), "{waits:?}");
    assert!(within_jitter(waits[1], Duration::from_secs(2)), "{waits:?}");
}

#[test]
fn permanent_errors_get_one_attempt() {
    let clock = FakeClock::new().with_auto_advance(true);
    let mut source = MockTokenSource::new();
    source.expect_fetch_token().times(1).returning(|| {
        Err(Error::token_endpoint(
            400,
            OAuthError::new("invalid_grant").with_description("Token has been expired or revoked."),
        ))
    });
    let retrying = Retrying::new(source, RetryPolicy::default(), Arc::new(clock.clone()));

    let err = block_on(retrying.fetch_token()).unwrap_err();
    assert_eq!(err.oauth_error(), Some("invalid_grant"));
    assert!(clock.sleeps().is_empty());
}

#[test]
fn success_after_transient_failures_stops_retrying() {
    let clock = FakeClock::new().with_auto_advance(true);
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let mut source = MockTokenSource::new();
    source.expect_fetch_token().times(2).returning(move || {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            Err(Error::transport(
                TransportFailure::Reset,
                "connection reset",
            ))
        } else {
            Ok(AccessToken::new("t"))
        }
    });
    let retrying = Retrying::new(source, RetryPolicy::default(), Arc::new(clock.clone()));
    assert!(block_on(retrying.fetch_token()).is_ok());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(clock.sleeps().len(), 1);
}

#[test]
fn retry_after_is_waited() {
    let clock = FakeClock::new().with_auto_advance(true);
    let mut source = MockTokenSource::new();
    source.expect_fetch_token().times(2).returning(|| {
        Err(Error::token_endpoint(429, OAuthError::new("rate_limited"))
            .with_retry_after(Duration::from_secs(12)))
    });
    let policy = RetryPolicy::default().with_max_attempts(2);
    let retrying = Retrying::new(source, policy, Arc::new(clock.clone()));
    assert!(block_on(retrying.fetch_token()).is_err());
    assert_eq!(clock.sleeps(), [Duration::from_secs(12)]);
}

#[test]
fn no_retry_policy_means_one_attempt() {
    let clock = FakeClock::new().with_auto_advance(true);
    let mut source = MockTokenSource::new();
    source
        .expect_fetch_token()
        .times(1)
        .returning(|| Err(Error::new(ErrorKind::Timeout, "timed out")));
    let retrying = Retrying::new(source, RetryPolicy::none(), Arc::new(clock.clone()));
    assert_eq!(
        block_on(retrying.fetch_token()).unwrap_err().kind(),
        ErrorKind::Timeout
    );
    assert!(clock.sleeps().is_empty());
}

#[test]
fn waits_block_until_the_clock_passes_them() {
    // Without auto-advance the retry really waits on the clock: nothing happens until it moves.
    let clock = FakeClock::new();
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let mut source = MockTokenSource::new();
    source.expect_fetch_token().returning(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Err(Error::transport(TransportFailure::Connect, "refused"))
    });
    let retrying = Retrying::new(source, RetryPolicy::default(), Arc::new(clock.clone()));
    let mut fetch = Box::pin(retrying.fetch_token());
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(fetch.as_mut().poll(&mut cx).is_pending());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(clock.pending_sleeps(), 1);
    clock.advance_to_next_sleep();
    assert!(fetch.as_mut().poll(&mut cx).is_pending());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    clock.advance_to_next_sleep();
    assert!(fetch.as_mut().poll(&mut cx).is_ready());
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}
