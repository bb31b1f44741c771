//! `GcloudSource` through the caching `Credentials`: gcloud runs once per token lifetime, however
//! many callers there are.
#![cfg(unix)]

mod support;

use credkit_core::Clock;
use credkit_core::Credentials;
use credkit_testing::{FAKE_CLOCK_START, FakeClock, FakeGcloud};
use futures::executor::block_on;
use support::{TestResult, source};

#[test]
fn a_hundred_concurrent_callers_run_one_gcloud_process() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder()
        .with_token("ya29.shared")
        .with_token_expiry(FAKE_CLOCK_START + time::Duration::hours(1))
        .build()?;
    let credentials =
        Credentials::builder(source(&gcloud, &clock)?.with_quota_project("gcloud-quota")?)
            .with_clock(clock.clone())
            .build()?;

    let callers = (0..100).map(|_| {
        let credentials = credentials.clone();
        async move { credentials.headers().await }
    });
    let results = block_on(futures::future::join_all(callers));
    for headers in results {
        let headers = headers?;
        assert_eq!(headers["authorization"], "Bearer ya29.shared");
        assert_eq!(headers["x-goog-user-project"], "gcloud-quota");
    }
    assert_eq!(gcloud.calls(), 1);

    // Requests keep using the cached token until it is stale; then gcloud runs again, once.
    clock.set(FAKE_CLOCK_START + time::Duration::minutes(50));
    block_on(credentials.headers())?;
    assert_eq!(gcloud.calls(), 1);
    // (The fake answers with the same expiry, 2 minutes away: its issue time unknown, that token
    // is stale at once, so a further call would refresh ahead again.)
    clock.set(FAKE_CLOCK_START + time::Duration::minutes(58));
    block_on(credentials.headers())?;
    assert_eq!(gcloud.calls(), 2);
    assert!(clock.now() > FAKE_CLOCK_START);
    Ok(())
}
