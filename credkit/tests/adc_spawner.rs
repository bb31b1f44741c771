//! The documented route with background refresh: ADC discovery, then `credentials_builder`
//! with a spawner. Across an expiry no caller waits: stale tokens are served at once while the
//! refresh runs on the spawner, and the next token is in place before the old one expires.
#![cfg(feature = "refresh-token")]
// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use credkit::Adc;
use credkit::core::http::HeaderMap;
use credkit::core::{Clock, TokenState};
use credkit_testing::{AdcEnv, FakeClock, FakeTokenEndpoint, Reply};
use futures::FutureExt;
use futures::future::BoxFuture;

const USER_FILE: &str = r#"{"client_id": "123", "client_secret": "secret", "refresh_token": "rt", "type": "authorized_user"}"#;

#[test]
fn no_caller_waits_across_an_expiry_with_a_spawner() {
    let env = AdcEnv::new().with_credentials_file(USER_FILE);
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_replies([Reply::token("first"), Reply::token("second")]);
    let found = futures::executor::block_on(
        Adc::new()
            .with_env(env.lookup())
            .with_transport(endpoint.clone())
            .with_clock(clock.clone())
            .discover(),
    )
    .unwrap();
    let queue: Arc<Mutex<Vec<BoxFuture<'static, ()>>>> = Arc::default();
    let spawned = Arc::clone(&queue);
    let credentials = found
        .credentials_builder()
        .with_spawner(move |future| spawned.lock().unwrap().push(future))
        .build()
        .unwrap();
    let run_spawned = || {
        let futures: Vec<_> = queue.lock().unwrap().drain(..).collect();
        futures.into_iter().for_each(futures::executor::block_on);
    };

    // The very first token must be fetched; with a spawner even that runs in the background.
    assert!(credentials.apply(&mut HeaderMap::new()).is_err());
    run_spawned();
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    let first_expiry = credentials.expiry().unwrap();

    // Minute by minute through the old token's expiry: every caller is served at once.
    while clock.now() < first_expiry + Duration::from_secs(600) {
        clock.advance(Duration::from_secs(60));
        for _ in 0..10 {
            let mut headers = HeaderMap::new();
            let served = credentials.before_request(&mut headers).now_or_never();
            assert!(
                matches!(served, Some(Ok(()))),
                "a caller waited at {}",
                clock.now()
            );
        }
        run_spawned();
    }
    assert_eq!(endpoint.request_count(), 2, "one refresh ahead, no more");
    assert!(credentials.expiry().unwrap() > first_expiry);
}

#[cfg(feature = "reqwest")]
#[tokio::test]
async fn inside_a_tokio_runtime_the_credentials_refresh_in_the_background() {
    let env = AdcEnv::new().with_credentials_file(USER_FILE);
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(Reply::token("ya29.first"));
    let credentials = Adc::new()
        .with_env(env.lookup())
        .with_transport(endpoint.clone())
        .credentials()
        .await
        .unwrap();
    // With a spawner, even the first fetch is started in the background by `apply`.
    assert!(credentials.apply(&mut HeaderMap::new()).is_err());
    let headers = credentials.headers().await.unwrap();
    assert_eq!(headers["authorization"], "Bearer ya29.first");
    assert_eq!(endpoint.request_count(), 1);
}
