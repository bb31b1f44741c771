//! The probe against loopback stand-ins: a metadata server, one that never answers, one that
//! refuses while it starts, one that answers 5xx or something else. Timings on the `FakeClock`.
// Helpers outside the #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use credkit_core::Clock;
use credkit_metadata::{DEFAULT_PROBE_RETRY_WINDOW, DEFAULT_PROBE_TIMEOUT, MetadataServer, Probe};
use credkit_testing::{FakeClock, FakeMetadataServer};
use support::{RefusingUntil, server_on, transport, until};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn elapsed(clock: &FakeClock, start: time::OffsetDateTime) -> Duration {
    Duration::try_from(clock.now() - start).unwrap()
}

#[tokio::test]
async fn a_metadata_server_is_available_in_one_request() -> TestResult {
    let fake = FakeMetadataServer::start().await?;
    let server = server_on(&fake, FakeClock::new());
    assert!(matches!(server.probe().await, Probe::Available));
    assert!(server.is_available().await);
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method(), "GET");
    assert_eq!(requests[0].path(), "/");
    assert_eq!(requests[0].query(), None);
    assert_eq!(requests[0].header("metadata-flavor"), Some("Google"));
    Ok(())
}

#[tokio::test]
async fn an_answer_without_the_flavor_header_is_not_the_metadata_server() -> TestResult {
    let fake = FakeMetadataServer::start().await?;
    fake.set_flavor_header(false);
    let server = server_on(&fake, FakeClock::new());
    assert!(matches!(
        server.probe().await,
        Probe::NotMetadataServer { status: 200 }
    ));
    assert_eq!(fake.request_count(), 1, "not retried");
    Ok(())
}

#[tokio::test]
async fn no_gce_check_answers_at_once_without_asking() -> TestResult {
    let fake = FakeMetadataServer::start().await?;
    let host = fake.host();
    let server = MetadataServer::builder()
        .with_env(move |name| match name {
            "NO_GCE_CHECK" => Some("true".to_owned()),
            "GCE_METADATA_IP" => Some(host.clone()),
            _ => None,
        })
        .with_transport(transport())
        .build()?;
    assert!(server.probe_disabled());
    assert!(matches!(server.probe().await, Probe::Disabled));
    assert_eq!(fake.request_count(), 0);
    Ok(())
}

#[tokio::test]
async fn a_stand_in_that_accepts_and_never_answers_is_not_available_at_the_timeout() -> TestResult {
    // The kernel accepts connections into the backlog of a listener nobody accepts from.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let host = silent.local_addr()?.to_string();
    let clock = FakeClock::new();
    let server = MetadataServer::builder()
        .with_env(move |name| (name == "GCE_METADATA_IP").then(|| host.clone()))
        .with_transport(transport())
        .with_clock(clock.clone())
        .build()?;
    assert_eq!(server.probe_timeout(), DEFAULT_PROBE_TIMEOUT);
    let start = clock.now();
    let probe = tokio::spawn({
        let server = server.clone();
        async move { server.probe().await }
    });
    until(|| clock.pending_timeouts() == 1).await;
    clock.advance(Duration::from_millis(2999));
    tokio::task::yield_now().await;
    assert!(!probe.is_finished(), "ended before its timeout");
    clock.advance(Duration::from_millis(1));
    assert!(matches!(probe.await?, Probe::TimedOut));
    assert_eq!(elapsed(&clock, start), DEFAULT_PROBE_TIMEOUT);
    drop(silent);
    Ok(())
}

#[tokio::test]
async fn a_metadata_server_that_hangs_ends_the_probe_at_the_configured_timeout() -> TestResult {
    let fake = FakeMetadataServer::start().await?;
    fake.set_hang(true);
    let clock = FakeClock::new();
    let host = fake.host();
    let server = MetadataServer::builder()
        .with_env(move |name| match name {
            "GCE_METADATA_IP" => Some(host.clone()),
            "GCE_METADATA_TIMEOUT" => Some("1".to_owned()),
            _ => None,
        })
        .with_transport(transport())
        .with_clock(clock.clone())
        .build()?;
    assert_eq!(server.probe_timeout(), Duration::from_secs(1));
    let start = clock.now();
    let probe = tokio::spawn(async move { server.probe().await });
    until(|| fake.request_count() == 1 && clock.pending_timeouts() == 1).await;
    clock.advance(Duration::from_secs(1));
    assert!(matches!(probe.await?, Probe::TimedOut));
    assert_eq!(elapsed(&clock, start), Duration::from_secs(1));
    assert_eq!(fake.request_count(), 1, "a hang is not retried");
    Ok(())
}

