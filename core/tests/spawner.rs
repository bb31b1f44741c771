//! Spawners: what `with_spawner` takes (a closure, `Arc<dyn Spawner>`, `Box<dyn Spawner>`, a
//! reference, an `Arc` of a concrete spawner) each runs the refresh it is handed; `spawn_fn`
//! makes a closure a spawner; the mock checks spawning.

// Setup helpers outside `#[test]` functions unwrap too: a broken setup should fail loudly.
#![allow(clippy::unwrap_used)]

mod credentials_support;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use credkit_core::http::HeaderMap;
use credkit_core::{
    AccessToken, Clock as _, Credentials, CredentialsBuilder, Spawner, TokenState, spawn_fn,
};
use credkit_testing::{FakeClock, MockSpawner};
use futures::executor::block_on;
use futures::future::BoxFuture;

use credentials_support::{HOUR, TestSource};

/// A spawner that queues futures for the test to run.
#[derive(Clone, Default)]
struct Queue(Arc<Mutex<Vec<BoxFuture<'static, ()>>>>);

impl Spawner for Queue {
    fn spawn(&self, future: BoxFuture<'static, ()>) {
        self.0.lock().unwrap().push(future);
    }
}

impl Queue {
    fn push(&self, future: BoxFuture<'static, ()>) {
        self.spawn(future);
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    fn run_all(&self) {
        let futures: Vec<_> = self.0.lock().unwrap().drain(..).collect();
        for future in futures {
            block_on(future);
        }
    }
}

/// Credentials whose token has expired, given their spawner by `with_spawner`: `apply` hands
/// the refresh to the spawner, and running what it queued makes the token fresh.
fn the_spawner_runs_the_refresh(
    with_spawner: impl FnOnce(CredentialsBuilder) -> CredentialsBuilder,
    queue: &Queue,
) {
    let clock = FakeClock::new();
    let source = TestSource::new(&clock);
    let builder = Credentials::builder(Arc::clone(&source))
        .with_clock(clock.clone())
        .with_initial_token(AccessToken::new("seed").with_lifetime(clock.now(), HOUR));
    let credentials = with_spawner(builder).build().unwrap();
    clock.advance(HOUR + Duration::from_secs(1));

    assert!(credentials.apply(&mut HeaderMap::new()).is_err(), "expired");
    assert_eq!(queue.len(), 1, "the refresh went to the spawner");
    assert_eq!(source.fetches(), 0, "and nobody else ran it");
    queue.run_all();
    assert_eq!(source.fetches(), 1);
    assert_eq!(credentials.token_state(), TokenState::Fresh);
}

#[test]
fn a_closure_goes_in_as_it_is() {
    let queue = Queue::default();
    let q = queue.clone();
    the_spawner_runs_the_refresh(|builder| builder.with_spawner(move |f| q.push(f)), &queue);
}

#[test]
fn a_closure_that_forwards_to_a_generic_spawn_function() {
    // The documented shape: `|f| { handle.spawn(f); }`, where `spawn` is generic over the
    // future, so nothing but `with_spawner` tells the closure its argument's type.
    fn generic_spawn<F: Future<Output = ()> + Send + 'static>(queue: &Queue, f: F) {
        queue.push(Box::pin(f));
    }
    let queue = Queue::default();
    let q = queue.clone();
    the_spawner_runs_the_refresh(
        |builder| {
            builder.with_spawner(move |f| {
                generic_spawn(&q, f);
            })
        },
        &queue,
    );
}

#[test]
fn an_arc_dyn_spawner_goes_in_as_it_is() {
    let queue = Queue::default();
    let shared: Arc<dyn Spawner> = Arc::new(queue.clone());
    the_spawner_runs_the_refresh(|builder| builder.with_spawner(shared), &queue);
}

#[test]
fn an_arc_dyn_spawner_of_a_closure_goes_in_as_it_is() {
    let queue = Queue::default();
    let q = queue.clone();
    let shared: Arc<dyn Spawner> = Arc::new(spawn_fn(move |f| q.push(f)));
    the_spawner_runs_the_refresh(|builder| builder.with_spawner(Arc::clone(&shared)), &queue);
}

#[test]
fn a_box_dyn_spawner_goes_in_as_it_is() {
    let queue = Queue::default();
    let boxed: Box<dyn Spawner> = Box::new(queue.clone());
    the_spawner_runs_the_refresh(|builder| builder.with_spawner(boxed), &queue);
}

#[test]
fn a_reference_to_a_spawner_goes_in_as_it_is() {
    let queue = Queue::default();
    let leaked: &'static Queue = Box::leak(Box::new(queue.clone()));
    the_spawner_runs_the_refresh(|builder| builder.with_spawner(leaked), &queue);
}

#[test]
fn an_arc_of_a_spawner_goes_in_as_it_is() {
    let queue = Queue::default();
    the_spawner_runs_the_refresh(
        |builder| builder.with_spawner(Arc::new(queue.clone())),
        &queue,
    );
}

#[test]
fn spawn_fn_makes_a_closure_a_spawner() {
    let queued: Arc<Mutex<Vec<BoxFuture<'static, ()>>>> = Arc::default();
    let queue = Arc::clone(&queued);
    let spawner: Arc<dyn Spawner> = Arc::new(spawn_fn(move |f| queue.lock().unwrap().push(f)));
    let ran = Arc::new(Mutex::new(false));
    let flag = Arc::clone(&ran);
    spawner.spawn(Box::pin(async move { *flag.lock().unwrap() = true }));
    let future = queued.lock().unwrap().pop().unwrap();
    block_on(future);
    assert!(*ran.lock().unwrap());
    assert!(format!("{:?}", spawn_fn(drop)).starts_with("SpawnFn"));
}

#[test]
fn the_mock_spawner_counts_spawns() {
    let mut spawner = MockSpawner::new();
    spawner.expect_spawn().times(2).returning(block_on);
    let spawner: Arc<dyn Spawner> = Arc::new(spawner);
    spawner.spawn(Box::pin(async {}));
    spawner.spawn(Box::pin(async {}));
}
