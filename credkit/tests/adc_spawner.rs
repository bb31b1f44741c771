//! The documented route with background refresh: ADC discovery, then `credentials_builder`
//! with a spawner. Across an expiry no caller waits: stale tokens are served at once while the
//! refresh runs on the spawner, and the next token is in place before the old one expires.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use credkit_core::http::HeaderMap;
use credkit_core::{Clock, TokenState};
use credkit_refresh_token::{Adc, AdcSource};
use credkit_testing::{FakeClock, FakeTokenEndpoint, Reply};
use futures::FutureExt;
use futures::future::BoxFuture;

const USER_FILE: &str = r#"{"client_id": "123", "client_secret": "secret", "refresh_token": "rt", "type": "authorized_user"}"#;

#[test]
fn no_caller_waits_across_an_expiry_with_a_spawner() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("adc.json");
    std::fs::write(&file, USER_FILE).unwrap();
    let path = file.display().to_string();
    let adc =
        Adc::with_env(move |name| (name == "GOOGLE_APPLICATION_CREDENTIALS").then(|| path.clone()));

    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_replies([Reply::token("first"), Reply::token("second")]);
    let AdcSource::User(user) = adc.discover().unwrap() else {
        panic!("an authorized_user file was found");
    };
    let user = user.to_builder().with_clock(clock.clone()).build().unwrap();
    let queue: Arc<Mutex<Vec<BoxFuture<'static, ()>>>> = Arc::default();
    let spawned = Arc::clone(&queue);
    let credentials = AdcSource::User(user)
        .credentials_builder(endpoint.clone())
        .unwrap()
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