#[tokio::test]
async fn refusals_are_retried_until_the_server_listens() -> TestResult {
    let fake = FakeMetadataServer::start().await?;
    let clock = FakeClock::new().with_auto_advance(true);
    let refusing = RefusingUntil::new(&clock, Duration::from_secs(2), transport());
    let server = MetadataServer::builder()
        .with_env(fake.env())
        .with_transport(refusing.clone())
        .with_clock(clock.clone())
        .build()?;
    let start = clock.now();
    assert!(matches!(server.probe().await, Probe::Available));
    let spent = elapsed(&clock, start);
    assert!(
        spent >= Duration::from_secs(2) && spent < Duration::from_secs(3),
        "{spent:?}"
    );
    // 50 ms doubling to 500 ms: 50, 100, 200, 400, 500, 500, 500 = 2.25 s.
    assert_eq!(refusing.refused(), 7);
    assert_eq!(
        clock.sleeps(),
        [50, 100, 200, 400, 500, 500, 500].map(Duration::from_millis)
    );
    assert_eq!(fake.request_count(), 1);
    Ok(())
}

#[tokio::test]
async fn a_server_that_keeps_refusing_is_given_up_on_within_the_window() -> TestResult {
    let fake = FakeMetadataServer::start().await?;
    let clock = FakeClock::new().with_auto_advance(true);
    let refusing = RefusingUntil::new(&clock, Duration::from_secs(3600), transport());
    let server = MetadataServer::builder()
        .with_env(fake.env())
        .with_transport(refusing.clone())
        .with_clock(clock.clone())
        .build()?;
    let start = clock.now();
    let Probe::Unreachable(err) = server.probe().await else {
        panic!("should be unreachable");
    };
    assert!(err.is_transient());
    assert!(elapsed(&clock, start) <= DEFAULT_PROBE_RETRY_WINDOW);
    // 50+100+200+400+500+500+500+500 = 2.75 s of waits; one more would pass 3 s.
    assert_eq!(refusing.refused(), 9);
    assert_eq!(elapsed(&clock, start), Duration::from_millis(2750));
    assert_eq!(fake.request_count(), 0);
    Ok(())
}

#[tokio::test]
async fn a_zero_window_means_one_attempt() -> TestResult {
    let fake = FakeMetadataServer::start().await?;
    let clock = FakeClock::new().with_auto_advance(true);
    let refusing = RefusingUntil::new(&clock, Duration::from_secs(3600), transport());
    let server = MetadataServer::builder()
        .with_env(fake.env())
        .with_transport(refusing.clone())
        .with_clock(clock.clone())
        .with_probe_retry_window(Duration::ZERO)
        .build()?;
    assert!(matches!(server.probe().await, Probe::Unreachable(_)));
    assert_eq!(refusing.refused(), 1);
    assert!(clock.sleeps().is_empty());
    Ok(())
}

#[tokio::test]
async fn server_errors_are_retried_and_other_statuses_are_not() -> TestResult {
    let fake = FakeMetadataServer::start().await?;
    let clock = FakeClock::new().with_auto_advance(true);
    let server = server_on(&fake, clock.clone());
    fake.fail_next(3, 503);
    assert!(matches!(server.probe().await, Probe::Available));
    assert_eq!(fake.request_count(), 4);

    fake.clear_requests();
    fake.fail_next(1, 404);
    assert!(matches!(
        server.probe().await,
        Probe::NotMetadataServer { status: 404 }
    ));
    assert_eq!(fake.request_count(), 1);

    fake.clear_requests();
    fake.fail_next(1000, 500);
    assert!(matches!(
        server.probe().await,
        Probe::NotMetadataServer { status: 500 }
    ));
    assert_eq!(fake.request_count(), 9);
    Ok(())
}

