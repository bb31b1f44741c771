//! Spawners: closures are spawners, and the mock checks spawning.

use std::sync::{Arc, Mutex};

use credkit_core::Spawner;
use credkit_testing::MockSpawner;
use futures::executor::block_on;
use futures::future::BoxFuture;

#[test]
fn a_closure_is_a_spawner() {
    let queued: Arc<Mutex<Vec<BoxFuture<'static, ()>>>> = Arc::default();
    let queue = Arc::clone(&queued);
    let spawner: Arc<dyn Spawner> = Arc::new(move |f| queue.lock().unwrap().push(f));
    let ran = Arc::new(Mutex::new(false));
    let flag = Arc::clone(&ran);
    spawner.spawn(Box::pin(async move { *flag.lock().unwrap() = true }));
    let future = queued.lock().unwrap().pop().unwrap();
    block_on(future);
    assert!(*ran.lock().unwrap());
}

#[test]
fn the_mock_spawner_counts_spawns() {
    let mut spawner = MockSpawner::new();
    spawner.expect_spawn().times(2).returning(block_on);
    let spawner: Arc<dyn Spawner> = Arc::new(spawner);
    spawner.spawn(Box::pin(async {}));
    spawner.spawn(Box::pin(async {}));
}
