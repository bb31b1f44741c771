//! `RedisStorage` passes the `Storage` contract suite against a real redis-server, fencing and
//! listing included.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use credkit_storage_redis::RedisStorage;
use support::RedisServer;

fn handle(url: &str) -> RedisStorage {
    RedisStorage::builder(url).with_listing().build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_storage_keeps_the_storage_contract() {
    support::require_redis!();
    let server = RedisServer::start();
    let url = server.url();
    let names = handle(&url);
    // Each handle is a new RedisStorage on the same server, as another process's would be. A
    // lease lapses as if its holder paused past its time to live: its key is gone.
    credkit_testing::contract::storage::run_fenced(
        || handle(&url),
        |key| {
            server.command(&["DEL", &format!("{}:lease", names.record_key(&key))]);
            async {}
        },
    )
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn redis_storage_keeps_the_contract_on_a_single_threaded_runtime() {
    support::require_redis!();
    let server = RedisServer::start();
    let url = server.url();
    credkit_testing::contract::storage::run(|| handle(&url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_listing_redis_holds_no_caller_key_and_lists_nothing() {
    support::require_redis!();
    let server = RedisServer::start();
    let storage = RedisStorage::new(&server.url()).unwrap();
    credkit_core::Storage::store(&storage, "user-42", &credkit_core::CredentialRecord::new())
        .await
        .unwrap();
    assert!(
        credkit_core::Storage::list(&storage, "", None, 10)
            .await
            .unwrap()
            .is_none()
    );
    let keys = server.command(&["KEYS", "*"]);
    assert!(!format!("{keys:?}").contains("user-42"), "{keys:?}");
}