#[tokio::test]
async fn a_real_server_that_listens_after_two_seconds_is_found_by_the_probe() -> TestResult {
    // Real time, the acceptance measure: the fake binds its port 2 s after starting.
    let fake = FakeMetadataServer::builder()
        .refusing_for(Duration::from_secs(2))
        .start()
        .await?;
    let server = server_on(&fake, credkit_core::SystemClock);
    let start = std::time::Instant::now();
    assert!(server.is_available().await);
    let spent = start.elapsed();
    assert!(spent < Duration::from_secs(3), "{spent:?}");
    assert!(spent >= Duration::from_millis(1900), "{spent:?}");
    Ok(())
}

#[tokio::test]
async fn a_transport_that_refuses_the_url_ends_the_probe_at_once() -> TestResult {
    let server = MetadataServer::builder()
        .with_env(|name| (name == "GCE_METADATA_IP").then(|| "10.1.2.3".to_owned()))
        .with_transport(transport())
        .with_clock(FakeClock::new().with_auto_advance(true))
        .build()?;
    // credkit-reqwest refuses plain http to a host it was not told to allow; nothing is sent.
    let Probe::Unreachable(err) = server.probe().await else {
        panic!("should be unreachable");
    };
    assert_eq!(err.kind(), credkit_core::ErrorKind::Configuration);
    Ok(())
}

#[tokio::test]
async fn a_dropped_probe_leaves_the_client_usable() -> TestResult {
    let fake = FakeMetadataServer::start().await?;
    fake.set_hang(true);
    let clock = FakeClock::new();
    let server = server_on(&fake, clock.clone());
    let probe = tokio::spawn({
        let server = server.clone();
        async move { server.probe().await }
    });
    until(|| fake.request_count() == 1 && clock.pending_timeouts() == 1).await;
    probe.abort();
    assert!(probe.await.unwrap_err().is_cancelled());
    until(|| clock.pending_timeouts() == 0).await;
    fake.set_hang(false);
    assert!(matches!(server.probe().await, Probe::Available));
    Ok(())
}

fn probing(transport: support::Failing, clock: &FakeClock) -> MetadataServer {
    MetadataServer::builder()
        .with_env(|_| None)
        .with_transport(transport)
        .with_clock(clock.clone())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_transport_timeout_ends_the_probe_and_a_permanent_failure_is_not_retried() {
    use credkit_core::{Error, ErrorKind, TransportFailure};
    let clock = FakeClock::new().with_auto_advance(true);
    let timing_out = support::Failing::new(Error::transport(TransportFailure::Timeout, "slow"));
    assert!(matches!(
        probing(timing_out.clone(), &clock).probe().await,
        Probe::TimedOut
    ));
    assert_eq!(timing_out.calls(), 1);

    let refused = support::Failing::new(Error::transport(TransportFailure::InvalidRequest, "no"));
    let server = probing(refused.clone(), &clock);
    let Probe::Unreachable(err) = server.probe().await else {
        panic!("should be unreachable");
    };
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(refused.calls(), 1);
    assert!(!server.is_available().await);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn the_retry_window_is_a_bound_that_may_be_reached_exactly() {
    use credkit_core::{Error, TransportFailure};
    let clock = FakeClock::new().with_auto_advance(true);
    let refused = support::Failing::new(Error::transport(TransportFailure::Connect, "refused"));
    let server = MetadataServer::builder()
        .with_env(|_| None)
        .with_transport(refused.clone())
        .with_clock(clock.clone())
        .with_probe_retry_window(Duration::from_millis(150))
        .build()
        .unwrap();
    assert_eq!(server.probe_retry_window(), Duration::from_millis(150));
    assert!(!server.is_available().await);
    // Waits of 50 and 100 ms fill the 150 ms window exactly; a third would pass it.
    assert_eq!(clock.sleeps(), [50, 100].map(Duration::from_millis));
    assert_eq!(refused.calls(), 3);
}
