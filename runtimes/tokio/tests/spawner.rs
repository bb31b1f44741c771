//! `TokioSpawner` under `Credentials::apply` called from a thread outside the runtime, once the
//! token turns stale: the refresh runs on the runtime, and nothing panics; the same through an
//! `Arc<dyn Spawner>` holding one.

// The shared body unwraps outside `#[test]` functions too: a broken setup should fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, mpsc};
use std::time::Duration;

use credkit_core::http::HeaderMap;
use credkit_core::{
    AccessToken, Clock, Credentials, RefreshEvent, Spawner, StaticSource, TokenState,
};
use credkit_testing::FakeClock;
use credkit_tokio::TokioSpawner;
use tokio::runtime::Handle;

/// Credentials with the spawner `on` makes for a fresh runtime, applied from a thread outside
/// that runtime once their token is stale.
fn apply_outside_the_runtime_refreshes_ahead_on_it<S: Spawner + 'static>(
    on: impl FnOnce(Handle) -> S,
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let clock = FakeClock::new();
    let hour = Duration::from_secs(3600);
    let seed = AccessToken::new("seed").with_lifetime(clock.now(), hour);
    let next = AccessToken::new("next").with_lifetime(clock.now() + hour, hour);
    let (refreshed, wait) = mpsc::channel();
    let credentials = Credentials::builder(StaticSource::new(next))
        .with_clock(clock.clone())
        .with_initial_token(seed)
        .with_spawner(on(runtime.handle().clone()))
        .on_refresh(move |event: &RefreshEvent| {
            if matches!(event, RefreshEvent::Refreshed { .. }) {
                let _ = refreshed.send(());
            }
        })
        .build()
        .unwrap();
    clock.advance(Duration::from_secs(3400)); // stale, about 56 minutes in

    let outside = credentials.clone();
    let state = std::thread::spawn(move || {
        let mut headers = HeaderMap::new();
        outside.apply(&mut headers).unwrap()
    })
    .join()
    .expect("apply never panics because of the spawner");
    assert_eq!(state, TokenState::Stale);
    wait.recv_timeout(Duration::from_secs(30))
        .expect("the refresh ran on the runtime");
    assert_eq!(credentials.token_state(), TokenState::Fresh);
}

#[test]
fn a_tokio_spawner() {
    apply_outside_the_runtime_refreshes_ahead_on_it(TokioSpawner::from_handle);
}

#[test]
fn a_tokio_spawner_shared_as_arc_dyn_spawner() {
    apply_outside_the_runtime_refreshes_ahead_on_it(|handle| -> Arc<dyn Spawner> {
        Arc::new(TokioSpawner::from_handle(handle))
    });
}
